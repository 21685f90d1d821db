"""The operator's own HTTP server: a Flagger webhook gate and Prometheus `/metrics`.

Flagger calls a webhook with `POST {"name", "namespace", "phase", "metadata": {...}}` and passes
the check on any 2xx. `POST /flagger/replayrun` answers 200 when the ReplayRun has `Succeeded=True`,
409 when it failed, 425 while it runs (or none exists yet for the rollout), 404 when it does not
exist, 400 for a malformed call. The ReplayRun is `metadata.replayrun`, or the latest rollout run of
the TestSuite `metadata.testsuite` (its `status.lastReplayRun`); namespace `metadata.namespace`,
else the canary's.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from trodden.operator import conditions
from trodden.operator.kube import Kube
from trodden.operator.specs import API_VERSION, DNS_LABEL

from trodden.log import get_logger
from trodden.metrics import expose_metrics

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


def parse_call(payload: Any, query: dict[str, str]) -> tuple[str, str, str]:
    """(namespace, kind, name) from a Flagger payload or the query string; kind is "ReplayRun" or
    "TestSuite". ValueError when absent or malformed."""
    meta = payload.get("metadata") if isinstance(payload, dict) else None
    meta = meta if isinstance(meta, dict) else {}
    namespace = str(meta.get("namespace") or query.get("namespace")
                    or (payload.get("namespace") if isinstance(payload, dict) else "") or "")
    run = str(meta.get("replayrun") or query.get("replayrun") or "")
    suite = str(meta.get("testsuite") or query.get("testsuite") or "")
    kind, name = ("ReplayRun", run) if run else ("TestSuite", suite)
    if not name or not _NAME.match(name):
        raise ValueError("name a ReplayRun in metadata.replayrun or a TestSuite in metadata.testsuite")
    if not namespace or not _NAME.match(namespace):
        raise ValueError("give metadata.namespace (or the canary's namespace)")
    return namespace, kind, name


def make_app(kube: Kube) -> web.Application:
    async def gate(request: web.Request) -> web.Response:
        try:
            payload = await request.json() if request.can_read_body else {}
        except ValueError:
            return web.json_response({"ok": False, "reason": "body is not JSON"}, status=400)
        try:
            namespace, kind, name = parse_call(payload, dict(request.query))
        except ValueError as err:
            return web.json_response({"ok": False, "reason": str(err)}, status=400)
        if kind == "TestSuite":
            suite = await kube.get(API_VERSION, "TestSuite", name, namespace)
            if suite is None:
                return web.json_response({"ok": False, "reason": f"TestSuite {namespace}/{name} not found"},
                                         status=404)
            latest = (suite.get("status") or {}).get("lastReplayRun")
            if not latest:
                return web.json_response({"ok": False, "reason": "no rollout ReplayRun yet"}, status=425)
            name = str(latest)
        run = await kube.get(API_VERSION, "ReplayRun", name, namespace)
        code, body = gate_response(run, namespace, name)
        log.info("flagger gate", namespace=namespace, replayrun=name, status=code)
        return web.json_response(body, status=code)

    app = web.Application()
    app.router.add_post("/flagger/replayrun", gate)
    expose_metrics(app)
    return app


async def start(kube: Kube, port: int, host: str = "0.0.0.0") -> web.AppRunner:
    runner = web.AppRunner(make_app(kube), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
