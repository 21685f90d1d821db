"""Several operator replicas, and an operator that goes away (issue 14: HA, deletion that never hangs).

- Stage 1 (operator processes on this machine, leader election on a Lease): the active operator is
  killed (SIGKILL, no goodbye) while a replay runs; the standby takes over within 30 s, with no
  duplicate Job and no result lost, and serves what arrives after the kill.
- Stage 2 (the chart installed for real, `operator.replicas: 2`): the leader's pod is deleted with no
  grace period; the other pod takes the Lease and reconciles. Then the chart is uninstalled while a
  namespace still holds Trodden resources of every kind, and deleting that namespace completes: no
  finalizer waits for an operator that is gone.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from chartrelease import Release
from e2ekube import Kube
from operatorproc import (
    API,
    OperatorProcess,
    complete_job,
    condition,
    create_migrated_database,
    get_or_none,
    install_crds,
    namespace_dsn,
    store_results,
    wait_job,
)

TAKEOVER_LIMIT = 30.0  # seconds, from the leader's death to the standby doing its work


@pytest.fixture(scope="module")
async def ha_dsn(pg_server_dsn: str) -> AsyncIterator[str]:
    yield await create_migrated_database(pg_server_dsn, prefix="ha_")


def _holder(kube: Kube, namespace: str, name: str = "trodden-operator") -> str | None:
    lease = get_or_none(kube, "lease", name, namespace)
    return ((lease or {}).get("spec") or {}).get("holderIdentity")


def _runs_jobs(kube: Kube, namespace: str, run: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = kube.get("jobs", namespace=namespace, **{"trodden.dev/replayrun": run})["items"]
    return items


@pytest.fixture
def two_operators(
    kube: Kube,
    kubeconfig: Path,
    ha_dsn: str,
    namespace: str,
    tmp_path: Path,
) -> Iterator[tuple[OperatorProcess, OperatorProcess]]:
    """Two replicas of `trodden operator --leader-election` serving this test's namespace only."""
    install_crds(kube)
    args = ("--leader-election", "--leader-election-lease", f"{namespace}/trodden-operator", "-n", namespace)
    procs = (
        OperatorProcess(kubeconfig, ha_dsn, tmp_path / "a.log", args=args),
        OperatorProcess(kubeconfig, ha_dsn, tmp_path / "b.log", args=args),
    )
    try:
        yield procs
    finally:
        kube.run(
            "delete",
            "replayruns,rumsources",
            "--all",
            f"--namespace={namespace}",
            "--timeout=60s",
            check=False,
            timeout=90,
        )
        for proc in procs:
            proc.stop()


def _run(name: str, shards: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "ReplayRun",
        "metadata": {"name": name},
        "spec": {"suite": "checkout", "revision": 1, "shards": shards, "target": {"url": "http://shop-v2"}},
    }


def test_killing_the_leader_mid_run_loses_nothing_and_hands_over_quickly(
    kube: Kube, two_operators: tuple[OperatorProcess, OperatorProcess], namespace: str
) -> None:
    first, second = two_operators
    first.start()
    assert first.proc is not None
    leader = kube.wait_for(
        "the first replica leads",
        lambda: (h := _holder(kube, namespace)) and h.endswith(f"-{first.proc.pid}") and h,
        timeout=30,
    )  # type: ignore[union-attr]
    second.start()
    assert second.proc is not None
    kube.wait_for("the second replica stands by", lambda: "standing by" in second.log_tail(20))
    assert _holder(kube, namespace) == leader

    # A replay in progress: its Job made by the leader, one of its two shards done.
    kube.apply(_run("midway", shards=2), namespace=namespace)
    job = wait_job(kube, namespace, "replay", "midway")
    rr = kube.get("replayrun", "midway", namespace)
    run_name = f"{namespace}/midway/{rr['metadata']['uid'][:8]}"
    dsn = namespace_dsn(kube, namespace)
    store_results(dsn, run_name, [("a", "passed", None), ("b", "passed", None)], shard="0/2")

    first.proc.kill()  # no cleanup, no Lease release: as a crashed or partitioned pod
    first.proc.wait()
    first.proc = None
    died = time.monotonic()

    # While no one leads: the other shard finishes, and a new run arrives.
    store_results(dsn, run_name, [("c", "failed", {"kind": "status", "expected": 200, "actual": 500})], shard="1/2")
    complete_job(kube, namespace, job["metadata"]["name"])
    kube.apply(_run("after"), namespace=namespace)

    successor = kube.wait_for(
        "the standby takes the Lease",
        lambda: (h := _holder(kube, namespace)) and h != leader and h,
        timeout=TAKEOVER_LIMIT + 10,
        interval=0.2,
    )
    took_over = time.monotonic() - died
    assert successor.endswith(f"-{second.proc.pid}")
    wait_job(kube, namespace, "replay", "after", timeout=TAKEOVER_LIMIT)
    kube.run("wait", "--for=condition=Failed", "replayrun/midway", f"--namespace={namespace}", "--timeout=30s")
    served = time.monotonic() - died
    assert took_over < TAKEOVER_LIMIT and served < TAKEOVER_LIMIT, (took_over, served)

    midway = kube.get("replayrun", "midway", namespace)
    assert (midway["status"]["passed"], midway["status"]["failed"], midway["status"]["total"]) == (2, 1, 3)
    assert condition(midway, "Succeeded")["reason"] == "RegressionsFound"  # type: ignore[index]
    assert [j["metadata"]["uid"] for j in _runs_jobs(kube, namespace, "midway")] == [job["metadata"]["uid"]]
    assert len(_runs_jobs(kube, namespace, "after")) == 1
    lease = kube.get("lease", "trodden-operator", namespace)
    assert lease["spec"]["leaseTransitions"] >= 1

    # A clean stop releases the Lease at once: the next replica need not wait for it to expire.
    second.stop()
    kube.wait_for("released", lambda: not _holder(kube, namespace), timeout=10)


# ---------------------------------------------------------------------------------------------
# Stage 2: the chart


def _leader_pod(kube: Kube, release: Release) -> str | None:
    return _holder(kube, release.namespace, f"{release.fullname}-operator")


@pytest.mark.usefixtures("running_node")
def test_chart_with_two_replicas_hands_over_then_uninstalls_without_stranding_a_namespace(
    kube: Kube, namespace: str, install_chart: Callable[..., Release]
) -> None:
    served = f"e2e-ha-served-{uuid.uuid4().hex[:5]}"
    kube.run("create", "namespace", served)
    try:
        release = install_chart(namespace, {"operator": {"replicas": 2, "watchNamespaces": [served]}})
        pods = kube.wait_for(
            "two operator pods ready",
            lambda: (
                (p := release.operator_pods())
                and len(
                    [
                        x
                        for x in p
                        if any(
                            c["type"] == "Ready" and c["status"] == "True" for c in x["status"].get("conditions") or []
                        )
                    ]
                )
                == 2
                and p
            ),
            timeout=120,
        )
        leader = kube.wait_for("a leader", lambda: _leader_pod(kube, release), timeout=60)
        assert leader in {p["metadata"]["name"] for p in pods}
        # Resources of every kind, none of which makes pods here (no replica, a schedule, waiting).
        kube.apply(
            {"apiVersion": API, "kind": "RumSource", "metadata": {"name": "shop"}, "spec": {"replicas": 0}},
            {
                "apiVersion": API,
                "kind": "SessionSelector",
                "metadata": {"name": "nightly"},
                "spec": {"source": "shop", "schedule": "0 3 * * *", "strategies": [{"type": "errors"}]},
            },
            {
                "apiVersion": API,
                "kind": "TestSuite",
                "metadata": {"name": "checkout"},
                "spec": {"source": "shop", "selectors": ["nightly"]},
            },
            {
                "apiVersion": API,
                "kind": "ReplayRun",
                "metadata": {"name": "before"},
                "spec": {"suite": "checkout", "target": {"url": "http://shop"}},
            },
            namespace=served,
        )
        for kind, name in (("rumsource", "shop"), ("sessionselector", "nightly"), ("testsuite", "checkout")):
            kube.wait_for(
                f"{kind}/{name} reconciled",
                lambda k=kind, n=name: condition(kube.get(k, n, served), "Ready"),
                timeout=90,
            )

        kube.run("delete", "pod", leader, f"--namespace={namespace}", "--grace-period=0", "--force")
        died = time.monotonic()
        kube.wait_for(
            "another pod leads",
            lambda: (h := _leader_pod(kube, release)) and h != leader,
            timeout=TAKEOVER_LIMIT + 10,
            interval=0.5,
        )
        kube.apply(
            {
                "apiVersion": API,
                "kind": "ReplayRun",
                "metadata": {"name": "after"},
                "spec": {"suite": "checkout", "target": {"url": "http://shop"}},
            },
            namespace=served,
        )
        kube.wait_for(
            "the new leader reconciles",
            lambda: condition(kube.get("replayrun", "after", served), "Succeeded"),
            timeout=TAKEOVER_LIMIT,
        )
        assert time.monotonic() - died < TAKEOVER_LIMIT

        # The chart goes while the namespace still holds Trodden resources; deleting it must not wait.
        result = subprocess.run(
            [
                release.helm,
                "uninstall",
                release.name,
                "--namespace",
                namespace,
                f"--kubeconfig={kube.kubeconfig}",
                "--wait",
                "--timeout",
                "120s",
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=180,
        )
        assert result.returncode == 0, result.stderr
        stuck = [
            (i["kind"], i["metadata"]["name"])
            for kind in ("rumsources", "sessionselectors", "testsuites", "replayruns")
            for i in kube.get(kind, namespace=served)["items"]
            if i["metadata"].get("finalizers")
        ]
        assert not stuck, stuck
        deleted = kube.run("delete", "namespace", served, "--timeout=120s", check=False, timeout=150)
        assert deleted.returncode == 0, deleted.stderr + json.dumps(get_or_none(kube, "namespace", served, "default"))
    finally:
        kube.run("delete", "namespace", served, "--wait=false", "--ignore-not-found", check=False)
