"""The published JSON Schemas under docs/ match the models (regenerate with `make schemas`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trodden.schemas import schema_for

DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.mark.parametrize(("name", "file"), [("events", "event-model.schema.json"), ("suite", "suite-ir.schema.json")])
def test_published_schema_matches_models(name: str, file: str) -> None:
    committed = json.loads((DOCS / file).read_text())
    assert committed == schema_for(name), f"docs/{file} is stale: run `make schemas`"
