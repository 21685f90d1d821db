"""The committed CRDs are what the models generate, and they are structural and strict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from trodden.operator import crdgen
from trodden.operator.cli import crds as crds_command
from trodden.operator.specs import KINDS

ROOT = Path(__file__).resolve().parents[2]


def test_committed_crds_match_the_models() -> None:
    stale = crdgen.drift(ROOT / "crds", ROOT / "charts" / "trodden" / "crds")
    assert stale == [], f"run `trodden crds`: {stale}"


def test_check_flag_fails_on_drift(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(crds_command, ["-o", str(tmp_path)]).exit_code == 0
    assert runner.invoke(crds_command, ["-o", str(tmp_path), "--check"]).exit_code == 0
    victim = next(tmp_path.glob("replayruns*.yaml"))
    victim.write_text(victim.read_text().replace("maxLength: 63", "maxLength: 64", 1))
    result = runner.invoke(crds_command, ["-o", str(tmp_path), "--check"])
    assert result.exit_code == 1
    assert "replayruns" in result.output


def _walk(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    out = [(path, node)]
    for name, sub in (node.get("properties") or {}).items():
        out += _walk(sub, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        out += _walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        out += _walk(node["additionalProperties"], f"{path}{{}}")
    return out


def _schema(plural: str) -> dict[str, Any]:
    doc = yaml.safe_load((ROOT / "crds" / f"{plural}.trodden.dev.yaml").read_text())
    schema: dict[str, Any] = doc["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def test_schemas_are_structural_without_preserve_unknown_fields() -> None:
    for kind in KINDS:
        for path, node in _walk(_schema(kind.plural)):
            assert "type" in node, f"{kind.kind}{path} has no type"
            assert "x-kubernetes-preserve-unknown-fields" not in node, f"{kind.kind}{path}"
            assert not ({"anyOf", "oneOf", "allOf", "$ref", "title"} & set(node)), f"{kind.kind}{path}: {node}"
            assert node.get("additionalProperties") is not False
            for bound in ("exclusiveMinimum", "exclusiveMaximum"):  # OpenAPI v3.0: a boolean, never a number
                assert isinstance(node.get(bound, True), bool), f"{kind.kind}{path}: {bound} {node[bound]}"
            for req in node.get("required", []):
                assert "default" not in node["properties"][req], f"{kind.kind}{path}.{req} required with default"


def test_replayrun_spec_is_immutable_and_rules_are_attached() -> None:
    spec = _schema("replayruns")["properties"]["spec"]
    rules = [r["rule"] for r in spec["x-kubernetes-validations"]]
    assert "self == oldSelf" in rules
    target_rules = [r["rule"] for r in spec["properties"]["target"]["x-kubernetes-validations"]]
    assert target_rules == ["has(self.url) != has(self.service)"]
    strategies = _schema("sessionselectors")["properties"]["spec"]["properties"]["strategies"]
    assert any("event" in r["rule"] for r in strategies["items"]["x-kubernetes-validations"])
    assert strategies["minItems"] == 1


def test_defaults_short_names_categories_and_columns() -> None:
    rum = yaml.safe_load((ROOT / "crds" / "rumsources.trodden.dev.yaml").read_text())
    names = rum["spec"]["names"]
    assert names["categories"] == ["trodden"] and "rum" in names["shortNames"]
    version = rum["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    assert [c["name"] for c in version["additionalPrinterColumns"]] == ["Endpoint", "Sessions", "Ready", "Age"]
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert spec["properties"]["replicas"]["default"] == 1
    assert spec["properties"]["sanitization"]["default"] == {"freeTextMinUsers": 5}
    rr = yaml.safe_load((ROOT / "crds" / "replayruns.trodden.dev.yaml").read_text())
    cols = [c["name"] for c in rr["spec"]["versions"][0]["additionalPrinterColumns"]]
    assert cols == ["Suite", "Target", "Passed", "Failed", "Flaky", "Succeeded", "Age"]
    conds = rr["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]["conditions"]
    assert conds["x-kubernetes-list-type"] == "map" and conds["x-kubernetes-list-map-keys"] == ["type"]


def test_optional_union_that_is_not_optional_is_refused() -> None:
    import pytest

    with pytest.raises(ValueError, match="Optional"):
        crdgen.structural({"anyOf": [{"type": "string"}, {"type": "integer"}]}, {})
