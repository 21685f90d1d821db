"""The shipped examples: the Argo CD health check run under Argo CD's own Lua runtime, and manifests
that the models accept."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from trodden.operator.specs import API_VERSION, KINDS_BY_NAME

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "k8s"
HEALTH = EXAMPLES / "argocd" / "health.lua"
CASES = sorted((EXAMPLES / "argocd" / "health-tests").glob("*.yaml"))
sys.path.insert(0, str(ROOT / "tests" / "e2e" / "cluster"))


def argocd_lua() -> Path:
    """Argo CD's Lua runtime (gopher-lua with Argo CD's libraries), built from its Go module, cached."""
    import gobins

    return gobins.ensure("argocd-lua")["argocd-lua"]


def run_health(script: Path, *objects: dict[str, Any]) -> list[dict[str, str]]:
    """The script's verdict on each object, the way Argo CD's controller computes it."""
    out = subprocess.run(
        [str(argocd_lua()), str(script)],
        input=json.dumps(list(objects)),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    results: list[dict[str, str]] = json.loads(out.stdout)
    return results


@cache
def verdicts() -> dict[str, dict[str, str]]:
    """Every case in one run of the runtime."""
    docs = [yaml.safe_load(case.read_text()) for case in CASES]
    return dict(zip((c.stem for c in CASES), run_health(HEALTH, *(d["obj"] for d in docs)), strict=True))


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_argocd_health_check(case: Path) -> None:
    assert verdicts()[case.stem] == yaml.safe_load(case.read_text())["expected"]


def test_there_are_health_cases_for_every_kind_and_outcome() -> None:
    seen = {(d["obj"]["kind"], d["expected"]["status"]) for d in map(yaml.safe_load, map(Path.read_text, CASES))}
    for kind in KINDS_BY_NAME:
        assert {(kind, "Healthy"), (kind, "Progressing")} <= seen, kind
        assert (kind, "Degraded") in seen, kind
    assert {status for _, status in seen} == {"Healthy", "Degraded", "Progressing", "Suspended"}


def test_the_runtime_is_argo_cds_not_a_full_lua(tmp_path: Path) -> None:
    """Argo CD opens no string library for argocd-cm scripts: what a full Lua accepts fails there."""
    script = tmp_path / "health.lua"
    script.write_text('return {status = string.format("%s", "Healthy")}')
    [result] = run_health(script, {"kind": "ReplayRun"})
    assert "format" in result.get("error", ""), result
    script.write_text('return {status = "Fine"}')
    assert run_health(script, {}) == [{"status": "Unknown", "message": "Lua returned an invalid health status"}]


def test_argocd_cm_embeds_the_tested_script_for_every_kind() -> None:
    cm = yaml.safe_load((EXAMPLES / "argocd" / "argocd-cm.yaml").read_text())
    keys = {f"resource.customizations.health.trodden.dev_{kind}" for kind in KINDS_BY_NAME}
    assert set(cm["data"]) == keys
    assert all(cm["data"][key] == HEALTH.read_text() for key in keys)


def test_example_manifests_match_the_spec_models() -> None:
    seen = set()
    for path in sorted(EXAMPLES.rglob("*.yaml")):
        if "health-tests" in path.parts:
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("apiVersion") == API_VERSION:
                KINDS_BY_NAME[doc["kind"]].spec.model_validate(doc["spec"])
                seen.add(doc["kind"])
    assert seen == set(KINDS_BY_NAME)
