from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from trodden.operator import conditions
from trodden.operator.conditions import Desired


def test_first_visit_sets_conditions_with_generation() -> None:
    out = conditions.merge([], [Desired("Ready", "Unknown", "Running", "x")], 3, "2024-01-01T00:00:00Z")
    assert out == [
        {
            "type": "Ready",
            "status": "Unknown",
            "reason": "Running",
            "message": "x",
            "lastTransitionTime": "2024-01-01T00:00:00Z",
            "observedGeneration": 3,
        }
    ]


def test_transition_time_moves_only_when_status_changes() -> None:
    first = conditions.merge([], [Desired("Ready", "False", "A", "one")], 1, "T1")
    same = conditions.merge(first, [Desired("Ready", "False", "B", "two")], 2, "T2")
    assert same[0]["lastTransitionTime"] == "T1"
    assert same[0]["reason"] == "B" and same[0]["observedGeneration"] == 2
    flipped = conditions.merge(same, [Desired("Ready", "True", "B", "two")], 2, "T3")
    assert flipped[0]["lastTransitionTime"] == "T3"


def test_other_condition_types_are_kept_in_order() -> None:
    start = [
        {
            "type": "Custom",
            "status": "True",
            "reason": "X",
            "message": "",
            "lastTransitionTime": "T0",
            "observedGeneration": 1,
        }
    ]
    out = conditions.merge(start, [Desired("Ready", "True", "Y")], 1, "T1")
    assert [c["type"] for c in out] == ["Custom", "Ready"]
    assert out[0] == start[0]


@given(
    st.lists(
        st.tuples(st.sampled_from(["Ready", "Failed"]), st.sampled_from(["True", "False", "Unknown"])),
        min_size=1,
        max_size=20,
    )
)
def test_transition_time_changes_exactly_on_status_changes(steps: list[tuple[str, Any]]) -> None:
    conds: list[dict[str, Any]] = []
    last: dict[str, str] = {}
    for i, (type_, status) in enumerate(steps):
        before = conditions.find(conds, type_)
        conds = conditions.merge(conds, [Desired(type_, status, "R")], 1, f"T{i}")
        after = conditions.find(conds, type_)
        assert after is not None
        if before is None or before["status"] != status:
            assert after["lastTransitionTime"] == f"T{i}"
        else:
            assert after["lastTransitionTime"] == last[type_]
        last[type_] = after["lastTransitionTime"]
    assert len({c["type"] for c in conds}) == len(conds)


def _job(*conds: tuple[str, str], **status: int) -> dict[str, Any]:
    return {"status": {"conditions": [{"type": t, "status": s} for t, s in conds], **status}}


def test_job_state() -> None:
    assert conditions.job_state(None) == "Absent"
    assert conditions.job_state({"status": {}}) == "Pending"
    assert conditions.job_state(_job(active=2)) == "Running"
    assert conditions.job_state(_job(("Complete", "True"))) == "Succeeded"
    assert conditions.job_state(_job(("SuccessCriteriaMet", "True"), active=1)) == "Succeeded"
    assert conditions.job_state(_job(("Failed", "True"))) == "Failed"
    assert conditions.job_state(_job(("Failed", "False"), active=1)) == "Running"


def _by_type(desired: list[Desired]) -> dict[str, Desired]:
    return {d.type: d for d in desired}


def test_replay_conditions_cover_every_outcome() -> None:
    running, phase = conditions.replay_conditions("Running", _job(active=1), None, False)
    assert phase == "Running" and _by_type(running)["Succeeded"].status == "Unknown"
    assert _by_type(running)["Failed"].status == "False"

    ok, phase = conditions.replay_conditions("Succeeded", _job(("Complete", "True")), 0, True)
    assert phase == "Succeeded" and _by_type(ok)["Succeeded"].status == "True"

    bad, phase = conditions.replay_conditions("Succeeded", _job(("Complete", "True")), 3, True)
    assert phase == "Failed" and _by_type(bad)["Failed"].reason == "RegressionsFound"
    assert "3 test(s)" in _by_type(bad)["Succeeded"].message

    empty, _ = conditions.replay_conditions("Succeeded", _job(("Complete", "True")), 0, False)
    assert _by_type(empty)["Failed"].status == "True" and _by_type(empty)["Failed"].reason == "NoResults"

    skipped_all, phase = conditions.replay_conditions("Succeeded", _job(("Complete", "True")), 0, True, ran=0)
    assert phase == "Failed" and _by_type(skipped_all)["Failed"].reason == "NothingReplayed"
    assert _by_type(skipped_all)["Succeeded"].status == "False"

    job = {
        "status": {
            "conditions": [
                {
                    "type": "Failed",
                    "status": "True",
                    "reason": "DeadlineExceeded",
                    "message": "Job was active longer than specified deadline",
                }
            ]
        }
    }
    failed, phase = conditions.replay_conditions("Failed", job, None, False)
    assert phase == "Failed" and "DeadlineExceeded" in _by_type(failed)["Failed"].message


def test_rumsource_ready() -> None:
    assert conditions.rumsource_ready(None, 1).status == "False"
    dep = {
        "metadata": {"generation": 2},
        "status": {"observedGeneration": 2, "availableReplicas": 2, "updatedReplicas": 2, "replicas": 2},
    }
    assert conditions.rumsource_ready(dep, 2).status == "True"
    stale = {"metadata": {"generation": 3}, "status": {**dep["status"], "observedGeneration": 2}}
    assert conditions.rumsource_ready(stale, 2).reason == "CollectorProgressing"
    assert conditions.rumsource_ready(dep, 0).reason == "ScaledToZero"
    # A rollout in progress: the old pods are available, the new template is not everywhere yet.
    rolling = {
        "metadata": {"generation": 2},
        "status": {"observedGeneration": 2, "availableReplicas": 2, "updatedReplicas": 1, "replicas": 3},
    }
    assert conditions.rumsource_ready(rolling, 2).status == "False"
    stuck = {
        "metadata": {"generation": 2},
        "status": {
            **rolling["status"],
            "conditions": [
                {
                    "type": "Progressing",
                    "status": "False",
                    "reason": "ProgressDeadlineExceeded",
                    "message": 'ReplicaSet "shop-collector-7f" has timed out progressing.',
                }
            ],
        },
    }
    ready = conditions.rumsource_ready(stuck, 2)
    assert (ready.status, ready.reason) == ("False", "ProgressDeadlineExceeded") and "timed out" in ready.message


def test_batch_ready() -> None:
    assert conditions.batch_ready("Selection", "Succeeded", None, "12 sessions").status == "True"
    assert conditions.batch_ready("Selection", "Running", None, "").status == "Unknown"
    assert conditions.batch_ready("Selection", "Failed", _job(("Failed", "True")), "").status == "False"

    recorded = {
        "jobName": "s-select-2",
        "conditions": [{"type": "Ready", "status": "True", "reason": "SelectionSucceeded", "message": "selection 4"}],
    }
    assert conditions.recorded_outcome("Selection", recorded, "s-select-2") == Desired(
        "Ready", "True", "SelectionSucceeded", "selection 4"
    )
    assert conditions.recorded_outcome("Selection", recorded, "s-select-3") is None
    running = {**recorded, "conditions": [{"type": "Ready", "status": "Unknown", "reason": "SelectionRunning"}]}
    assert conditions.recorded_outcome("Selection", running, "s-select-2") is None


def _run(name: str, state: str, at: str) -> dict[str, Any]:
    conds = {"ok": [("Complete", "True")], "failed": [("Failed", "True")], "running": []}[state]
    job = _job(*conds, **({"active": 1} if state == "running" else {}))
    job["metadata"] = {"name": name, "creationTimestamp": at}
    if state != "running":
        job["status"]["completionTime"] = at
    return job


def test_scheduled_selector_is_as_ready_as_its_last_run() -> None:
    assert conditions.scheduled_ready([], "").reason == "WaitingForSchedule"
    assert conditions.scheduled_ready([_run("a", "running", "T1")], "").status == "Unknown"
    assert conditions.scheduled_ready([], "selection 3: 10 sessions").reason == "Scheduled"
    ok_then_failed = [_run("a", "ok", "T1"), _run("b", "failed", "T2"), _run("c", "running", "T3")]
    ready = conditions.scheduled_ready(ok_then_failed, "selection 3: 10 sessions")
    assert (ready.status, ready.reason) == ("False", "SelectionFailed") and "scheduled run b" in ready.message
    recovered = [*ok_then_failed, _run("d", "ok", "T4")]
    assert conditions.scheduled_ready(recovered, "selection 5: 9 sessions") == Desired(
        "Ready", "True", "SelectionSucceeded", "selection 5: 9 sessions"
    )
