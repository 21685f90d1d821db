"""`trodden schema events|suite`: the published JSON Schemas (committed under docs/)."""

from __future__ import annotations

from typing import Any

import click

from trodden.cliutil import print_json


def suite_json_schema() -> dict[str, Any]:
    from trodden.models.suite import Suite

    return Suite.model_json_schema()


def schema_for(name: str) -> dict[str, Any]:
    from trodden.models.events import event_json_schema

    return event_json_schema() if name == "events" else suite_json_schema()


@click.command()
@click.argument("name", type=click.Choice(["events", "suite"]))
def schema(name: str) -> None:
    """Print the JSON Schema of the event model or of the suite IR."""
    print_json(schema_for(name))
