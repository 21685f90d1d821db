"""Shared by the operator e2e tests: the operator as a real process, and what a kubelet would do.

`test_operator.py` (cluster-admin kubeconfig) and `test_rbac.py` (the chart's ServiceAccount) both
start `trodden operator` with these helpers, so they test the same process the same way.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from e2ekube import Kube

from trodden.store import migrate

ROOT = Path(__file__).resolve().parents[2]
API = "trodden.dev/v1alpha1"
CRD_PLURALS = ("rumsources", "sessionselectors", "testsuites", "replayruns")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def install_crds(kube: Kube) -> None:
    """The committed CRDs, applied and Established."""
    kube.run("apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds"))
    kube.run(
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        *(f"crd/{p}.trodden.dev" for p in CRD_PLURALS),
    )


async def create_migrated_database(pg_server_dsn: str, prefix: str = "op_e2e_") -> str:
    """A new database on the session's PostgreSQL server, migrated; its DSN."""
    name = prefix + uuid.uuid4().hex[:8]
    admin = await asyncpg.connect(pg_server_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    before, sep, after = pg_server_dsn.partition("?")
    dsn = f"{before.rsplit('/', 1)[0]}/{name}{sep}{after}"
    conn = await asyncpg.connect(dsn)
    await migrate(conn)
    await conn.close()
    return dsn


def namespace_dsn(kube: Kube, namespace: str, timeout: float = 60, via: str | None = None) -> str:
    """The DSN of the namespace's own database role, from the Secret `trodden-tenant-dsn` the operator
    creates there (what the namespace's pods get): the data of that namespace is read and written
    with it, as those pods would. `via`: a DSN of the same database this machine reaches (the
    Secret names the database by a cluster address); its host, port and options are used."""
    import base64
    from urllib.parse import urlsplit, urlunsplit

    secret = kube.wait_for(
        f"secret trodden-tenant-dsn in {namespace}",
        lambda: get_or_none(kube, "secret", "trodden-tenant-dsn", namespace),
        timeout=timeout,
    )
    dsn = base64.b64decode(secret["data"]["dsn"]).decode()
    if via is None:
        return dsn
    ours, reach = urlsplit(dsn), urlsplit(via)
    credentials = ours.netloc.rpartition("@")[0]
    return urlunsplit(reach._replace(netloc=f"{credentials}@{reach.netloc.rpartition('@')[2]}"))


def webhook_token(kube: Kube, namespace: str, timeout: float = 60) -> str:
    """The namespace's Flagger webhook token, from the Secret `trodden-webhook-token` the operator creates."""
    import base64

    secret = kube.wait_for(
        f"secret trodden-webhook-token in {namespace}",
        lambda: get_or_none(kube, "secret", "trodden-webhook-token", namespace),
        timeout=timeout,
    )
    return base64.b64decode(secret["data"]["token"]).decode()


def store_selection(dsn: str, source: str, name: str, sessions: list[str], journeys: int = 3) -> int:
    """A selection as `trodden select --name NAME` stores it (its stats as the selection model has
    them); its id."""
    from trodden.synthesis.selection import SelectionStats

    stats = SelectionStats(
        sessions=len(sessions) * 5,
        steps=len(sessions) * 40,
        journeys=journeys,
        clusters=journeys,
        candidates=len(sessions),
        selected=len(sessions),
        strategies={},
        routes=4,
        units_covered=6,
    )

    async def go() -> int:
        conn = await asyncpg.connect(dsn)
        try:
            sel = int(
                await conn.fetchval(
                    "INSERT INTO selections (source, name, params, stats) VALUES ($1, $2, '{}',"
                    " $3::jsonb) RETURNING id",
                    source,
                    name,
                    stats.model_dump_json(),
                )
            )
            await conn.executemany(
                "INSERT INTO selection_items VALUES ($1, $2, $3, $4, '[]')",
                [(sel, rank, sid, f"sig-{sid}") for rank, sid in enumerate(sessions, 1)],
            )
            return sel
        finally:
            await conn.close()

    return asyncio.run(go())


def store_suite_revision(dsn: str, suite: str, revision: int, source: str = "shop") -> None:
    """A suite revision in the store, as a generation Job would leave it (its IR left empty)."""

    async def go() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(
                "INSERT INTO suites (name, source) VALUES ($1, $2) ON CONFLICT DO NOTHING", suite, source
            )
            await conn.execute(
                "INSERT INTO suite_revisions (suite, revision, ir) VALUES ($1, $2, '{}')", suite, revision
            )
        finally:
            await conn.close()

    asyncio.run(go())


class OperatorProcess:
    """`trodden operator` as a real process, restartable (to test restarts mid-run)."""

    def __init__(self, kubeconfig: Path, dsn: str, log_path: Path, args: tuple[str, ...] = ()) -> None:
        self.kubeconfig, self.dsn, self.log_path = kubeconfig, dsn, log_path
        self.args = args
        self.http_port = free_port()
        self.health_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "TRODDEN_DSN": self.dsn,
            "TRODDEN_IMAGE": "localhost/trodden:e2e",
            "TRODDEN_LOG_FORMAT": "json",
        }
        trodden = shutil.which("trodden", path=str(Path(sys.executable).parent)) or "trodden"
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                trodden,
                "operator",
                "--http-port",
                str(self.http_port),
                "--health-port",
                str(self.health_port),
                *self.args,
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"operator exited: {self.log_tail()}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"operator not healthy: {self.log_tail()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log_tail(self, n: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])


def condition(obj: dict[str, Any], type_: str) -> dict[str, Any] | None:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c["type"] == type_), None)


def get_or_none(kube: Kube, kind: str, name: str, ns: str) -> dict[str, Any] | None:
    result = kube.run("get", kind, name, f"--namespace={ns}", "-o", "json", check=False)
    return json.loads(result.stdout) if result.returncode == 0 else None


def wait_job(kube: Kube, ns: str, component: str, owner: str, timeout: float = 60) -> dict[str, Any]:
    def find() -> dict[str, Any] | None:
        items = kube.get(
            "jobs", namespace=ns, **{"app.kubernetes.io/component": component, "app.kubernetes.io/instance": owner}
        )["items"]
        return items[0] if items else None

    job: dict[str, Any] = kube.wait_for(f"{component} job of {owner}", find, timeout=timeout)
    return job


def complete_job(kube: Kube, ns: str, name: str, *, failed: bool = False) -> None:
    """What the job controller writes once every indexed pod finished (no kubelet in stage 1)."""
    job = kube.get("job", name, ns)
    n = int(job["spec"].get("completions") or 1)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if failed:
        conds = [
            {
                "type": "FailureTarget",
                "status": "True",
                "reason": "BackoffLimitExceeded",
                "message": "Job has reached the specified backoff limit",
                "lastTransitionTime": now,
            },
            {
                "type": "Failed",
                "status": "True",
                "reason": "BackoffLimitExceeded",
                "message": "Job has reached the specified backoff limit",
                "lastTransitionTime": now,
            },
        ]
        status = {
            "startTime": job["status"].get("startTime") or now,
            "failed": 1,
            "active": 0,
            "ready": 0,
            "conditions": conds,
        }
    else:
        conds = [
            {
                "type": "SuccessCriteriaMet",
                "status": "True",
                "reason": "CompletionsReached",
                "message": "Reached expected number of succeeded pods",
                "lastTransitionTime": now,
            },
            {
                "type": "Complete",
                "status": "True",
                "reason": "CompletionsReached",
                "message": "Reached expected number of succeeded pods",
                "lastTransitionTime": now,
            },
        ]
        status = {
            "startTime": job["status"].get("startTime") or now,
            "completionTime": now,
            "succeeded": n,
            "active": 0,
            "ready": 0,
            "conditions": conds,
        }
        if job["spec"].get("completionMode") == "Indexed":
            status["completedIndexes"] = "0" if n == 1 else f"0-{n - 1}"
    # The job controller keeps writing `active` while it waits for pods; retry on conflicts.
    for _ in range(10):
        current = kube.get("job", name, ns)
        body = {"metadata": {"resourceVersion": current["metadata"]["resourceVersion"]}, "status": status}
        result = kube.run(
            "patch",
            "job",
            name,
            f"--namespace={ns}",
            "--subresource=status",
            "--type=merge",
            "-p",
            json.dumps(body),
            check=False,
        )
        if result.returncode == 0:
            return
        time.sleep(0.5)
    raise AssertionError(f"could not complete job {name}: {result.stderr}")


# Pods of these Deployments are never scheduled (no node has the label), so no kubelet reports on
# them, with or without a node; `finish_rollout` reports for it.
NO_NODE = {"trodden.dev/e2e-node": "none"}


def watched_deployment(name: str, image: str, replicas: int = 1) -> dict[str, Any]:
    """A Deployment for `replayOn` tests whose rollouts the test finishes with `finish_rollout`."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"nodeSelector": NO_NODE, "containers": [{"name": name, "image": image}]},
            },
        },
    }


def finish_rollout(kube: Kube, ns: str, name: str, timeout: float = 90) -> dict[str, Any]:
    """What a kubelet would report: the Deployment's pods Ready, until its rollout has finished.

    (A Deployment at zero replicas never finishes a rollout for the operator: nothing to replay.)"""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    ready = {
        "status": {
            "phase": "Running",
            "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": now},
                {"type": "ContainersReady", "status": "True", "lastTransitionTime": now},
            ],
        }
    }

    def finished() -> dict[str, Any] | None:
        for pod in kube.get("pods", namespace=ns, app=name)["items"]:
            conds = {c["type"]: c["status"] for c in pod.get("status", {}).get("conditions") or []}
            if conds.get("Ready") != "True" and not pod["metadata"].get("deletionTimestamp"):
                kube.run(
                    "patch",
                    "pod",
                    pod["metadata"]["name"],
                    f"--namespace={ns}",
                    "--subresource=status",
                    "--type=merge",
                    "-p",
                    json.dumps(ready),
                    check=False,
                )
        dep: dict[str, Any] = kube.get("deployment", name, ns)
        st, want = dep.get("status") or {}, dep["spec"].get("replicas", 1)
        done = (
            st.get("observedGeneration", 0) >= dep["metadata"]["generation"]
            and st.get("updatedReplicas", 0) == st.get("availableReplicas", 0) == st.get("replicas", 0) == want
        )
        return dep if done else None

    result: dict[str, Any] = kube.wait_for(f"the rollout of deployment/{name}", finished, timeout=timeout, interval=1)
    return result


def stored_failure(failure: dict[str, Any]) -> dict[str, Any]:
    """A failure as replay pods store it: a `Failure` of the replay results model, dumped as JSON.
    The test gives what matters to it (kind, expected, actual, endpoint ...); the model's other
    required fields get plain values (an assertion's "no" on the response status)."""
    from trodden.replay.results import Failure

    kind = str(failure.get("kind", "status"))
    given = {"source": "assertion", "assertion_id": kind, "kind": kind, "description": f"{kind} as recorded", **failure}
    return Failure.model_validate(given).model_dump(mode="json")


def store_results(
    dsn: str, run_name: str, outcomes: list[tuple[str, str, dict[str, Any] | None]], shard: str = "0/1"
) -> None:
    """What a `trodden replay --run-name RUN --shard I/N` pod stores: its run row and test results."""

    async def go() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            run_id = await conn.fetchval(
                "INSERT INTO replay_runs (suite, revision, target, shard, shard_count, run_name, status, finished_at)"
                " VALUES ('suite', 1, 'http://target', $2, $3, $1, 'passed', now()) RETURNING id",
                run_name,
                shard,
                int(shard.split("/")[1]),
            )
            for test_id, outcome, failure in outcomes:
                await conn.execute(
                    "INSERT INTO replay_results (run_id, test_id, outcome, attempts, duration_ms, failures)"
                    " VALUES ($1, $2, $3, 1, 10.0, $4::jsonb)",
                    run_id,
                    test_id,
                    outcome,
                    json.dumps([stored_failure(failure)] if failure else []),
                )
        finally:
            await conn.close()

    asyncio.run(go())
