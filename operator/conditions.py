"""Observed objects in → KEP-1623 conditions out. Pure functions, no Kubernetes calls.

Rules kept here so every kind follows them:
- a condition is stamped with the generation it was computed for (`observedGeneration`);
- `lastTransitionTime` moves only when `status` changes (a new reason or message does not move it);
- conditions of other types already on the object are kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

Status = Literal["True", "False", "Unknown"]
JobState = Literal["Absent", "Pending", "Running", "Succeeded", "Failed"]


def now_rfc3339() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Desired:
    type: str
    status: Status
    reason: str
    message: str = ""


def merge(existing: list[dict[str, Any]], desired: list[Desired], generation: int, now: str) -> list[dict[str, Any]]:
    """The condition list after applying `desired` to `existing` (a new list; inputs untouched)."""
    by_type = {c["type"]: dict(c) for c in existing}
    for want in desired:
        old = by_type.get(want.type)
        moved = old is None or old.get("status") != want.status
        by_type[want.type] = {
            "type": want.type,
            "status": want.status,
            "reason": want.reason,
            "message": want.message[:32768],
            "lastTransitionTime": now if moved or old is None else old.get("lastTransitionTime", now),
            "observedGeneration": generation,
        }
    order = [c["type"] for c in existing] + [d.type for d in desired if d.type not in {c["type"] for c in existing}]
    return [by_type[t] for t in order]


def find(conditions: list[dict[str, Any]], type_: str) -> dict[str, Any] | None:
    return next((c for c in conditions if c.get("type") == type_), None)


# ---------------------------------------------------------------------------------------------
# Jobs


def _job_condition(job: dict[str, Any], type_: str) -> bool:
    return any(
        c.get("type") == type_ and c.get("status") == "True" for c in (job.get("status") or {}).get("conditions") or []
    )


def job_state(job: dict[str, Any] | None) -> JobState:
    """Where a batch/v1 Job is, from its status (terminal conditions first, then pod counts)."""
    if job is None:
        return "Absent"
    if _job_condition(job, "Complete") or _job_condition(job, "SuccessCriteriaMet"):
        return "Succeeded"
    if _job_condition(job, "Failed") or _job_condition(job, "FailureTarget"):
        return "Failed"
    status = job.get("status") or {}
    if status.get("active") or status.get("succeeded") or status.get("failed") or status.get("ready"):
        return "Running"
    return "Pending"


def job_failure_message(job: dict[str, Any] | None) -> str:
    for c in ((job or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") in ("Failed", "FailureTarget") and c.get("status") == "True":
            return f"{c.get('reason', 'Failed')}: {c.get('message', '')}".strip(": ")
    return "the Job failed"


# ---------------------------------------------------------------------------------------------
# Per kind


def rumsource_ready(deployment: dict[str, Any] | None, desired_replicas: int) -> Desired:
    """Ready when the collector's current template runs on every wanted replica: the Deployment's
    controller has seen its generation, every replica is updated and available, and no pod of an
    older template is left. A rollout past its progress deadline is not Ready, with that reason."""
    if deployment is None:
        return Desired("Ready", "False", "CollectorMissing", "the collector Deployment does not exist yet")
    if desired_replicas == 0:
        return Desired("Ready", "False", "ScaledToZero", "replicas is 0: no collector runs")
    status = deployment.get("status") or {}
    progressing = next((c for c in status.get("conditions") or [] if c.get("type") == "Progressing"), None)
    if progressing and progressing.get("status") == "False" and progressing.get("reason") == "ProgressDeadlineExceeded":
        return Desired(
            "Ready",
            "False",
            "ProgressDeadlineExceeded",
            progressing.get("message") or "the collector rollout did not progress in time",
        )
    available = int(status.get("availableReplicas") or 0)
    updated = int(status.get("updatedReplicas") or 0)
    total = int(status.get("replicas") or 0)
    generation = int((deployment.get("metadata") or {}).get("generation", 0))
    gen_seen = int(status.get("observedGeneration") or 0) >= generation
    message = f"{available}/{desired_replicas} collector replicas available, {updated} updated"
    if gen_seen and updated >= desired_replicas and available >= desired_replicas and total <= updated:
        return Desired("Ready", "True", "CollectorAvailable", message)
    return Desired("Ready", "False", "CollectorProgressing", message)


def batch_ready(kind: str, state: JobState, job: dict[str, Any] | None, produced: str) -> Desired:
    """Ready for SessionSelector and TestSuite from their latest Job."""
    if state == "Succeeded":
        return Desired("Ready", "True", f"{kind}Succeeded", produced)
    if state == "Failed":
        return Desired("Ready", "False", f"{kind}Failed", job_failure_message(job))
    return Desired("Ready", "Unknown", f"{kind}Running", f"the {kind.lower()} Job is {state.lower()}")


def recorded_outcome(kind: str, status: dict[str, Any], job_name: str) -> Desired | None:
    """The Ready condition already recorded for the Job `job_name`, once it finished (its Job may
    have been removed since, by `ttlSecondsAfterFinished`): None when not recorded."""
    if status.get("jobName") != job_name:
        return None
    ready = find(status.get("conditions") or [], "Ready")
    if ready is None or ready.get("reason") not in (f"{kind}Succeeded", f"{kind}Failed"):
        return None
    return Desired("Ready", ready["status"], ready["reason"], ready.get("message", ""))


def scheduled_ready(jobs: list[dict[str, Any]], produced: str) -> Desired:
    """Ready of a scheduled SessionSelector: what its last finished run says (a failed run is not
    Ready); before any run finished, Ready only if an earlier selection exists (`produced`)."""
    finished = [j for j in jobs if job_state(j) in ("Succeeded", "Failed")]
    finished.sort(
        key=lambda j: (
            (j.get("status") or {}).get("completionTime") or (j.get("metadata") or {}).get("creationTimestamp") or ""
        )
    )
    if finished:
        last = finished[-1]
        name = (last.get("metadata") or {}).get("name", "")
        if job_state(last) == "Failed":
            return Desired("Ready", "False", "SelectionFailed", f"scheduled run {name}: {job_failure_message(last)}")
        return Desired("Ready", "True", "SelectionSucceeded", produced or f"scheduled run {name} finished")
    if produced:
        return Desired("Ready", "True", "Scheduled", produced)
    if any(job_state(j) in ("Pending", "Running") for j in jobs):
        return Desired("Ready", "Unknown", "SelectionRunning", "the first scheduled run is running")
    return Desired("Ready", "Unknown", "WaitingForSchedule", "no scheduled run yet")


def replay_conditions(
    state: JobState, job: dict[str, Any] | None, failed: int | None, has_results: bool, ran: int | None = None
) -> tuple[list[Desired], Literal["Pending", "Running", "Succeeded", "Failed"]]:
    """`Succeeded` (Unknown while running) and `Failed`, and the phase for the printer column.

    Succeeded=True means: every shard finished, at least one test ran, and none regressed.
    Regressions, a failed Job, a finished Job without results, or results where every test was
    skipped (`ran` == 0: a gate must not pass on nothing verified) make Failed=True, so
    `kubectl wait` on either condition ends.
    """
    if state in ("Absent", "Pending", "Running"):
        reason = "Pending" if state != "Running" else "Running"
        return [
            Desired("Succeeded", "Unknown", reason, f"replay Job is {state.lower()}"),
            Desired("Failed", "False", reason, ""),
        ], ("Running" if state == "Running" else "Pending")
    if state == "Failed":
        message = job_failure_message(job)
        return [
            Desired("Succeeded", "False", "ReplayJobFailed", message),
            Desired("Failed", "True", "ReplayJobFailed", message),
        ], "Failed"
    if not has_results:
        message = "the replay Job completed but stored no results"
        return [
            Desired("Succeeded", "False", "NoResults", message),
            Desired("Failed", "True", "NoResults", message),
        ], "Failed"
    if ran == 0:
        message = (
            "every test was skipped, nothing was verified (unsafe steps against the recorded origin? "
            "replay a canary or staging target)"
        )
        return [
            Desired("Succeeded", "False", "NothingReplayed", message),
            Desired("Failed", "True", "NothingReplayed", message),
        ], "Failed"
    if failed:
        message = f"{failed} test(s) regressed"
        return [
            Desired("Succeeded", "False", "RegressionsFound", message),
            Desired("Failed", "True", "RegressionsFound", message),
        ], "Failed"
    return [
        Desired("Succeeded", "True", "NoRegressions", "every test passed or was only flaky"),
        Desired("Failed", "False", "NoRegressions", ""),
    ], "Succeeded"
