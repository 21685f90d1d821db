"""kopf's bookkeeping for our handlers is storable, and errors become conditions."""

from __future__ import annotations

import re

import kopf
import pytest
from kopf._core.intents import registries
from lightkube import ApiError
from lightkube.models.meta_v1 import Status
from pydantic import ValidationError

import trodden.operator.handlers  # noqa: F401  (registers the handlers)
from trodden.operator import reconcile
from trodden.operator.specs import GROUP, KINDS, ReplayRunStatus, RumSourceStatus

# An annotation key as the API server validates it: an optional DNS-subdomain prefix and a name of
# at most 63 characters that starts and ends with an alphanumeric character.
NAME_PART = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")


def _handler_ids() -> set[str]:
    registry = registries.get_default_registry()
    return {
        str(h.id)
        for h in [
            *registry._changing.get_all_handlers(),
            *registry._spawning.get_all_handlers(),
            *registry._watching.get_all_handlers(),
        ]
    }


def test_every_handler_id_is_a_valid_annotation_key() -> None:
    storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    ids = _handler_ids()
    assert {"reconcile", "reconcile/spec"} <= ids
    for handler_id in ids:
        for key in storage.make_keys(handler_id):
            prefix, _, name = key.rpartition("/")
            assert prefix == GROUP, key
            assert NAME_PART.match(name), f"handler {handler_id!r} → annotation {key!r} is refused by the API"


def test_handlers_cover_every_kind_without_a_finalizer() -> None:
    registry = registries.get_default_registry()
    changing = registry._changing.get_all_handlers()
    plurals = {h.selector.any_name for h in changing}
    assert plurals == {k.plural for k in KINDS}
    assert not any(h.requires_finalizer for h in changing)


def test_backoff_grows_and_is_bounded() -> None:
    delays = [reconcile.retry_delay(n) for n in range(12)]
    assert delays[:4] == [5, 10, 20, 40]
    assert delays == sorted(delays) and max(delays) == 300


def test_error_message_is_the_api_servers() -> None:
    err = ApiError(
        status=Status(code=403, reason="Forbidden", message='jobs.batch "x" is forbidden: exceeded quota: no-jobs')
    )
    assert reconcile.error_message(err) == '403 Forbidden: jobs.batch "x" is forbidden: exceeded quota: no-jobs'
    assert reconcile.error_message(RuntimeError("boom")) == "RuntimeError: boom"


def test_status_models_refuse_what_the_crd_would_not_hold() -> None:
    status = RumSourceStatus()
    with pytest.raises(ValidationError):
        status.ready_replicas = "three"  # type: ignore[assignment]
    with pytest.raises(ValidationError):
        ReplayRunStatus.model_validate({"flakyTest": []})  # misspelt: refused, not silently dropped
    with pytest.raises(ValidationError):
        ReplayRunStatus(phase="Done")  # type: ignore[arg-type]
    assert ReplayRunStatus(passed=3, shards_done=1).wire()["shardsDone"] == 1


def test_finished_means_a_verdict_not_a_reconcile_error() -> None:
    def status(**conds: str) -> dict[str, object]:
        return {"observedGeneration": 1, "conditions": [{"type": t, "status": s} for t, s in conds.items()]}

    assert reconcile.is_finished(status(Succeeded="True", Failed="False"), 1)
    assert reconcile.is_finished(status(Succeeded="False", Failed="True"), 1)
    assert not reconcile.is_finished(status(Succeeded="False", Failed="False"), 1)  # ReconcileError, retried
    assert not reconcile.is_finished(status(Succeeded="Unknown"), 1)
    assert not reconcile.is_finished(status(Succeeded="True"), 2)


def test_only_the_objects_own_spec_is_an_invalid_spec() -> None:
    from trodden.operator.specs import ReplayRunSpec

    body = {"kind": "ReplayRun", "spec": {"suite": "s"}}  # no target
    with pytest.raises(reconcile.InvalidSpec, match="invalid ReplayRun spec"):
        reconcile.own_spec(ReplayRunSpec, body)
    # Stored data that does not parse (another component's bug, a half-written row) is an ordinary
    # error: reported as ReconcileError and retried, never taken for the user's mistake.
    with pytest.raises(ValidationError) as caught:
        ReplayRunStatus.model_validate({"phase": "Done"})
    assert not isinstance(caught.value, reconcile.InvalidSpec)


async def test_the_creation_of_a_job_made_here_reconciles_nothing_more() -> None:
    """A Job this process just created comes back as ADDED: its owner is not read and reconciled again
    (the reconcile that made it writes the status); any other Job event of ours is."""
    from trodden.operator.handlers import job_changed

    class Kube:
        def __init__(self) -> None:
            self.reads: list[tuple[str, str]] = []

        async def get(self, api: str, kind: str, name: str, namespace: str) -> None:
            self.reads.append((kind, name))

    kube = Kube()
    ctx = reconcile.Context(kube=kube, runtime=None, dsn=None)  # type: ignore[arg-type]
    job = {
        "metadata": {
            "namespace": "team-a",
            "name": "rr-1-replay",
            "ownerReferences": [
                {
                    "apiVersion": "trodden.dev/v1alpha1",
                    "kind": "ReplayRun",
                    "name": "rr-1",
                    "uid": "u-1",
                    "controller": True,
                }
            ],
        }
    }
    memo = kopf.Memo(ctx=ctx)
    ctx.jobs_seen.add(("team-a", "rr-1-replay", "u-1"))
    await job_changed(body=job, type="ADDED", memo=memo)
    assert kube.reads == []
    await job_changed(body=job, type="MODIFIED", memo=memo)  # a shard finished: read the owner
    await job_changed(
        body={
            **job,
            "metadata": {
                **job["metadata"],
                "ownerReferences": [{**job["metadata"]["ownerReferences"][0], "uid": "u-2"}],
            },
        },
        type="ADDED",
        memo=memo,
    )  # another owner's
    assert kube.reads == [("ReplayRun", "rr-1"), ("ReplayRun", "rr-1")]


async def test_a_burst_in_one_namespace_creates_its_secrets_once() -> None:
    """200 new runs at once: the namespace's two Secrets are created by one reconcile, not posted by each."""
    import asyncio
    from types import SimpleNamespace

    class Kube:
        def __init__(self) -> None:
            self.created: list[str] = []

        async def create(self, manifest: dict[str, object]) -> None:
            self.created.append(str(manifest["metadata"]["name"]))  # type: ignore[index]
            await asyncio.sleep(0.01)  # the API's round trip, while other reconciles arrive

    class Tenants:
        async def ensure(self, namespace: str) -> object:
            return SimpleNamespace(dsn="postgresql://team-a@db/trodden", webhook_token="t0ken")

    kube = Kube()
    ctx = reconcile.Context(
        kube=kube,
        runtime=None,
        dsn="postgresql://db/trodden",  # type: ignore[arg-type]
        tenants=Tenants(),
    )  # type: ignore[arg-type]
    await asyncio.gather(*(reconcile.ensure_db_secret(ctx, "team-a") for _ in range(200)))
    assert sorted(kube.created) == ["trodden-tenant-dsn", "trodden-webhook-token"]


def test_the_diff_base_stays_in_memory_and_goes_with_the_object() -> None:
    """kopf's diff base costs no PATCH (no annotation): none at first (kopf: a creation), then the
    essence as handled; a status change is no difference, a spec change is; a deleted object's
    entry is dropped."""
    import asyncio

    from kopf._cogs.structs.diffs import diff

    from trodden.operator.handlers import DIFF_BASE, forget_deleted

    def handled(body: dict[str, object]) -> tuple[object, object]:
        wrapped = kopf.Body(body)
        old, new = DIFF_BASE.fetch(body=wrapped), DIFF_BASE.build(body=wrapped)
        patch = kopf.Patch()
        DIFF_BASE.store(body=wrapped, patch=patch, essence=new)
        assert not patch  # nothing written to the object
        return old, (diff(old, new) if old is not None else None)

    run = {
        "apiVersion": "trodden.dev/v1alpha1",
        "kind": "ReplayRun",
        "metadata": {"name": "r", "namespace": "n", "uid": "u-1"},
        "spec": {"suite": "s"},
    }
    assert handled(run) == (None, None)
    assert handled({**run, "status": {"phase": "Running"}})[1] == ()
    assert handled({**run, "spec": {"suite": "t"}})[1]
    asyncio.run(forget_deleted(body=run, type="DELETED"))
    assert DIFF_BASE.fetch(body=kopf.Body(run)) is None


def test_a_first_success_writes_no_progress_and_no_marker() -> None:
    """kopf stores a handler's progress and purges it once it succeeded: nothing is left to PATCH.
    A failed handler's progress (its retries) is written, with kopf's marker."""
    from trodden.operator.handlers import ProgressAnnotations

    storage = ProgressAnnotations(prefix=GROUP)
    body = kopf.Body({"metadata": {"name": "r", "namespace": "n", "uid": "u"}})
    record = {"started": "2026-12-06T00:00:00", "success": True, "retries": 1}
    patch = kopf.Patch()
    storage.store(key=kopf.HandlerId("reconcile"), record=record, body=body, patch=patch)  # type: ignore[arg-type]
    storage.purge(key=kopf.HandlerId("reconcile"), body=body, patch=patch)
    assert not patch, dict(patch)

    failed = kopf.Patch()
    storage.store(
        key=kopf.HandlerId("reconcile"),
        record={**record, "success": False},
        body=body,  # type: ignore[arg-type]
        patch=failed,
    )
    assert set(failed["metadata"]["annotations"]) == {f"{GROUP}/reconcile", f"{GROUP}/kopf-managed"}


async def test_a_jobs_added_event_before_its_create_returns_reads_nothing() -> None:
    """The watch can deliver a new Job's ADDED event before the POST's response: it is still known as
    made here. A later event's Job is handed to the owner's reconcile, which does not read it again."""
    from types import SimpleNamespace

    from trodden.operator.handlers import job_changed

    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "namespace": "team-a",
            "name": "rr-1-replay",
            "ownerReferences": [
                {
                    "apiVersion": "trodden.dev/v1alpha1",
                    "kind": "ReplayRun",
                    "name": "rr-1",
                    "uid": "u-1",
                    "controller": True,
                }
            ],
        },
    }
    owner = reconcile.Owner("ReplayRun", "rr-1", "team-a", "u-1")

    class Kube:
        def __init__(self) -> None:
            self.reads: list[str] = []

        async def create(self, manifest: dict[str, object]) -> dict[str, object]:
            await job_changed(body=job, type="ADDED", memo=memo)  # the watch was quicker
            return job

        async def get(self, api: str, kind: str, name: str, namespace: str) -> None:
            self.reads.append(kind)  # the owner is gone: nothing more to reconcile

    kube = Kube()
    ctx = reconcile.Context(kube=kube, runtime=None, dsn=None)  # type: ignore[arg-type]
    ctx.secrets_created = SimpleNamespace(due=lambda ns: False)  # type: ignore[assignment]
    memo = kopf.Memo(ctx=ctx)
    assert await reconcile._job(ctx, owner, job, "replay") == job
    assert kube.reads == []
    ctx.watched_jobs[("team-a", "rr-1-replay")] = {**job, "status": {"active": 1}}
    found = await reconcile._job(ctx, owner, job, "replay")
    assert found is not None and found["status"] == {"active": 1} and kube.reads == []
    assert not ctx.watched_jobs
    await job_changed(body={**job, "status": {"active": 1}}, type="MODIFIED", memo=memo)
    assert kube.reads == ["ReplayRun"] and not ctx.watched_jobs  # the owner read; the Job came with the event
