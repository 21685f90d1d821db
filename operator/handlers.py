"""kopf registrations, and nothing else: each handler hands the body to `reconcile`.

Importing this module registers the handlers in kopf's default registry (`trodden operator` does).
Handlers return None, so kopf stores no handler results in `.status`; its progress and diff-base
bookkeeping goes to `trodden.dev/*` annotations (see `configure`), so `.status` is only ours.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import kopf
from pydantic import ValidationError

from trodden.operator import reconcile
from trodden.operator.reconcile import Context
from trodden.operator.specs import API_VERSION, GROUP, VERSION

Step = Callable[[Context, Any], Awaitable[None]]
STEPS: dict[str, Step] = {
    "RumSource": reconcile.rumsource,
    "SessionSelector": reconcile.sessionselector,
    "TestSuite": reconcile.testsuite,
    "ReplayRun": reconcile.replayrun,
}
RESYNC_SECONDS = {"RumSource": 30.0, "SessionSelector": 15.0, "TestSuite": 10.0, "ReplayRun": 5.0}


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.posting.level = logging.WARNING  # Kubernetes Events only for problems
    settings.watching.server_timeout = 300
    settings.batching.error_delays = [1, 2, 5, 10, 30]
    settings.execution.max_workers = 8


async def _run(kind: str, body: Any, memo: Any) -> None:
    async def step() -> None:
        try:
            await STEPS[kind](memo.ctx, body)
        except ValidationError as err:
            # The CRD schema should have refused this; retrying cannot fix it.
            raise kopf.PermanentError(f"invalid {kind} spec: {err.errors()[:3]}") from err

    await reconcile.timed(kind, body, step)


def _register(kind: str, plural: str) -> None:
    async def on_change(body: Any, memo: Any, **_: Any) -> None:
        await _run(kind, body, memo)

    async def on_timer(body: Any, memo: Any, **_: Any) -> None:
        await _run(kind, body, memo)

    on_change.__name__ = f"reconcile_{plural}"
    on_timer.__name__ = f"resync_{plural}"
    handler = kopf.on.resume(GROUP, VERSION, plural, backoff=5)(on_change)
    handler = kopf.on.create(GROUP, VERSION, plural, backoff=5)(handler)
    kopf.on.update(GROUP, VERSION, plural, backoff=5, field="spec")(handler)
    when = _not_finished if kind == "ReplayRun" else None
    kopf.timer(GROUP, VERSION, plural, interval=RESYNC_SECONDS[kind], initial_delay=RESYNC_SECONDS[kind],
               when=when)(on_timer)


def _not_finished(body: Any, **_: Any) -> bool:
    meta = body.get("metadata") or {}
    return not reconcile.is_finished(dict(body.get("status") or {}), int(meta.get("generation") or 1))


for _kind, _plural in (("RumSource", "rumsources"), ("SessionSelector", "sessionselectors"),
                       ("TestSuite", "testsuites"), ("ReplayRun", "replayruns")):
    _register(_kind, _plural)


@kopf.on.event("batch", "v1", "jobs", labels={"app.kubernetes.io/managed-by": "trodden-operator"})
async def job_changed(body: Any, memo: Any, **_: Any) -> None:
    """A Job of ours moved: reconcile its owner now rather than at the next resync."""
    owner = reconcile.owner_of_job(dict(body))
    if owner is None:
        return
    kind, name = owner
    found = await memo.ctx.kube.get(API_VERSION, kind, name, body["metadata"]["namespace"])
    if found is not None and kind in STEPS:
        await _run(kind, found, memo)
