"""The operator's own HTTP server: a Flagger webhook gate and Prometheus `/metrics`.

Flagger calls a webhook with `POST {"name", "namespace", "phase", "metadata": {...}}` and passes
the check on any 2xx. `POST /flagger/replayrun` answers 200 when the ReplayRun has `Succeeded=True`,
409 when it failed, 425 while it runs (or none exists yet for the rollout), 404 when it does not
exist, 400 for a malformed call. The ReplayRun is `metadata.replayrun`, or, with `metadata.testsuite`,
that TestSuite's run *for the rollout in progress* of its Deployment: a run carries its pod template's
hash and the deployment controller's revision number (labels `trodden.dev/template-hash` and
`trodden.dev/rollout-revision`), and a verdict about another rollout (the previous revision's, or an
earlier rollout of a template rolled back to) is never served for this one: 425 until this rollout's
run exists and has finished. Namespace `metadata.namespace`, else the canary's.

`POST /flagger/rollback` takes the same call for a Flagger `rollback` hook, which rolls the canary
back at once on a 2xx: 200 when the rollout's replay found regressions, 412 when it passed, and the
gate's 425/404/400 otherwise, so a regression does not wait for the analysis' failure threshold.

Callers authenticate per namespace: the token in that namespace's Secret `trodden-webhook-token` (key
`token`), as `metadata.token`, `?token=` or `Authorization: Bearer`. 401 without one, 403 when it is
not that namespace's: holding one namespace's token tells nothing about another's runs.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from trodden.log import get_logger
from trodden.metrics import expose_metrics
from trodden.operator import builders, conditions
from trodden.operator.kube import Kube
from trodden.operator.specs import API_VERSION, DNS_LABEL

log = get_logger(__name__)
_NAME = re.compile(DNS_LABEL)


def gate_response(run: dict[str, Any] | None, namespace: str, name: str) -> tuple[int, dict[str, Any]]:
    """Pure: (HTTP status, JSON body) for a ReplayRun as read from the API server."""
    if run is None:
        return 404, {"ok": False, "reason": f"ReplayRun {namespace}/{name} not found"}
    status = run.get("status") or {}
    cond = conditions.find(status.get("conditions") or [], "Succeeded")
    counts = {k: status.get(k) for k in ("passed", "failed", "flaky")}
    if cond is None or cond.get("status") == "Unknown":
        return 425, {"ok": False, "reason": f"ReplayRun {namespace}/{name} has not finished", **counts}
    if cond.get("status") == "True":
        return 200, {"ok": True, "reason": cond.get("message", ""), **counts}
    return 409, {"ok": False, "reason": f"{cond.get('reason')}: {cond.get('message', '')}", **counts}


def current_rollout_run(runs: list[dict[str, Any]], rollout: builders.Rollout) -> dict[str, Any] | None:
    """Pure: the suite's run made for this very rollout (template and revision), None when there is none.

    A run of the same template from an earlier rollout (before a rollback to it, or before the same
    template was rolled out again) carries another revision: its verdict is not this rollout's."""
    wanted = rollout.labels()
    mine = [r for r in runs if wanted.items() <= (((r.get("metadata") or {}).get("labels") or {}).items())]
    mine.sort(key=lambda r: (r["metadata"].get("creationTimestamp") or "", r["metadata"].get("name") or ""))
    return mine[-1] if mine else None


async def suite_gate(kube: Kube, namespace: str, suite_name: str) -> tuple[int, dict[str, Any]]:
    """The gate for "the rollout in progress of TestSuite X": its Deployment's current template's run."""
    suite = await kube.get(API_VERSION, "TestSuite", suite_name, namespace)
    if suite is None:
        return 404, {"ok": False, "reason": f"TestSuite {namespace}/{suite_name} not found"}
    deployment_name = ((suite.get("spec") or {}).get("replayOn") or {}).get("deployment")
    if not deployment_name:
        return 400, {
            "ok": False,
            "reason": f"TestSuite {namespace}/{suite_name} has no replayOn: name the"
            " ReplayRun in metadata.replayrun instead",
        }
    deployment = await kube.get("apps/v1", "Deployment", deployment_name, namespace)
    if deployment is None:
        return 404, {"ok": False, "reason": f"Deployment {namespace}/{deployment_name} not found"}
    rollout = builders.Rollout.of(deployment)
    runs = await kube.list(API_VERSION, "ReplayRun", namespace, builders.rollout_runs_selector(suite_name, rollout))
    run = current_rollout_run(runs, rollout)
    about = {"template": rollout.template_hash, "revision": rollout.revision}
    if run is None:
        return 425, {
            "ok": False,
            **about,
            "reason": f"no replay yet of {deployment_name}'s rollout in progress"
            f" (revision {rollout.revision}, template {rollout.template_hash})",
        }
    name = run["metadata"]["name"]
    code, body = gate_response(run, namespace, name)
    return code, {**body, "replayrun": name, **about}


def parse_call(payload: Any, query: dict[str, str]) -> tuple[str, str, str]:
    """(namespace, kind, name) from a Flagger payload or the query string; kind is "ReplayRun" or
    "TestSuite". ValueError when absent or malformed."""
    meta = payload.get("metadata") if isinstance(payload, dict) else None
    meta = meta if isinstance(meta, dict) else {}
    namespace = str(
        meta.get("namespace")
        or query.get("namespace")
        or (payload.get("namespace") if isinstance(payload, dict) else "")
        or ""
    )
    run = str(meta.get("replayrun") or query.get("replayrun") or "")
    suite = str(meta.get("testsuite") or query.get("testsuite") or "")
    kind, name = ("ReplayRun", run) if run else ("TestSuite", suite)
    if not name or not _NAME.match(name):
        raise ValueError("name a ReplayRun in metadata.replayrun or a TestSuite in metadata.testsuite")
    if not namespace or not _NAME.match(namespace):
        raise ValueError("give metadata.namespace (or the canary's namespace)")
    return namespace, kind, name


Authorize = Callable[[str, str], Awaitable[bool]]  # (namespace, token) → the token is that namespace's


def caller_token(payload: Any, query: dict[str, str], authorization: str | None) -> str:
    """The token a call carries: `Authorization: Bearer`, else `metadata.token`, else `?token=`."""
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    meta = payload.get("metadata") if isinstance(payload, dict) else None
    return str((meta if isinstance(meta, dict) else {}).get("token") or query.get("token") or "")


def rollback_response(code: int, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Pure: the gate's answer turned into a Flagger `rollback` hook's: 2xx (roll back now) only when
    the replay of the rollout found regressions; 412 when it passed, else the gate's own code."""
    if code == 409:
        return 200, {**body, "rollback": True}
    if code == 200:
        return 412, {**body, "ok": False, "rollback": False, "reason": "the replay passed: nothing to roll back"}
    return code, {**body, "rollback": False}


def make_app(kube: Kube, authorize: Authorize | None = None) -> web.Application:
    """The webhook and /metrics. Without `authorize` (no database: no tokens) every gate call is 503."""

    async def answer(request: web.Request) -> tuple[int, dict[str, Any], dict[str, Any]]:
        try:
            payload = await request.json() if request.can_read_body else {}
        except ValueError:
            return 400, {"ok": False, "reason": "body is not JSON"}, {}
        try:
            namespace, kind, name = parse_call(payload, dict(request.query))
        except ValueError as err:
            return 400, {"ok": False, "reason": str(err)}, {}
        refused = await _refusal(
            namespace, caller_token(payload, dict(request.query), request.headers.get("Authorization"))
        )
        if refused is not None:
            code, body = refused
            return code, body, {"namespace": namespace, "kind": kind, "name": name}
        if kind == "TestSuite":
            code, body = await suite_gate(kube, namespace, name)
        else:
            code, body = gate_response(await kube.get(API_VERSION, "ReplayRun", name, namespace), namespace, name)
        context = {
            "namespace": namespace,
            "kind": kind,
            "name": name,
            "replayrun": body.get("replayrun", name),
            "phase": payload.get("phase") if isinstance(payload, dict) else None,
        }
        return code, body, context

    async def gate(request: web.Request) -> web.Response:
        code, body, context = await answer(request)
        log.info("flagger gate", status=code, **context)
        return web.json_response(body, status=code)

    async def rollback(request: web.Request) -> web.Response:
        code, body, context = await answer(request)
        code, body = rollback_response(code, body)
        log.info("flagger rollback hook", status=code, **context)
        return web.json_response(body, status=code)

    async def _refusal(namespace: str, token: str) -> tuple[int, dict[str, Any]] | None:
        if authorize is None:
            return 503, {"ok": False, "reason": "the webhook needs the operator's database (tokens)"}
        if not token:
            return 401, {
                "ok": False,
                "reason": "no token: give the one in Secret trodden-webhook-token of"
                f" namespace {namespace} as metadata.token",
            }
        if not await authorize(namespace, token):
            log.warning("flagger gate: token refused", namespace=namespace)
            return 403, {"ok": False, "reason": f"the token is not namespace {namespace}'s"}
        return None

    app = web.Application()
    app.router.add_post("/flagger/replayrun", gate)
    app.router.add_post("/flagger/rollback", rollback)
    expose_metrics(app)
    return app


async def start(kube: Kube, port: int, host: str = "0.0.0.0", authorize: Authorize | None = None) -> web.AppRunner:
    runner = web.AppRunner(make_app(kube, authorize), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
