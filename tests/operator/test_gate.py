"""`trodden gate`'s own decisions: what manifest it accepts, how it reads a verdict (the whole
command against a real API server and operator: tests/e2e/test_gates.py; in pods under Argo
Rollouts: tests/e2e/test_loop_in_pods.py)."""

from __future__ import annotations

from typing import Any

import pytest

from trodden.cliutil import InputError
from trodden.operator.gate import explain, parse_manifest, verdict

GOOD = """
apiVersion: trodden.dev/v1alpha1
kind: ReplayRun
metadata: {generateName: shop-canary-, labels: {trodden.dev/template-hash: abc}}
spec: {suite: shop, target: {service: {name: shop-canary, port: 8080}}}
"""


def test_a_good_manifest_gets_the_namespace_it_was_given() -> None:
    doc = parse_manifest(GOOD, "prod")
    assert doc["metadata"]["namespace"] == "prod" and doc["metadata"]["generateName"] == "shop-canary-"
    assert (
        parse_manifest(GOOD.replace("generateName: shop-canary-", "generateName: x-, namespace: own"), "prod")[
            "metadata"
        ]["namespace"]
        == "own"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: [", "not YAML"),
        ("- a list", "expected a ReplayRun"),
        (GOOD.replace("kind: ReplayRun", "kind: TestSuite"), "got TestSuite"),
        (GOOD.replace("generateName: shop-canary-, ", ""), "metadata.generateName"),
        (GOOD.replace("suite: shop", "suite: Bad_Suite"), "spec.suite"),
        (GOOD.replace("port: 8080", "port: 0"), "spec.target.service.port"),
    ],
)
def test_bad_manifests_are_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_manifest(text, "prod")


def _run(*conditions: tuple[str, str], **status: Any) -> dict[str, Any]:
    return {
        "status": {
            **status,
            "conditions": [{"type": t, "status": s, "reason": "R", "message": "m"} for t, s in conditions],
        }
    }


def test_only_a_true_verdict_ends_the_wait() -> None:
    assert verdict(_run()) is None
    assert verdict(_run(("Succeeded", "Unknown"), ("Failed", "False"))) is None
    assert verdict(_run(("Succeeded", "False"))) is None  # an error being retried: no verdict yet
    assert verdict(_run(("Succeeded", "True"), ("Failed", "False"))) == "Succeeded"
    assert verdict(_run(("Succeeded", "False"), ("Failed", "True"))) == "Failed"


def test_the_failure_names_the_regressions() -> None:
    run = _run(
        ("Failed", "True"),
        passed=3,
        failed=1,
        flaky=0,
        total=4,
        phase="Failed",
        regressions=[{"test": "t-login", "step": "s2", "assertion": "status", "expected": "200", "actual": "403"}],
    )
    lines = explain(run, "Failed")
    assert lines[0] == "Failed: R: m (Failed (3 passed, 1 failed, 0 flaky of 4))"
    assert "t-login" in lines[1] and "'403'" in lines[1]
