"""The Flagger gate's decisions (the HTTP path against a real API server is in tests/e2e)."""

from __future__ import annotations

from typing import Any

import pytest
from trodden.operator.webhook import gate_response, parse_call


def _run(status: str | None, **counts: int) -> dict[str, Any]:
    conds = [] if status is None else [{"type": "Succeeded", "status": status, "reason": "R", "message": "m"}]
    return {"status": {"conditions": conds, **counts}}


def test_gate_answers() -> None:
    assert gate_response(None, "ns", "x")[0] == 404
    assert gate_response(_run(None), "ns", "x")[0] == 425
    assert gate_response(_run("Unknown"), "ns", "x")[0] == 425
    code, body = gate_response(_run("True", passed=3, failed=0), "ns", "x")
    assert code == 200 and body["ok"] and body["passed"] == 3
    code, body = gate_response(_run("False", failed=2), "ns", "x")
    assert code == 409 and not body["ok"] and body["failed"] == 2


def test_parse_call() -> None:
    flagger = {"name": "shop", "namespace": "prod", "phase": "Progressing", "metadata": {"replayrun": "rr-1"}}
    assert parse_call(flagger, {}) == ("prod", "ReplayRun", "rr-1")
    assert parse_call({}, {"replayrun": "rr-2", "namespace": "dev"}) == ("dev", "ReplayRun", "rr-2")
    by_suite = {"name": "shop", "namespace": "prod", "metadata": {"testsuite": "checkout"}}
    assert parse_call(by_suite, {}) == ("prod", "TestSuite", "checkout")
    for bad in ({}, {"metadata": {"replayrun": "Bad_Name"}, "namespace": "x"}, {"metadata": {"replayrun": "ok"}}):
        with pytest.raises(ValueError):
            parse_call(bad, {})
