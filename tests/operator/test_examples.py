"""The shipped examples: the Argo CD health check run by a real Lua, and manifests that the models accept."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from trodden.operator.specs import API_VERSION, KINDS_BY_NAME

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "k8s"
HEALTH = EXAMPLES / "argocd" / "health.lua"
CASES = sorted((EXAMPLES / "argocd" / "health-tests").glob("*.yaml"))


def lua_literal(value: Any) -> str:
    """JSON-like data as a Lua table constructor (what Argo CD hands the script as `obj`)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{json.dumps(str(k))}] = {lua_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "{" + ", ".join(lua_literal(v) for v in value) + "}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nil"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value)


def run_health(obj: dict[str, Any]) -> dict[str, str]:
    lua = shutil.which("lua5.4") or shutil.which("lua")
    assert lua, "lua5.4 is missing (scripts/system-deps.d/operator.txt)"
    program = (f"obj = {lua_literal(obj)}\nlocal hs = (function()\n{HEALTH.read_text()}\nend)()\n"
               "io.write(hs.status, '\\n', hs.message or '')")
    out = subprocess.run([lua, "-"], input=program, capture_output=True, text=True, check=True, timeout=30)
    status, _, message = out.stdout.partition("\n")
    return {"status": status, "message": message}


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_argocd_health_check(case: Path) -> None:
    doc = yaml.safe_load(case.read_text())
    assert run_health(doc["obj"]) == doc["expected"]


def test_there_are_health_cases_for_every_outcome() -> None:
    statuses = {yaml.safe_load(c.read_text())["expected"]["status"] for c in CASES}
    assert statuses == {"Healthy", "Degraded", "Progressing"}


def test_argocd_cm_embeds_the_tested_script() -> None:
    cm = yaml.safe_load((EXAMPLES / "argocd" / "argocd-cm.yaml").read_text())
    assert cm["data"]["resource.customizations.health.trodden.dev_ReplayRun"] == HEALTH.read_text()


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
