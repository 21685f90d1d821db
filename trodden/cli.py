"""The `trodden` command. Subcommands live with their components and are imported on first use,
so `trodden --help` and short commands start fast."""

from __future__ import annotations

import importlib
from typing import Any

import click

from trodden import __version__
from trodden.cliutil import guarded
from trodden.log import configure_logging

# name -> "module:attribute"; each component owns its commands.
COMMANDS: dict[str, str] = {
    "demo": "trodden.demo:demo",
    "collect": "trodden.collector.cli:collect",
    "ingest": "trodden.collector.cli:ingest",
    "select": "trodden.synthesis.cli:select",
    "generate": "trodden.synthesis.cli:generate",
    "export": "trodden.synthesis.cli:export",
    "replay": "trodden.replay.cli:replay",
    "crds": "trodden.operator.cli:crds",
    "operator": "trodden.operator.cli:operator",
    "gate": "trodden.operator.gate:gate",
    "schema": "trodden.schemas:schema",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return guarded(command)  # the exit-code contract, for every command in one place


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="trodden")
@click.option(
    "--log-format",
    type=click.Choice(["console", "json"]),
    default=None,
    help="Log format (default: json in a cluster, console elsewhere).",
)
@click.option("--log-level", default=None, help="debug, info, warning, error.")
def main(log_format: str | None, log_level: str | None) -> None:
    """Trodden: real user sessions become a regression suite, replayed against every deployment."""
    configure_logging(log_format, log_level)


def entrypoint(*args: Any) -> None:  # pragma: no cover - console script shim
    main(*args)
