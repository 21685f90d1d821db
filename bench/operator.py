"""Operator overhead: time from `kubectl apply` of ReplayRuns to their Jobs existing.

200 ReplayRuns are applied at once (one `kubectl apply` of a List); a watch on Jobs records when
each replay Job appears. The reference, measured in the same run on the same API server: the same
200 Jobs (the manifests the operator would build) applied directly. The ratio of the two is the
operator's overhead. Also prints the operator's peak memory (VmHWM).

The operator runs as deployed: with a database (an embedded PostgreSQL in a temporary home, or
`--dsn`), so it provisions the namespace's role and schema and looks up each run's suite revision
(the runs name none, as rollout runs do; revision 1 of the suite is stored first, and its TestSuite
exists), and with leader election on.

    .venv/bin/python bench/operator.py [--count 200] [--rounds 3] [--dsn DSN]   # KUBECONFIG, or a local cluster

Each round measures the reference, then the operator (alternating, so both see the same machine
load as far as it can be had on a shared machine); the ratio printed is the median of the rounds'.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localkube import cluster

ROOT = Path(__file__).resolve().parents[1]


def kubectl(kubeconfig: Path, *args: str, stdin: str | None = None) -> str:
    out = subprocess.run(
        ["kubectl", f"--kubeconfig={kubeconfig}", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if out.returncode != 0:
        raise SystemExit(f"kubectl {' '.join(args)}: {out.stderr}")
    return out.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def watch_jobs(namespace: str, count: int, started: asyncio.Event, t0: list[float]) -> list[float]:
    """Seconds from t0 at which each of `count` new Jobs was seen."""
    from lightkube import AsyncClient
    from lightkube.resources.batch_v1 import Job

    client = AsyncClient()
    seen: dict[str, float] = {}
    try:
        stream = client.watch(Job, namespace=namespace, labels={"app.kubernetes.io/component": "replay"})
        started.set()
        async for kind, job in stream:
            if kind == "ADDED" and job.metadata and job.metadata.name not in seen:
                seen[str(job.metadata.name)] = time.perf_counter() - t0[0]
                if len(seen) >= count:
                    break
    finally:
        await client.close()
    return sorted(seen.values())


async def measure(kubeconfig: Path, namespace: str, docs: list[dict[str, Any]]) -> tuple[list[float], float]:
    """Seconds to each Job seen, and to `kubectl apply` returning (its last object written)."""
    t0 = [0.0]
    started = asyncio.Event()
    watcher = asyncio.create_task(watch_jobs(namespace, len(docs), started, t0))
    await started.wait()
    await asyncio.sleep(1.0)  # the watch is established
    t0[0] = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        "kubectl",
        f"--kubeconfig={kubeconfig}",
        "apply",
        f"--namespace={namespace}",
        "-f",
        "-",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
    )
    await proc.communicate(json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}).encode())
    applied = time.perf_counter() - t0[0]
    return await asyncio.wait_for(watcher, timeout=600), applied


async def store_suite(dsn: str, namespace: str) -> None:
    """The namespace's tenant, with revision 1 of the suite `bench` (what its generation Job stores)."""
    from trodden.operator.tenancy import Tenants

    tenants = await Tenants.open(dsn)
    try:
        store = await tenants.store(namespace)
        await store.pool.execute("INSERT INTO suites (name, source) VALUES ('bench', 'bench')")
        await store.pool.execute("INSERT INTO suite_revisions (suite, revision, ir) VALUES ('bench', 1, '{}')")
    finally:
        await tenants.close()


def wait_for_lease(kubeconfig: Path, namespace: str, timeout: float = 60) -> None:
    """The operator leads (holds its Lease), so it is past start-up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run(
            [
                "kubectl",
                f"--kubeconfig={kubeconfig}",
                "get",
                "lease",
                "trodden-operator",
                f"--namespace={namespace}",
                "-o",
                "jsonpath={.spec.holderIdentity}",
            ],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        if out.strip():
            time.sleep(2)  # kopf lists and starts its watches
            return
        time.sleep(0.5)
    raise SystemExit("the operator did not take its Lease")


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1] if len(values) > 1 else values[0]


def peak_memory_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="reference and operator measured this many times, alternating; the median ratio is kept",
    )
    parser.add_argument("--dsn", default=None, help="the operator's database (default: an embedded one)")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="trodden-bench-home-"))
    embedded = args.dsn is None
    if embedded:
        from trodden.store.embedded import embedded_dsn

        args.dsn = embedded_dsn(home)
    try:
        run(args.count, args.dsn, home, args.rounds)
    finally:
        if embedded:
            from trodden.store.embedded import stop_embedded

            stop_embedded(home)
        shutil.rmtree(home, ignore_errors=True)


@dataclass
class Round:
    direct: list[float]
    direct_applied: float
    operator: list[float]
    operator_applied: float
    cpu: float
    memory: float
    log: Path

    def ratio(self, p: float) -> float:
        return pct(self.operator, p) / pct(self.direct, p)


def run(count: int, dsn: str, home: Path, rounds: int) -> None:
    with cluster() as kubeconfig:
        os.environ["KUBECONFIG"] = str(kubeconfig)
        kubectl(kubeconfig, "apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds"))
        kubectl(kubeconfig, "wait", "--for=condition=Established", "crd/replayruns.trodden.dev")
        done = [one_round(kubeconfig, count, dsn, home) for _ in range(rounds)]

    print(f"{count} objects applied at once; seconds from apply to Job seen by a watch")
    print(f"{'':28}{'p50':>8}{'p99':>8}{'last':>8}{'applied':>9}{'p50 x':>8}{'p99 x':>8}")
    for n, r in enumerate(done, 1):
        print(
            f"{f'round {n}: Jobs direct':28}{pct(r.direct, 50):8.2f}{pct(r.direct, 99):8.2f}{r.direct[-1]:8.2f}"
            f"{r.direct_applied:9.2f}"
        )
        print(
            f"{f'round {n}: via operator':28}{pct(r.operator, 50):8.2f}{pct(r.operator, 99):8.2f}"
            f"{r.operator[-1]:8.2f}{r.operator_applied:9.2f}{r.ratio(50):8.1f}{r.ratio(99):8.1f}"
        )
    print("(applied: when `kubectl apply` returned, its last object written)")
    p50, p99 = statistics.median(r.ratio(50) for r in done), statistics.median(r.ratio(99) for r in done)
    print(f"overhead ratio (operator / direct), median of {rounds} round(s): p50 {p50:.1f}x, p99 {p99:.1f}x")
    print(
        f"operator CPU from apply to the last Job: {', '.join(f'{r.cpu:.2f}' for r in done)} s; "
        f"peak memory: {max(r.memory for r in done):.0f} MiB (logs: {', '.join(str(r.log) for r in done)})"
    )
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f}")


def one_round(kubeconfig: Path, count: int, dsn: str, home: Path) -> Round:
    """The reference, then the operator, each in a new namespace; both removed at the end (waited
    for, so the garbage collector's work is not in the next round)."""
    from trodden.operator import builders
    from trodden.operator.builders import Owner, Runtime
    from trodden.operator.specs import ReplayRunSpec

    suffix = uuid.uuid4().hex[:6]
    direct_ns, operator_ns = f"bench-direct-{suffix}", f"bench-operator-{suffix}"
    for ns in (direct_ns, operator_ns):
        kubectl(kubeconfig, "create", "namespace", ns)

    spec = {"suite": "bench", "target": {"url": "http://127.0.0.1:9"}}
    # Reference: the Jobs the operator would create, applied directly (owner refs dropped: no owners).
    jobs = []
    for i in range(count):
        owner = Owner("ReplayRun", f"run-{i}", direct_ns, uuid.uuid4().hex)
        job = builders.replay_job(owner, ReplayRunSpec.model_validate(spec), Runtime(), revision=1)
        del job["metadata"]["ownerReferences"]
        jobs.append(job)
    direct, direct_applied = asyncio.run(measure(kubeconfig, direct_ns, jobs))

    port, health = free_port(), free_port()
    trodden = shutil.which("trodden", path=str(Path(sys.executable).parent)) or "trodden"
    log_path = Path(tempfile.mkdtemp(prefix="trodden-bench-")) / "operator.log"
    log = log_path.open("wb")
    asyncio.run(store_suite(dsn, operator_ns))
    # The suite's TestSuite, as users have it (waiting for a selector here, so it makes no Job).
    kubectl(
        kubeconfig,
        "apply",
        f"--namespace={operator_ns}",
        "-f",
        "-",
        stdin=json.dumps(
            {
                "apiVersion": "trodden.dev/v1alpha1",
                "kind": "TestSuite",
                "metadata": {"name": "bench"},
                "spec": {"source": "bench", "selectors": ["nightly"]},
            }
        ),
    )
    env = {
        **os.environ,
        "TRODDEN_LOG_LEVEL": os.environ.get("TRODDEN_LOG_LEVEL", "warning"),
        "TRODDEN_DSN": dsn,
        "TRODDEN_HOME": str(home),
    }
    operator = subprocess.Popen(
        [
            trodden,
            "operator",
            "-n",
            operator_ns,
            "--http-port",
            str(port),
            "--health-port",
            str(health),
            "--leader-election",
            "--leader-election-lease",
            f"{operator_ns}/trodden-operator",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_lease(kubeconfig, operator_ns)
        runs = [
            {"apiVersion": "trodden.dev/v1alpha1", "kind": "ReplayRun", "metadata": {"name": f"run-{i}"}, "spec": spec}
            for i in range(count)
        ]
        cpu_before = cpu_seconds(operator.pid)
        via_operator, operator_applied = asyncio.run(measure(kubeconfig, operator_ns, runs))
        cpu = cpu_seconds(operator.pid) - cpu_before
        memory = peak_memory_mib(operator.pid)
    finally:
        operator.send_signal(signal.SIGTERM)
        operator.wait(timeout=30)
        log.close()
    kubectl(kubeconfig, "delete", "namespace", direct_ns, operator_ns, "--timeout=300s")
    return Round(direct, direct_applied, via_operator, operator_applied, cpu, memory, log_path)


if __name__ == "__main__":
    main()
