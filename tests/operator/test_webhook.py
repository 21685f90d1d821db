"""The Flagger gate's decisions (the HTTP path against a real API server is in tests/e2e)."""

from __future__ import annotations

from typing import Any

import pytest

from trodden.operator.builders import Rollout
from trodden.operator.reconcile import rollout_finished
from trodden.operator.webhook import current_rollout_run, gate_response, parse_call


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


def _rollout_run(name: str, template: str, revision: str, created: str) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "creationTimestamp": created,
            "labels": {"trodden.dev/template-hash": template, "trodden.dev/rollout-revision": revision},
        }
    }


def test_a_verdict_is_only_served_for_the_rollout_in_progress() -> None:
    old = _rollout_run("suite-rollout-aaaa-1", "aaaa", "2", "2026-01-01T10:00:00Z")
    assert current_rollout_run([old], Rollout("bbbb", "3")) is None  # the previous revision's run
    new = _rollout_run("suite-rollout-bbbb-2", "bbbb", "3", "2026-01-01T10:05:00Z")
    assert current_rollout_run([old, new], Rollout("bbbb", "3")) is new
    # Rolled back to aaaa (revision 4): its old run is about revision 2, not this rollout.
    assert current_rollout_run([old, new], Rollout("aaaa", "4")) is None
    rerun = _rollout_run("suite-rollout-aaaa-3", "aaaa", "4", "2026-01-01T10:09:00Z")
    assert current_rollout_run([rerun, old, new], Rollout("aaaa", "4")) is rerun


def _deployment(replicas: int, available: int, updated: int | None = None) -> dict[str, Any]:
    updated = available if updated is None else updated
    return {
        "metadata": {"generation": 3},
        "spec": {"replicas": replicas},
        "status": {
            "observedGeneration": 3,
            "replicas": updated,
            "updatedReplicas": updated,
            "availableReplicas": available,
        },
    }


def test_a_rollout_at_zero_replicas_waits() -> None:
    assert not rollout_finished(_deployment(0, 0))  # a canary scaled to zero: nothing to replay against
    assert not rollout_finished(_deployment(2, 1))
    assert not rollout_finished({**_deployment(1, 1), "metadata": {"generation": 4}})  # not observed yet
    assert rollout_finished(_deployment(2, 2))


def test_the_rollback_hook_answers_2xx_only_on_regressions() -> None:
    from trodden.operator.webhook import rollback_response

    assert rollback_response(409, {"ok": False})[0] == 200  # regressions: roll back now
    assert rollback_response(200, {"ok": True}) == (
        412,
        {"ok": False, "rollback": False, "reason": "the replay passed: nothing to roll back"},
    )
    for code in (425, 404, 400):  # running, missing, malformed: no rollback (Flagger keeps analysing)
        assert rollback_response(code, {})[0] == code


def test_caller_token_from_header_metadata_or_query() -> None:
    from trodden.operator.webhook import caller_token

    assert caller_token({}, {}, "Bearer abc") == "abc"
    assert caller_token({"metadata": {"token": "m"}}, {"token": "q"}, None) == "m"
    assert caller_token({}, {"token": "q"}, "Basic xyz") == "q"
    assert caller_token([], {}, None) == ""


async def test_the_gate_refuses_callers_without_the_namespaces_token() -> None:
    """Over real HTTP: no token 401, another namespace's 403, no database 503; nothing is read
    from the API before the caller is known (the Kube here would fail any call)."""
    import aiohttp
    from aiohttp import web

    from trodden.operator.webhook import make_app

    class NoApi:
        async def get(self, *args: Any) -> None:
            raise AssertionError("read the API for an unauthenticated call")

    async def authorize(namespace: str, token: str) -> bool:
        return (namespace, token) == ("prod", "prod-token")

    body = {"name": "shop", "namespace": "prod", "metadata": {"replayrun": "rr-1"}}
    for app, token, expected in (
        (make_app(NoApi(), authorize), None, 401),  # type: ignore[arg-type]
        (make_app(NoApi(), authorize), "staging-token", 403),  # type: ignore[arg-type]
        (make_app(NoApi()), "prod-token", 503),
    ):  # type: ignore[arg-type]
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            call = {**body, "metadata": {**body["metadata"], **({"token": token} if token else {})}}
            for path in ("replayrun", "rollback"):  # the rollback hook is refused alike (never a 2xx)
                async with (
                    aiohttp.ClientSession() as http,
                    http.post(f"http://127.0.0.1:{port}/flagger/{path}", json=call) as resp,
                ):
                    assert resp.status == expected, (path, await resp.text())
        finally:
            await runner.cleanup()
