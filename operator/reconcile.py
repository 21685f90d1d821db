"""One reconcile function per kind: read what exists, apply what should, write the status.

The handlers call these; they hold no state between calls (everything is read back from the API
server and the store), so a restarted operator or a second replica picks up where the first was.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lightkube import ApiError

from trodden.log import get_logger
from trodden.metrics import Counter, Histogram
from trodden.models.instrumentation import InstrumentationConfig
from trodden.operator import builders, conditions, feedback, results
from trodden.operator.builders import Owner, Runtime
from trodden.operator.kube import Kube
from trodden.operator.specs import (
    API_VERSION,
    ReplayRunSpec,
    RumSourceSpec,
    SessionSelectorSpec,
    TestSuiteSpec,
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
    dsn: str | None
    store: Store | None = None

    async def db(self) -> Store | None:
        """The store, opened on first use; None (with a warning) when no DSN is configured."""
        if self.store is None and self.dsn:
            self.store = await Store.open(self.dsn, min_size=1, max_size=4)
        return self.store


async def timed(kind: str, body: Any, step: Callable[[], Awaitable[None]]) -> None:
    """Metrics and a log line with the resource's name around one reconcile."""
    started = time.perf_counter()
    RECONCILES.labels(kind).inc()
    try:
        await step()
    except ApiError as err:
        if err.status.code == 403 and "being terminated" in (err.status.message or ""):
            log.info("namespace is being deleted; nothing to reconcile", kind=kind,
                     namespace=body["metadata"]["namespace"], name=body["metadata"]["name"])
            return
        RECONCILE_ERRORS.labels(kind).inc()
        raise
    except Exception:
        RECONCILE_ERRORS.labels(kind).inc()
        log.exception("reconcile failed", kind=kind, namespace=body["metadata"]["namespace"],
                      name=body["metadata"]["name"])
        raise
    finally:
        RECONCILE_SECONDS.labels(kind).observe(time.perf_counter() - started)


def _status(body: Any) -> dict[str, Any]:
    return dict(body.get("status") or {})


async def _write_status(ctx: Context, owner: Owner, body: Any, status: dict[str, Any]) -> None:
    status["observedGeneration"] = owner.generation
    old = _status(body)
    if all(old.get(k) == v for k, v in status.items()):
        return  # nothing changed: no write, no new resourceVersion
    await ctx.kube.patch_status(owner.kind, owner.name, owner.namespace, status)


async def ensure_dsn_secret(ctx: Context, namespace: str) -> None:
    if ctx.dsn:
        await ctx.kube.apply(builders.dsn_secret(namespace, ctx.dsn))


async def _job(ctx: Context, manifest: dict[str, Any], component: str) -> dict[str, Any]:
    """The Job, created when missing. Job templates are immutable, so an existing Job is left as is."""
    meta = manifest["metadata"]
    job = await ctx.kube.get("batch/v1", "Job", meta["name"], meta["namespace"])
    if job is None:
        job = await ctx.kube.apply(manifest)
        JOBS_CREATED.labels(component).inc()
        log.info("job created", component=component, namespace=meta["namespace"], job=meta["name"])
    return job


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
    spec = RumSourceSpec.model_validate(body["spec"])
    await ensure_dsn_secret(ctx, owner.namespace)
    if not spec.ingest_key_secret:
        await ctx.kube.create(builders.ingest_key_secret(owner, secrets.token_urlsafe(32)))
    await ctx.kube.apply(builders.sanitization_configmap(owner, spec))
    previous = await read_instrumentation(ctx, owner)
    config = feedback.instrumentation_from_spec(spec.instrumentation, previous)
    await ctx.kube.apply(builders.instrumentation_configmap(owner, config))
    await ctx.kube.apply(builders.collector_service(owner, spec))
    deployment = await ctx.kube.apply(builders.collector_deployment(owner, spec, ctx.runtime))

    status: dict[str, Any] = {
        "endpoint": builders.collector_endpoint(owner),
        "readyReplicas": int((deployment.get("status") or {}).get("readyReplicas") or 0),
        "instrumentationGeneration": config.generation,
    }
    store = await ctx.db()
    if store is not None:
        counts = await results.source_counts(store, owner.name)
        status.update({k: v for k, v in counts.items() if v is not None})
    ready = conditions.rumsource_ready(deployment, spec.replicas)
    status["conditions"] = conditions.merge(
        _status(body).get("conditions") or [], [ready], owner.generation, conditions.now_rfc3339()
    )
    await _write_status(ctx, owner, body, status)


# ---------------------------------------------------------------------------------------------
# SessionSelector


async def sessionselector(ctx: Context, body: Any) -> None:
    owner = Owner.of(body)
    spec = SessionSelectorSpec.model_validate(body["spec"])
    await ensure_dsn_secret(ctx, owner.namespace)
    status: dict[str, Any] = {}
    store = await ctx.db()
    if spec.schedule:
        await ctx.kube.apply(builders.selection_cronjob(owner, spec, ctx.runtime))
        state: conditions.JobState = "Absent"
        job = None
    else:
        job = await _job(ctx, builders.selection_job(owner, spec, ctx.runtime), "select")
        status["jobName"] = job["metadata"]["name"]
        state = conditions.job_state(job)
    produced = ""
    if store is not None and (spec.schedule or state == "Succeeded"):
        selection = await results.latest_selection(store, spec.source, owner.name)
        if selection is not None:
            status.update({"selected": selection["selected"], "journeys": selection["journeys"],
                           "selectionId": selection["id"], "lastRun": selection["created_at"]})
            produced = f"selection {selection['id']}: {selection['selected']} sessions"
    ready = conditions.batch_ready("Selection", state, job, produced or "selection finished", cron=bool(spec.schedule))
    status["conditions"] = conditions.merge(
        _status(body).get("conditions") or [], [ready], owner.generation, conditions.now_rfc3339()
    )
    await _write_status(ctx, owner, body, status)


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
    spec = TestSuiteSpec.model_validate(body["spec"])
    await ensure_dsn_secret(ctx, owner.namespace)
    old = _status(body)
    status: dict[str, Any] = {}
    ids, waiting = await _selection_ids(ctx, owner, spec)
    if waiting and not ids:
        ready = conditions.Desired("Ready", "Unknown", "WaitingForSelection",
                                   f"no selection yet from {', '.join(waiting)}")
    else:
        job = await _job(ctx, builders.generation_job(owner, spec, ids, ctx.runtime), "generate")
        status.update({"jobName": job["metadata"]["name"], "selectionIds": ids})
        state = conditions.job_state(job)
        produced = "suite generated"
        store = await ctx.db()
        if state == "Succeeded" and store is not None:
            rev = await results.latest_revision(store, owner.name)
            if rev is not None:
                status.update({k: v for k, v in rev.items() if v is not None})
                produced = f"revision {rev['revision']}: {rev['tests']} tests, {rev['assertions']} assertions"
        ready = conditions.batch_ready("Generation", state, job, produced)
    if spec.replay_on is not None:
        status.update(await replay_on_rollout(ctx, owner, spec, old))
    status["conditions"] = conditions.merge(old.get("conditions") or [], [ready], owner.generation,
                                            conditions.now_rfc3339())
    await _write_status(ctx, owner, body, status)


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


async def replay_on_rollout(ctx: Context, owner: Owner, spec: TestSuiteSpec, old: dict[str, Any]) -> dict[str, Any]:
    """A ReplayRun for each new pod template of the watched Deployment, once it has rolled out.

    The template seen first is recorded, not replayed: only later rollouts are new deployments."""
    assert spec.replay_on is not None
    deployment = await ctx.kube.get("apps/v1", "Deployment", spec.replay_on.deployment, owner.namespace)
    if deployment is None:
        return {}
    template = builders.pod_template_hash(deployment)
    seen = old.get("rolloutTemplateHash")
    if seen is None:
        return {"rolloutTemplateHash": template}
    if seen == template or not rollout_finished(deployment):
        return {}
    run = builders.rollout_replayrun(owner, spec.replay_on, builders.Rollout.of(deployment))
    # Created, never applied over: a run of this name is this very rollout's (a restart between the
    # create and the status write finds it); its immutable spec is never patched.
    if await ctx.kube.create(run) is not None:
        log.info("rollout replay created", namespace=owner.namespace, suite=owner.name,
                 replayrun=run["metadata"]["name"], deployment=spec.replay_on.deployment)
    await prune_rollout_runs(ctx, owner, spec.replay_on.keep_runs)
    return {"rolloutTemplateHash": template, "lastReplayRun": run["metadata"]["name"]}


async def prune_rollout_runs(ctx: Context, owner: Owner, keep: int) -> None:
    runs = await ctx.kube.list(API_VERSION, "ReplayRun", owner.namespace, builders.rollout_runs_selector(owner.name))
    runs.sort(key=lambda r: r["metadata"].get("creationTimestamp") or "")
    for old in runs[: max(0, len(runs) - keep)]:
        await ctx.kube.delete(API_VERSION, "ReplayRun", old["metadata"]["name"], owner.namespace)


# ---------------------------------------------------------------------------------------------
# ReplayRun


def is_finished(status: dict[str, Any], generation: int) -> bool:
    succeeded = conditions.find(status.get("conditions") or [], "Succeeded")
    return bool(succeeded and succeeded.get("status") in ("True", "False")
                and status.get("observedGeneration") == generation)


async def replayrun(ctx: Context, body: Any) -> None:
    owner = Owner.of(body)
    old = _status(body)
    if is_finished(old, owner.generation):
        return  # a finished run is a record; nothing left to reconcile
    spec = ReplayRunSpec.model_validate(body["spec"])
    await ensure_dsn_secret(ctx, owner.namespace)
    suite_body = await ctx.kube.get(API_VERSION, "TestSuite", spec.suite, owner.namespace)
    suite_spec = TestSuiteSpec.model_validate(suite_body["spec"]) if suite_body else None
    job = await _job(ctx, builders.replay_job(owner, spec, ctx.runtime, builders.replay_auth_env(suite_spec)),
                     "replay")
    state = conditions.job_state(job)
    status: dict[str, Any] = {
        "jobName": job["metadata"]["name"],
        "target": builders.endpoint_url(spec.target, owner.namespace),
        "report": f"trodden-report://{builders.run_name(owner)}",
        "startTime": old.get("startTime") or conditions.now_rfc3339(),
    }
    summary: RunSummary | None = None
    store = await ctx.db()
    if store is not None and state in ("Running", "Succeeded", "Failed"):
        summary = await results.replay_summary(store, builders.run_name(owner))
        status.update(results.status_from_summary(summary))
    ran = sum(int(status.get(k) or 0) for k in ("passed", "failed", "flaky"))
    desired, phase = conditions.replay_conditions(
        state, job, status.get("failed"), has_results=int(status.get("total") or 0) > 0, ran=ran
    )
    status["phase"] = phase
    if phase in ("Succeeded", "Failed"):
        status["completionTime"] = conditions.now_rfc3339()
    status["conditions"] = conditions.merge(old.get("conditions") or [], desired, owner.generation,
                                            conditions.now_rfc3339())
    await _write_status(ctx, owner, body, status)
    if phase in ("Succeeded", "Failed"):
        RUNS.labels(phase.lower()).inc()
        log.info("replay finished", namespace=owner.namespace, name=owner.name, phase=phase,
                 passed=status.get("passed"), failed=status.get("failed"), flaky=status.get("flaky"))
        if summary is not None:
            await feed_back(ctx, owner, spec, summary)


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
        rum_spec.instrumentation, None)
    store = await ctx.db()
    uncovered = await results.uncovered_routes(store, source) if store is not None else []
    config = feedback.apply_feedback(previous, summary, uncovered, datetime.now(UTC))
    if config != previous:
        await ctx.kube.apply(builders.instrumentation_configmap(owner, config))
        log.info("instrumentation fed back", source=source, generation=config.generation,
                 boosts=len(config.sampling.boosts), run=run.name)


def owner_of_job(job: dict[str, Any]) -> tuple[str, str] | None:
    """(kind, name) of the trodden resource that owns a Job, if any."""
    for ref in (job.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("apiVersion") == API_VERSION and ref.get("controller"):
            return str(ref["kind"]), str(ref["name"])
    return None
