"""kopf registrations, and nothing else: each handler hands the body to `reconcile`.

Importing this module registers the handlers in kopf's default registry (`trodden operator` does).
Handlers return None, so kopf stores no handler results in `.status`; its progress bookkeeping
(a failing handler's retries) goes to `trodden.dev/*` annotations (see `configure`), so `.status`
is only ours. Its diff base (the last handled spec) stays in this process (`MemoryDiffBase`).

- Handler ids are given explicitly (`reconcile`, and `reconcile/spec` for spec updates): kopf turns
  them into annotation keys (`trodden.dev/reconcile`, `trodden.dev/reconcile.spec`) where it keeps
  a failing handler's retry count and next attempt. An id derived from a nested function's
  qualified name (`_register.<locals>.on_change`) is not a valid annotation key, so that state was
  never saved and failed handlers were not retried.
- No handler needs a finalizer: no timers or daemons (periodic work is `resync`'s loop), no
  deletion handlers (owned objects go by owner references, stored data by `tenancy`'s sweep).
- Jobs and collector Deployments are watched with a server-side label selector: only ours.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

import kopf
from kopf._cogs.structs import dicts
from pydantic import ValidationError

from trodden.log import get_logger
from trodden.operator import reconcile
from trodden.operator.builders import MANAGED_BY
from trodden.operator.reconcile import Context, Step
from trodden.operator.resync import PERIOD
from trodden.operator.specs import API_VERSION, GROUP, KINDS, VERSION, TestSuiteSpec

log = get_logger(__name__)

STEPS: dict[str, Step] = {
    "RumSource": reconcile.rumsource,
    "SessionSelector": reconcile.sessionselector,
    "TestSuite": reconcile.testsuite,
    "ReplayRun": reconcile.replayrun,
}
HANDLER_ID = "reconcile"
OURS = {"app.kubernetes.io/managed-by": MANAGED_BY}


class MemoryDiffBase(kopf.DiffBaseStorage):
    """kopf's diff base (the essence of the object as last handled), kept in this process by uid.

    kopf compares it with each event's object to tell a creation, a spec update and a no-op apart.
    In an annotation (kopf's default) it cost one PATCH of every object after every handled change,
    and one more watch event to process: a third of the API writes of a burst of ReplayRuns. Kept
    here, a restarted operator or a new leader has none, so kopf sees every object as created and
    runs the same handler it runs on resume: a reconcile, which is idempotent. Entries of deleted
    objects are dropped by `forget_deleted`."""

    def __init__(self) -> None:
        super().__init__()
        self.essences: dict[str, kopf.BodyEssence] = {}

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        return self.essences.get(str(body.metadata.uid))

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        self.essences[str(body.metadata.uid)] = essence

    def forget(self, uid: str) -> None:
        self.essences.pop(uid, None)


DIFF_BASE = MemoryDiffBase()


class ProgressAnnotations(kopf.AnnotationsProgressStorage):
    """kopf's progress in `trodden.dev/*` annotations, written only while a handler is retried.

    kopf stores each handler's progress, then purges it in the same patch once all succeeded; the
    `trodden.dev/kopf-managed` marker it adds on storing stayed in that patch, so every first
    success still PATCHed the object for the marker alone. Here the marker goes with the progress:
    it is dropped again when nothing of ours is left to write."""

    def purge(self, *, key: Any, body: kopf.Body, patch: kopf.Patch) -> None:
        super().purge(key=key, body=body, patch=patch)
        marker = ["metadata", "annotations", f"{self.prefix}/kopf-managed"]
        written = (patch.get("metadata") or {}).get("annotations") or {}
        if (
            marker[-1] in written
            and marker[-1] not in body.metadata.annotations
            and not any(k.startswith(f"{self.prefix}/") and k != marker[-1] for k in written)
        ):
            dicts.remove(patch, marker)


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.persistence.progress_storage = ProgressAnnotations(prefix=GROUP)
    DIFF_BASE.essences.clear()  # a fresh start (or a new leader) handles every object as new
    settings.persistence.diffbase_storage = DIFF_BASE
    settings.posting.level = logging.WARNING  # Kubernetes Events only for problems
    settings.watching.server_timeout = 300
    settings.batching.error_delays = [1, 2, 5, 10, 30]
    settings.execution.max_workers = 8
    selector = ",".join(f"{k}={v}" for k, v in OURS.items())
    settings.watching.label_selectors["batch", "jobs"] = selector
    settings.watching.label_selectors["apps", "deployments"] = selector


async def run(
    ctx: Context, kind: str, body: Any, *, retry: int = 0, seen_at: float | None = None, periodic: bool = False
) -> None:
    """One reconcile, serialised with any other of the same object. A failure is written into the
    status (`ReconcileError` and the message) and raised again as kopf's TemporaryError with an
    exponential backoff, so kopf retries it and keeps the retry count in the `trodden.dev/reconcile*`
    annotation; an invalid spec is permanent (`InvalidSpec`)."""

    async def step(ctx: Context, fresh: Any) -> None:
        async def once() -> None:
            await STEPS[kind](ctx, fresh)

        try:
            await reconcile.timed(kind, fresh, once)
        except reconcile.InvalidSpec as err:
            # The CRD schema should have refused this; retrying cannot fix it.
            await reconcile.report_error(ctx, kind, fresh, err, permanent=True)
            raise kopf.PermanentError(str(err)) from err
        except Exception as err:
            await reconcile.report_error(ctx, kind, fresh, err)
            raise kopf.TemporaryError(reconcile.error_message(err), delay=reconcile.retry_delay(retry)) from err

    seen = time.monotonic() if seen_at is None else seen_at
    await reconcile.serialized(ctx, kind, body, step, seen_at=seen, periodic=periodic)


def _register(kind: str, plural: str) -> None:
    async def on_change(body: Any, memo: Any, retry: int, **_: Any) -> None:
        await run(memo.ctx, kind, dict(body), retry=retry)

    kopf.on.resume(GROUP, VERSION, plural, id=HANDLER_ID)(on_change)
    kopf.on.create(GROUP, VERSION, plural, id=HANDLER_ID)(on_change)
    kopf.on.update(GROUP, VERSION, plural, id=HANDLER_ID, field="spec")(on_change)
    kopf.on.event(GROUP, VERSION, plural, id="forget")(forget_deleted)


async def forget_deleted(body: Any, type: str | None, **_: Any) -> None:
    """A deleted object's diff base goes with it."""
    if type == "DELETED":
        DIFF_BASE.forget(str(body["metadata"].get("uid")))


for _kind in KINDS:
    _register(_kind.kind, _kind.plural)


async def _owner_changed(memo: Any, kind: str, name: str, namespace: str) -> None:
    seen_at = time.monotonic()
    found = await memo.ctx.kube.get(API_VERSION, kind, name, namespace)
    if found is None or kind not in STEPS:
        return
    # A failure is in the owner's status already; its own handler or the resync tries again.
    with contextlib.suppress(kopf.TemporaryError, kopf.PermanentError):
        await run(memo.ctx, kind, found, seen_at=seen_at)


@kopf.on.event(GROUP, VERSION, "testsuites")
async def testsuite_seen(body: Any, type: str | None, memo: Any, **_: Any) -> None:
    """Keep the TestSuites' specs in memory (kopf watches them anyway) for the ReplayRuns' Jobs."""
    key = (body["metadata"]["namespace"], body["metadata"]["name"])
    if type == "DELETED":
        memo.ctx.suites.pop(key, None)
        return
    try:
        memo.ctx.suites[key] = TestSuiteSpec.model_validate(body.get("spec") or {})
    except ValidationError:
        memo.ctx.suites.pop(key, None)  # its own reconcile reports it


@kopf.on.event("batch", "v1", "jobs", labels=OURS)
async def job_changed(body: Any, type: str | None, memo: Any, **_: Any) -> None:
    """A Job of ours moved (a replay shard finished, a selection ended): reconcile its owner now.
    Not for the creation of a Job this process just made: the reconcile that made it goes on and
    writes the status (a burst of 200 runs would otherwise read each run and its Job again)."""
    job = dict(body)
    log.info("job event", type=type, namespace=job["metadata"]["namespace"], job=job["metadata"]["name"])
    if type == "ADDED" and reconcile.made_here(memo.ctx, job):
        return
    owner = reconcile.owner_of(job)
    if owner is None:
        return
    key = (job["metadata"]["namespace"], job["metadata"]["name"])
    if type != "DELETED":
        memo.ctx.watched_jobs[key] = job  # the owner's reconcile reads it from here, not the API
    try:
        await _owner_changed(memo, *owner, body["metadata"]["namespace"])
    finally:
        if memo.ctx.watched_jobs.get(key) is job:
            del memo.ctx.watched_jobs[key]


@kopf.on.event("apps", "v1", "deployments", labels=OURS)
async def deployment_changed(body: Any, memo: Any, **_: Any) -> None:
    """A collector Deployment moved (replicas became available, a rollout got stuck)."""
    owner = reconcile.owner_of(dict(body))
    if owner is not None:
        await _owner_changed(memo, *owner, body["metadata"]["namespace"])


def periodic_wanted(ctx: Context) -> Any:
    """The resync loop's filter: unfinished ReplayRuns only, and nothing reconciled in the last half
    period (an event did it already)."""

    def wanted(kind: str, body: dict[str, Any]) -> bool:
        meta = body.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            return False
        if kind == "ReplayRun" and reconcile.is_finished(
            dict(body.get("status") or {}), int(meta.get("generation") or 1)
        ):
            return False
        last = ctx.finished.get((kind, meta.get("namespace", ""), meta.get("name", "")))
        return last is None or time.monotonic() - last >= PERIOD[kind] / 2

    return wanted


def periodic_reconcile(ctx: Context) -> Any:
    async def reconcile_one(kind: str, body: dict[str, Any], seen_at: float) -> None:
        # A failure is written into the status; tried again next period.
        with contextlib.suppress(kopf.TemporaryError, kopf.PermanentError):
            await run(ctx, kind, body, seen_at=seen_at, periodic=True)

    return reconcile_one
