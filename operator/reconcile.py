"""One reconcile function per kind: read what exists, apply what should, write the status.

The handlers call these; they hold no state between calls (everything is read back from the API
server and the store), so a restarted operator or a second replica picks up where the first was.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from lightkube import ApiError
from pydantic import ValidationError

from trodden.log import get_logger
from trodden.metrics import Counter, Histogram
from trodden.models.instrumentation import InstrumentationConfig
from trodden.operator import builders, conditions, feedback, results, tenancy
from trodden.operator.builders import Owner, Runtime
from trodden.operator.kube import Kube
from trodden.operator.specs import (
    API_VERSION,
    KINDS,
    Condition,
    ReplayRunSpec,
    ReplayRunStatus,
    RumSourceSpec,
    RumSourceStatus,
    SessionSelectorSpec,
    SessionSelectorStatus,
    TestSuiteSpec,
    TestSuiteStatus,
    Wire,
)
from trodden.replay.results import RunSummary
from trodden.store import Store

log = get_logger(__name__)

RECONCILES = Counter("trodden_operator_reconciles_total", "Reconciles by kind", ["kind"])
RECONCILE_ERRORS = Counter("trodden_operator_reconcile_errors_total", "Reconciles that raised, by kind", ["kind"])
RECONCILE_SECONDS = Histogram("trodden_operator_reconcile_seconds", "Reconcile duration by kind", ["kind"])
RUNS = Counter("trodden_operator_replay_runs_total", "ReplayRuns finished, by outcome", ["outcome"])
JOBS_CREATED = Counter("trodden_operator_jobs_created_total", "Jobs created, by component", ["component"])


@dataclass
class Context:
    kube: Kube
    runtime: Runtime
    dsn: str | None  # the operator's admin DSN; each namespace gets a role and schema of its own
    tenants: tenancy.Tenants | None = None
    # One reconcile at a time per object: kopf's handlers, the Job watch and the periodic resync
    # all reconcile, and must not interleave (two status writes from different snapshots).
    locks: weakref.WeakValueDictionary[tuple[str, str, str], asyncio.Lock] = field(
        default_factory=weakref.WeakValueDictionary
    )
    # When each object's last reconcile ended (monotonic), to tell a stale snapshot from a fresh one.
    finished: dict[tuple[str, str, str], float] = field(default_factory=dict)
    # Jobs (namespace, name, owner uid) this process created or adopted: read, not created again.
    jobs_seen: set[tuple[str, str, str]] = field(default_factory=set)
    # A Job of ours as its watch event brought it (namespace, name), for the owner's reconcile that
    # event starts: taken once by `_job` instead of reading the Job again.
    watched_jobs: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    # TestSuites' specs as kopf's watch last saw them (namespace, name): a ReplayRun's Job needs its
    # suite's auth profiles, and reading them from memory saves a GET per run.
    suites: dict[tuple[str, str], TestSuiteSpec] = field(default_factory=dict)

    def lock(self, kind: str, namespace: str, name: str) -> asyncio.Lock:
        key = (kind, namespace, name)
        found = self.locks.get(key)
        if found is None:
            found = self.locks[key] = asyncio.Lock()
        return found

    # Namespace Secrets created lately, and (namespace, kind, name, uid) claims made by this process.
    secrets_created: tenancy.SecretsCreated = field(default_factory=tenancy.SecretsCreated)
    claimed: set[tuple[str, str, str, str]] = field(default_factory=set)
    _opening: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def tenancy(self) -> tenancy.Tenants | None:
        """The tenants of the operator's database, opened on first use; None without a DSN."""
        if self.tenants is None and self.dsn:
            async with self._opening:
                if self.tenants is None:
                    self.tenants = await tenancy.Tenants.open(self.dsn)
        return self.tenants

    async def db(self, namespace: str) -> Store | None:
        """The namespace's own store (logged in as its role); None when no DSN is configured."""
        tenants = await self.tenancy()
        return await tenants.store(namespace) if tenants is not None else None

    async def webhook_token_matches(self, namespace: str, token: str) -> bool:
        """The Flagger webhook's check: `token` is the one in the namespace's `trodden-webhook-token`."""
        tenants = await self.tenancy()
        return tenants is not None and await tenants.token_matches(namespace, token)

    async def close(self) -> None:
        if self.tenants is not None:
            await self.tenants.close()


Step = Callable[["Context", Any], Awaitable[None]]


async def serialized(ctx: Context, kind: str, body: Any, step: Step, *, seen_at: float, periodic: bool = False) -> None:
    """Run `step` on the object under its lock. `body` was read at `seen_at` (monotonic); when another
    reconcile of the object ended after that, the snapshot may predate that reconcile's status
    write: a periodic resync then has nothing left to do, anything else reads the object again."""
    meta = body["metadata"]
    key = (kind, meta["namespace"], meta["name"])
    async with ctx.lock(*key):
        if ctx.finished.get(key, float("-inf")) > seen_at:
            if periodic:
                return
            body = await ctx.kube.get(API_VERSION, kind, meta["name"], meta["namespace"])
            if body is None:
                return
        try:
            await step(ctx, body)
        finally:
            ctx.finished[key] = time.monotonic()


async def timed(kind: str, body: Any, step: Callable[[], Awaitable[None]]) -> None:
    """Metrics and a log line with the resource's name around one reconcile."""
    started = time.perf_counter()
    RECONCILES.labels(kind).inc()
    try:
        await step()
    except ApiError as err:
        if err.status.code == 403 and "being terminated" in (err.status.message or ""):
            log.info(
                "namespace is being deleted; nothing to reconcile",
                kind=kind,
                namespace=body["metadata"]["namespace"],
                name=body["metadata"]["name"],
            )
            return
        RECONCILE_ERRORS.labels(kind).inc()
        raise
    except Exception:
        RECONCILE_ERRORS.labels(kind).inc()
        log.exception(
            "reconcile failed", kind=kind, namespace=body["metadata"]["namespace"], name=body["metadata"]["name"]
        )
        raise
    finally:
        RECONCILE_SECONDS.labels(kind).observe(time.perf_counter() - started)


def _status(body: Any) -> dict[str, Any]:
    return dict(body.get("status") or {})


def _conditions(body: Any, desired: list[conditions.Desired], generation: int) -> list[Condition]:
    """The status's conditions after `desired` (KEP-1623 rules in `conditions.merge`), as models."""
    merged = conditions.merge(_status(body).get("conditions") or [], desired, generation, conditions.now_rfc3339())
    return [Condition.model_validate(c) for c in merged]


async def _write_status(ctx: Context, owner: Owner, body: Any, status: Wire) -> None:
    """Merge-patch the status subresource with the fields `status` sets (a typed status model, so a
    misspelt or mistyped field fails here, not silently in the cluster); skipped when unchanged."""
    wire = status.model_copy(update={"observed_generation": owner.generation}).wire()
    old = _status(body)
    if all(old.get(k) == v for k, v in wire.items()):
        return  # nothing changed: no write, no new resourceVersion
    await ctx.kube.patch_status(owner.kind, owner.name, owner.namespace, wire)


class InvalidSpec(ValueError):
    """The object's own spec does not parse: retrying cannot help (the CRD schema should have refused it)."""


SpecT = TypeVar("SpecT", bound=Wire)


def own_spec(model: type[SpecT], body: Any) -> SpecT:
    """The object's spec, parsed; InvalidSpec (permanent) when it does not parse. Other objects'
    specs and stored data are parsed with plain `model_validate`: their errors are retried."""
    try:
        return model.model_validate(body["spec"])
    except ValidationError as err:
        raise InvalidSpec(f"invalid {body.get('kind', 'object')} spec: {err.errors()[:3]}") from err


# Reconcile errors: the condition a failing reconcile writes, kind by kind (KEP-1623: the reason a
# person and `kubectl wait --for=jsonpath=...reason` read), and how long until the next attempt.
ERROR_CONDITION = {"RumSource": "Ready", "SessionSelector": "Ready", "TestSuite": "Ready", "ReplayRun": "Succeeded"}
RECONCILE_ERROR = "ReconcileError"
INVALID_SPEC = "InvalidSpec"


def retry_delay(retry: int) -> float:
    """Exponential backoff between retries of a failing reconcile: 5 s, 10 s, 20 s … at most 5 min."""
    return float(min(5 * 2 ** min(retry, 10), 300))


def error_message(err: BaseException) -> str:
    """One line for the condition: the API server's message for its refusals, else the exception."""
    if isinstance(err, ApiError):
        return f"{err.status.code} {err.status.reason or ''}: {err.status.message or ''}".strip()
    return f"{type(err).__name__}: {err}"


async def report_error(ctx: Context, kind: str, body: Any, err: BaseException, *, permanent: bool = False) -> None:
    """Write `<Ready|Succeeded>=False` with reason ReconcileError (InvalidSpec when retrying cannot
    help) and the error's message, so `kubectl wait` and `kubectl describe` show why. A permanent
    error of a ReplayRun also ends it (`Failed=True`), so waits on either condition return."""
    owner = Owner.of(body)
    reason = INVALID_SPEC if permanent else RECONCILE_ERROR
    message = error_message(err)
    desired = [conditions.Desired(ERROR_CONDITION[kind], "False", reason, message)]
    if kind == "ReplayRun" and permanent:
        desired.append(conditions.Desired("Failed", "True", reason, message))
    merged = _conditions(body, desired, owner.generation)
    status = {"conditions": [c.wire() for c in merged]}
    if all(_status(body).get(k) == v for k, v in status.items()):
        return
    try:
        await ctx.kube.patch_status(owner.kind, owner.name, owner.namespace, status)
    except ApiError as patch_err:  # the object may be gone, or the API down: the retry will tell
        log.warning(
            "could not write the error into the status",
            kind=kind,
            namespace=owner.namespace,
            name=owner.name,
            error=error_message(patch_err),
        )


async def ensure_db_secret(ctx: Context, namespace: str) -> None:
    """Before a workload is made in `namespace`: its Secret `trodden-tenant-dsn` with the DSN of the
    namespace's own database role, and `trodden-webhook-token` with its Flagger webhook token (created
    when missing; the operator never reads or changes a Secret)."""
    tenants = await ctx.tenancy()
    if tenants is None or not ctx.secrets_created.due(namespace):
        return
    async with ctx.secrets_created.lock(namespace):
        if not ctx.secrets_created.due(namespace):
            return  # another reconcile created them while this one waited
        tenant = await tenants.ensure(namespace)
        await ctx.kube.create(builders.db_secret(namespace, tenant.dsn))
        await ctx.kube.create(builders.webhook_secret(namespace, tenant.webhook_token))
        ctx.secrets_created.done(namespace)


async def claim(ctx: Context, store: Store | None, owner: Owner) -> None:
    """The owner claims the data stored under its name (see `tenancy.claim`), once per process."""
    key = (owner.namespace, owner.kind, owner.name, owner.uid)
    if store is None or key in ctx.claimed:
        return
    await tenancy.claim(store, owner.kind, owner.name, owner.uid)
    ctx.claimed.add(key)


def controller_uid(obj: dict[str, Any]) -> str | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("uid"))
    return None


async def _job(ctx: Context, owner: Owner, manifest: dict[str, Any], component: str) -> dict[str, Any] | None:
    """The owner's Job: created when missing (Job templates are immutable, so an existing Job is left
    as is). A Job of that name controlled by another uid is not adopted: it belongs to a deleted
    object of the same name and the garbage collector is removing it; None until it is gone."""
    meta = manifest["metadata"]
    key = (meta["namespace"], meta["name"], owner.uid)
    job: dict[str, Any] | None = None
    if key not in ctx.jobs_seen:
        await ensure_db_secret(ctx, owner.namespace)
        # Marked before the POST: the watch may deliver the new Job's ADDED event before the
        # response (see `made_here`).
        ctx.jobs_seen.add(key)
        try:
            job = await ctx.kube.create(manifest)
        except BaseException:
            ctx.jobs_seen.discard(key)
            raise
        if job is not None:
            JOBS_CREATED.labels(component).inc()
            log.info("job created", component=component, namespace=meta["namespace"], job=meta["name"])
    else:
        job = ctx.watched_jobs.pop((meta["namespace"], meta["name"]), None)
    if job is None:
        job = await ctx.kube.get("batch/v1", "Job", meta["name"], meta["namespace"])
    if job is None or controller_uid(job) != owner.uid:
        ctx.jobs_seen.discard(key)
        if job is not None:
            log.info(
                "job of a deleted owner of the same name; waiting for its removal",
                namespace=meta["namespace"],
                job=meta["name"],
                owner=owner.name,
            )
        return None
    return job


def _foreign_job(name: str) -> str:
    return (
        f"Job {name} exists and is not this object's (a deleted object of the same name left it); "
        "waiting for it to be removed"
    )


async def expire_job(ctx: Context, job: dict[str, Any] | None) -> None:
    """Its result is recorded in the owner's status: let the TTL controller remove the finished Job."""
    if job is None or (job.get("spec") or {}).get("ttlSecondsAfterFinished") is not None:
        return
    meta = job["metadata"]
    await ctx.kube.patch(
        "batch/v1",
        "Job",
        meta["name"],
        meta["namespace"],
        {"spec": {"ttlSecondsAfterFinished": ctx.runtime.finished_job_ttl}},
    )


@dataclass(frozen=True)
class BatchJob:
    """Where the owner's latest selection or generation Job is."""

    job: dict[str, Any] | None
    count: int
    inputs_hash: str
    recorded: conditions.Desired | None = None  # its outcome, already in the status (Job maybe gone)

    @property
    def name(self) -> str:
        return str(self.job["metadata"]["name"]) if self.job else ""


async def batch_job(
    ctx: Context,
    owner: Owner,
    body: Any,
    *,
    kind: str,
    inputs_hash: str,
    build: Callable[[int], dict[str, Any]],
    component: str,
) -> BatchJob:
    """The Job for the current inputs. Its name ends with a counter kept in the status: a new Job
    (counter + 1) when the inputs' hash differs from the last Job's, or when the last Job failed
    and the spec has changed since (a retry after a fix, say more memory); otherwise the last one,
    whose outcome stays in the status after the Job itself expired."""
    old = _status(body)
    count = int(old.get("jobCount") or 0)
    if count and old.get("inputsHash") == inputs_hash:
        name = build(count)["metadata"]["name"]
        recorded = conditions.recorded_outcome(kind, old, name)
        job = await ctx.kube.get("batch/v1", "Job", name, owner.namespace)
        if job is None and recorded is not None:
            return BatchJob(None, count, inputs_hash, recorded)
        failed_before_edit = (
            job is not None
            and conditions.job_state(job) == "Failed"
            and int((job["metadata"].get("annotations") or {}).get(builders.OWNER_GENERATION) or 0) < owner.generation
        )
        if not failed_before_edit:
            return BatchJob(await _job(ctx, owner, build(count), component), count, inputs_hash)
    count += 1
    return BatchJob(await _job(ctx, owner, build(count), component), count, inputs_hash)


# ---------------------------------------------------------------------------------------------
# RumSource


async def read_instrumentation(ctx: Context, owner: Owner) -> InstrumentationConfig | None:
    cm = await ctx.kube.get("v1", "ConfigMap", f"{owner.name}-instrumentation", owner.namespace)
    raw = ((cm or {}).get("data") or {}).get("config.json")
    if not raw:
        return None
    try:
        return InstrumentationConfig.model_validate_json(raw)
    except ValueError:
        log.warning("instrumentation config unreadable; starting over", name=owner.name)
        return None


async def rumsource(ctx: Context, body: Any) -> None:
    owner = Owner.of(body)
    spec = own_spec(RumSourceSpec, body)
    store = await ctx.db(owner.namespace)
    await claim(ctx, store, owner)
    await ensure_db_secret(ctx, owner.namespace)
    if not spec.ingest_key_secret:
        await ctx.kube.create_once(builders.ingest_key_secret(owner, secrets.token_urlsafe(32)))
    await ctx.kube.ensure(builders.sanitization_configmap(owner, spec))
    previous = await read_instrumentation(ctx, owner)
    config = feedback.instrumentation_from_spec(spec.instrumentation, previous)
    await ctx.kube.ensure(builders.instrumentation_configmap(owner, config))
    await ctx.kube.ensure(builders.collector_service(owner, spec))
    manifest = builders.collector_deployment(owner, spec, ctx.runtime)
    await ctx.kube.ensure(manifest)
    deployment = await ctx.kube.get("apps/v1", "Deployment", manifest["metadata"]["name"], owner.namespace)

    counts = await results.source_counts(store, owner.name) if store is not None else {}
    status = RumSourceStatus(
        endpoint=builders.collector_endpoint(owner),
        ready_replicas=int(((deployment or {}).get("status") or {}).get("readyReplicas") or 0),
        instrumentation_generation=config.generation,
        sessions=counts.get("sessions"),
        events=counts.get("events"),
        last_event_time=counts.get("lastEventTime"),
        conditions=_conditions(body, [conditions.rumsource_ready(deployment, spec.replicas)], owner.generation),
    )
    await _write_status(ctx, owner, body, status)


# ---------------------------------------------------------------------------------------------
# SessionSelector


async def _latest_selection(
    ctx: Context, spec: SessionSelectorSpec, owner: Owner, status: SessionSelectorStatus
) -> str:
    """The selector's newest stored selection into `status`; what it produced, as text ("" if none)."""
    store = await ctx.db(owner.namespace)
    selection = await results.latest_selection(store, spec.source, owner.name) if store is not None else None
    if selection is None:
        return ""
    status.selected, status.journeys = selection["selected"], selection["journeys"]
    status.selection_id, status.last_run = selection["id"], selection["created_at"]
    return f"selection {selection['id']}: {selection['selected']} sessions"


async def sessionselector(ctx: Context, body: Any) -> None:
    owner = Owner.of(body)
    spec = own_spec(SessionSelectorSpec, body)
    await claim(ctx, await ctx.db(owner.namespace), owner)
    status = SessionSelectorStatus()
    finished: dict[str, Any] | None = None
    if spec.schedule:
        await ensure_db_secret(ctx, owner.namespace)
        await ctx.kube.ensure(builders.selection_cronjob(owner, spec, ctx.runtime))
        runs = await ctx.kube.list(
            "batch/v1",
            "Job",
            owner.namespace,
            {
                builders.owner_label("SessionSelector"): builders.label_value(owner.name),
                "app.kubernetes.io/component": "select",
            },
        )
        ready = conditions.scheduled_ready(runs, await _latest_selection(ctx, spec, owner, status))
    else:
        batch = await batch_job(
            ctx,
            owner,
            body,
            kind="Selection",
            inputs_hash=builders.selection_inputs(spec),
            build=lambda n: builders.selection_job(owner, spec, ctx.runtime, n),
            component="select",
        )
        status.inputs_hash, status.job_count = batch.inputs_hash, batch.count
        status.job_name = batch.name or _status(body).get("jobName")
        if batch.recorded is not None:
            ready = batch.recorded
            if ready.status == "True":
                await _latest_selection(ctx, spec, owner, status)
        elif batch.job is None:
            ready = conditions.Desired(
                "Ready", "Unknown", "SelectionPending", _foreign_job(builders.selection_job_name(owner, batch.count))
            )
        else:
            # The selection is published once its Job succeeded (not one a running Job may replace).
            state = conditions.job_state(batch.job)
            produced = await _latest_selection(ctx, spec, owner, status) if state == "Succeeded" else ""
            ready = conditions.batch_ready("Selection", state, batch.job, produced or "selection finished")
            finished = batch.job if state in ("Succeeded", "Failed") else None
    status.conditions = _conditions(body, [ready], owner.generation)
    await _write_status(ctx, owner, body, status)
    await expire_job(ctx, finished)


# ---------------------------------------------------------------------------------------------
# TestSuite


async def _selection_ids(ctx: Context, owner: Owner, spec: TestSuiteSpec) -> tuple[list[int], list[str]]:
    ids: list[int] = []
    waiting: list[str] = []
    for name in spec.selectors:
        sel = await ctx.kube.get(API_VERSION, "SessionSelector", name, owner.namespace)
        sid = ((sel or {}).get("status") or {}).get("selectionId")
        if sid is None:
            waiting.append(name)
        else:
            ids.append(int(sid))
    return sorted(ids), waiting


async def testsuite(ctx: Context, body: Any) -> None:
    owner = Owner.of(body)
    spec = own_spec(TestSuiteSpec, body)
    store = await ctx.db(owner.namespace)
    await claim(ctx, store, owner)
    old = _status(body)
    status = TestSuiteStatus()
    finished: dict[str, Any] | None = None
    ids, waiting = await _selection_ids(ctx, owner, spec)
    if waiting and not ids:
        ready = conditions.Desired(
            "Ready", "Unknown", "WaitingForSelection", f"no selection yet from {', '.join(waiting)}"
        )
    else:
        batch = await batch_job(
            ctx,
            owner,
            body,
            kind="Generation",
            inputs_hash=builders.generation_inputs(spec, ids),
            build=lambda n: builders.generation_job(owner, spec, ids, ctx.runtime, n),
            component="generate",
        )
        status.inputs_hash, status.job_count, status.selection_ids = batch.inputs_hash, batch.count, ids
        status.job_name = batch.name or old.get("jobName")
        if batch.recorded is not None:
            ready = batch.recorded
        elif batch.job is None:
            ready = conditions.Desired(
                "Ready", "Unknown", "GenerationPending", _foreign_job(builders.generation_job_name(owner, batch.count))
            )
        else:
            state = conditions.job_state(batch.job)
            produced = "suite generated"
            if state == "Succeeded" and store is not None:
                rev = await results.latest_revision(store, owner.name)
                if rev is not None:
                    status.revision, status.tests, status.assertions = rev["revision"], rev["tests"], rev["assertions"]
                    status.coverage = rev["coverage"]
                    produced = f"revision {rev['revision']}: {rev['tests']} tests, {rev['assertions']} assertions"
            ready = conditions.batch_ready("Generation", state, batch.job, produced)
            finished = batch.job if state in ("Succeeded", "Failed") else None
    if spec.replay_on is not None:
        rollout = await replay_on_rollout(ctx, owner, spec, old)
        status.rollout_template_hash = rollout.rollout_template_hash
        status.last_replay_run = rollout.last_replay_run
    status.conditions = _conditions(body, [ready], owner.generation)
    await _write_status(ctx, owner, body, status)
    await expire_job(ctx, finished)


def rollout_finished(deployment: dict[str, Any]) -> bool:
    """The Deployment's controller has rolled out its current template to every replica.

    A Deployment at zero replicas (a Flagger canary between analyses) has rolled out nothing there
    is to replay against: it waits until it has pods, it does not count as finished."""
    meta = deployment.get("metadata") or {}
    spec = deployment.get("spec") or {}
    st = deployment.get("status") or {}
    want = int(spec.get("replicas", 1))
    return (
        want > 0
        and int(st.get("observedGeneration") or 0) >= int(meta.get("generation") or 0)
        and int(st.get("updatedReplicas") or 0) >= want
        and int(st.get("availableReplicas") or 0) >= want
        and int(st.get("replicas") or 0) <= int(st.get("updatedReplicas") or 0)
    )


async def replay_on_rollout(ctx: Context, owner: Owner, spec: TestSuiteSpec, old: dict[str, Any]) -> TestSuiteStatus:
    """A ReplayRun for each new pod template of the watched Deployment, once it has rolled out.

    The template seen first is recorded, not replayed: only later rollouts are new deployments."""
    assert spec.replay_on is not None
    deployment = await ctx.kube.get("apps/v1", "Deployment", spec.replay_on.deployment, owner.namespace)
    if deployment is None:
        return TestSuiteStatus()
    template = builders.pod_template_hash(deployment)
    seen = old.get("rolloutTemplateHash")
    if seen is None:
        return TestSuiteStatus(rollout_template_hash=template)
    if seen == template or not rollout_finished(deployment):
        return TestSuiteStatus()
    run = builders.rollout_replayrun(owner, spec.replay_on, builders.Rollout.of(deployment))
    # Created, never applied over: a run of this name is this very rollout's (a restart between the
    # create and the status write finds it); its immutable spec is never patched.
    if await ctx.kube.create(run) is not None:
        log.info(
            "rollout replay created",
            namespace=owner.namespace,
            suite=owner.name,
            replayrun=run["metadata"]["name"],
            deployment=spec.replay_on.deployment,
        )
    await prune_rollout_runs(ctx, owner, spec.replay_on.keep_runs)
    return TestSuiteStatus(rollout_template_hash=template, last_replay_run=run["metadata"]["name"])


async def prune_rollout_runs(ctx: Context, owner: Owner, keep: int) -> None:
    runs = await ctx.kube.list(API_VERSION, "ReplayRun", owner.namespace, builders.rollout_runs_selector(owner.name))
    runs.sort(key=lambda r: r["metadata"].get("creationTimestamp") or "")
    for old in runs[: max(0, len(runs) - keep)]:
        await ctx.kube.delete(API_VERSION, "ReplayRun", old["metadata"]["name"], owner.namespace)


# ---------------------------------------------------------------------------------------------
# ReplayRun


def is_finished(status: dict[str, Any], generation: int) -> bool:
    """The run has its verdict: Succeeded=True or Failed=True (Succeeded=False alone is a
    ReconcileError still being retried)."""
    found = status.get("conditions") or []
    ended = any(
        (c := conditions.find(found, t)) is not None and c.get("status") == "True" for t in ("Succeeded", "Failed")
    )
    return ended and status.get("observedGeneration") == generation


async def replayrun(ctx: Context, body: Any) -> None:
    owner = Owner.of(body)
    old = _status(body)
    if is_finished(old, owner.generation):
        return  # a finished run is a record; nothing left to reconcile
    spec = own_spec(ReplayRunSpec, body)
    store = await ctx.db(owner.namespace)
    revision = spec.revision or old.get("revision")
    if revision is None and store is not None:
        revision = await tenancy.latest_revision(store, spec.suite)
        if revision is None:
            await _wait_for_suite(ctx, owner, body, spec)
            return
    job = await _replay_job(ctx, owner, spec, revision, created=bool(old.get("jobName")))
    if job is None:
        status = ReplayRunStatus(
            phase="Pending",
            conditions=_conditions(
                body,
                [
                    conditions.Desired(
                        "Succeeded", "Unknown", "Pending", _foreign_job(builders.replay_job_name(owner))
                    ),
                    conditions.Desired("Failed", "False", "Pending"),
                ],
                owner.generation,
            ),
        )
        await _write_status(ctx, owner, body, status)
        return
    state = conditions.job_state(job)
    summary: RunSummary | None = None
    if store is not None and state in ("Running", "Succeeded", "Failed"):
        summary = await results.replay_summary(store, builders.run_name(owner))
    # The counts and findings (camelCase from `results`), validated by the status model.
    status = ReplayRunStatus.model_validate(results.status_from_summary(summary) if summary is not None else {})
    status.report = status.report or f"trodden-report://{builders.run_name(owner)}"
    status.job_name = job["metadata"]["name"]
    status.revision = revision
    status.target = builders.endpoint_url(spec.target, owner.namespace)
    status.start_time = old.get("startTime") or conditions.now_rfc3339()
    ran = sum(n or 0 for n in (status.passed, status.failed, status.flaky))
    desired, phase = conditions.replay_conditions(state, job, status.failed, has_results=bool(status.total), ran=ran)
    status.phase = phase
    if phase in ("Succeeded", "Failed"):
        status.completion_time = conditions.now_rfc3339()
    status.conditions = _conditions(body, desired, owner.generation)
    await _write_status(ctx, owner, body, status)
    if phase in ("Succeeded", "Failed"):
        RUNS.labels(phase.lower()).inc()
        log.info(
            "replay finished",
            namespace=owner.namespace,
            name=owner.name,
            phase=phase,
            passed=status.passed,
            failed=status.failed,
            flaky=status.flaky,
        )
        await expire_job(ctx, job)
        if summary is not None:
            await feed_back(ctx, owner, spec, summary)


async def _replay_job(
    ctx: Context, owner: Owner, spec: ReplayRunSpec, revision: int | None, created: bool
) -> dict[str, Any] | None:
    """The run's indexed Job; the TestSuite is read (for its auth Secrets) only to create it."""
    if not created:
        suite_spec = ctx.suites.get((owner.namespace, spec.suite))
        if suite_spec is None:  # not seen by the watch (yet): ask
            suite_body = await ctx.kube.get(API_VERSION, "TestSuite", spec.suite, owner.namespace)
            suite_spec = TestSuiteSpec.model_validate(suite_body["spec"]) if suite_body else None
        manifest = builders.replay_job(owner, spec, ctx.runtime, builders.replay_auth_env(suite_spec), revision)
    else:
        manifest = builders.replay_job(owner, spec, ctx.runtime, revision=revision)
    return await _job(ctx, owner, manifest, "replay")


async def _wait_for_suite(ctx: Context, owner: Owner, body: Any, spec: ReplayRunSpec) -> None:
    """No revision of the suite exists in the run's namespace yet: wait (its TestSuite may be applied
    with the run, or still generating) up to the run's timeout, then fail with SuiteNotFound."""
    created = datetime.fromisoformat(str(body["metadata"].get("creationTimestamp") or conditions.now_rfc3339()))
    waited = (datetime.now(UTC) - created).total_seconds()
    message = (
        f"suite {spec.suite!r} has no revision in namespace {owner.namespace} yet (a TestSuite of that name "
        f"generates one)"
    )
    if waited < spec.timeout_seconds:
        desired = [
            conditions.Desired("Succeeded", "Unknown", "WaitingForSuite", message),
            conditions.Desired("Failed", "False", "WaitingForSuite"),
        ]
        phase = "Pending"
    else:
        message = f"{message}; gave up after {spec.timeout_seconds} s"
        desired = [
            conditions.Desired("Succeeded", "False", "SuiteNotFound", message),
            conditions.Desired("Failed", "True", "SuiteNotFound", message),
        ]
        phase = "Failed"
    status = ReplayRunStatus(phase=phase, conditions=_conditions(body, desired, owner.generation))
    if phase == "Failed":
        status.completion_time = conditions.now_rfc3339()
    await _write_status(ctx, owner, body, status)


async def feed_back(ctx: Context, run: Owner, spec: ReplayRunSpec, summary: RunSummary) -> None:
    """Write what the run learned into `<rumsource>-instrumentation` (see `feedback`)."""
    source = spec.source
    if source is None:
        suite = await ctx.kube.get(API_VERSION, "TestSuite", spec.suite, run.namespace)
        source = ((suite or {}).get("spec") or {}).get("source")
    if not source:
        log.info("no RumSource to feed back to", name=run.name)
        return
    rum = await ctx.kube.get(API_VERSION, "RumSource", source, run.namespace)
    if rum is None:
        log.info("RumSource not found; feedback skipped", name=run.name, source=source)
        return
    rum_spec = RumSourceSpec.model_validate(rum["spec"])
    if not rum_spec.instrumentation.feedback:
        return
    owner = Owner.of(rum)
    previous = await read_instrumentation(ctx, owner) or feedback.instrumentation_from_spec(
        rum_spec.instrumentation, None
    )
    store = await ctx.db(run.namespace)
    uncovered = await results.uncovered_routes(store, source) if store is not None else []
    config = feedback.apply_feedback(previous, summary, uncovered, datetime.now(UTC))
    if config != previous:
        await ctx.kube.apply(builders.instrumentation_configmap(owner, config))
        log.info(
            "instrumentation fed back",
            source=source,
            generation=config.generation,
            boosts=len(config.sampling.boosts),
            run=run.name,
        )


# ---------------------------------------------------------------------------------------------
# Deleted resources' data


async def sweep_namespace(ctx: Context, namespace: str, retention: timedelta) -> tenancy.Swept | None:
    """Tombstone the namespace's data whose resource is gone, remove what was tombstoned more than
    `retention` ago, and remove the tenant itself once its namespace is gone and nothing is left."""
    tenants = await ctx.tenancy()
    if tenants is None:
        return None
    store = await tenants.store(namespace)
    stored = await tenancy.stored_names(store)  # before the resources are listed: see tenancy.sweep
    live = {kind: tenancy.live_names(kind, await ctx.kube.list(API_VERSION, kind, namespace)) for kind in tenancy.KINDS}
    swept = await tenancy.sweep(store, stored, live, retention)
    if swept.tombstoned or swept.revived or swept.removed:
        log.info(
            "stored data of deleted resources swept",
            namespace=namespace,
            tombstoned=swept.tombstoned,
            revived=swept.revived,
            removed=swept.removed,
            retention=str(retention),
        )
    if swept.empty and not any(live.values()) and await ctx.kube.get("v1", "Namespace", namespace, None) is None:
        await tenants.drop(namespace)
    return swept


def made_here(ctx: Context, job: dict[str, Any]) -> bool:
    """The Job is one this process created or adopted for its current owner (see `_job`)."""
    meta = job.get("metadata") or {}
    uid = controller_uid(job)
    return uid is not None and (meta.get("namespace", ""), meta.get("name", ""), uid) in ctx.jobs_seen


def owner_of(obj: dict[str, Any]) -> tuple[str, str] | None:
    """(kind, name) of the Trodden resource an object of ours serves: its controller owner reference,
    else (a Job a selector's CronJob started, owned by the CronJob) the owner named in its labels."""
    meta = obj.get("metadata") or {}
    for ref in meta.get("ownerReferences") or []:
        if ref.get("apiVersion") == API_VERSION and ref.get("controller"):
            return str(ref["kind"]), str(ref["name"])
    obj_labels = meta.get("labels") or {}
    for kind in KINDS:
        name = obj_labels.get(builders.owner_label(kind.kind))
        if name:
            return kind.kind, str(name)
    return None
