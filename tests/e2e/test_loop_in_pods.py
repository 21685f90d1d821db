"""Trodden's whole loop with every workload in pods on a real node (issue 6, last sentence).

The shop v1 runs as a Deployment of the project image; the operator (a process on this machine,
see below) runs the RumSource's collector as a Deployment; simulated users (API clients and
Chromium users, from this process) shop through the shop Service's ClusterIP, and the shop's
pages load rum.js from the collector Service's ClusterIP; the SessionSelector's selection Job and
the TestSuite's generation Job run in pods; rolling the shop Deployment out to v2 makes the
operator create a ReplayRun (TestSuite ``replayOn``) whose replay pods hit v2 through a canary
Service (same pods, another address than the recorded origin) and store results; the ReplayRun
ends ``Failed`` with the planted regressions in its status.

Choices (see docs/operator.md, "The whole loop in pods"):
- The operator runs on this machine with the kubeconfig, as in ``test_operator.py``: the local API
  server listens on loopback only, so an operator pod would need ``hostNetwork`` and 127.0.0.1;
  the chart's operator Deployment is checked by ``make chart-check``. It watches only this test's
  namespace, so it never meets the session operator of ``test_operator.py`` (which runs after this
  file, and only sees this namespace once it is gone).
- PostgreSQL: the embedded wheel's server listening on the node's address (10.244.0.1), which pods
  and this machine reach and nothing else does (``podpostgres.py``).
- No cluster DNS here: pods and users reach Services by ClusterIP (ReplayRun target ``url``, the
  shop's ``--collector-url``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import localnode
import podpostgres
import pytest
from e2ekube import Kube
from httpwait import answers, json_at

from trodden.store import migrate

API = "trodden.dev/v1alpha1"
ROOT = Path(__file__).resolve().parents[2]
SOURCE = "shop"
SUITE = "shop-suite"
# Markers of planted v2 regressions (examples/shop/regressions.py) in a failed result's findings.
PLANTED = {
    "login-wrong-password-403": "/api/auth/login",
    "order-delivery-null": "estimated_delivery",
    "out-of-stock-error-shape": "error_code",
    "discount-eu-bulk-percent": "/api/cart/codes",
    "checkout-skips-quote": "/api/checkout",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _db(dsn: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    async def go() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(dsn)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    return asyncio.run(go())


@pytest.fixture(scope="module")
def pod_dsn(running_node: None, local_cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated PostgreSQL that pods reach: on the node's address locally, or ``TRODDEN_E2E_POD_DSN``."""
    given = os.environ.get("TRODDEN_E2E_POD_DSN")
    if given:
        dsn_cm: Any = contextlib.nullcontext(given)
    elif local_cluster is None:
        raise pytest.UsageError("set TRODDEN_E2E_POD_DSN to a PostgreSQL DSN that both pods and this machine reach")
    else:
        dsn_cm = podpostgres.running_postgres(tmp_path_factory.mktemp("podpg"), localnode.NODE_IP, localnode.POD_CIDR)
    with dsn_cm as dsn:

        async def migrated() -> None:
            conn = await asyncpg.connect(dsn)
            try:
                await migrate(conn)
            finally:
                await conn.close()

        asyncio.run(migrated())
        yield dsn


class Operator:
    """`trodden operator -n NAMESPACE` as a process on this machine."""

    def __init__(self, kubeconfig: Path, dsn: str, image: str, namespace: str, log_path: Path) -> None:
        self.log_path = log_path
        self.health_port = _free_port()
        env = {
            **os.environ,
            "KUBECONFIG": str(kubeconfig),
            "TRODDEN_DSN": dsn,
            "TRODDEN_IMAGE": image,
            "TRODDEN_LOG_FORMAT": "json",
        }
        trodden = shutil.which("trodden", path=str(Path(sys.executable).parent)) or "trodden"
        with log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [trodden, "operator", "-n", namespace, "--http-port", str(_free_port()),
                 "--health-port", str(self.health_port)],
                env=env, stdout=log, stderr=subprocess.STDOUT,
            )

    def healthy(self) -> bool:
        assert self.proc.poll() is None, f"operator exited: {self.log_tail()}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}/healthz", timeout=2) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log_tail(self, n: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])


def _condition(obj: dict[str, Any] | None, type_: str) -> dict[str, Any]:
    for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == type_:
            return dict(cond)
    return {}


def _shop(image: str, version: int, collector_url: str) -> dict[str, Any]:
    container = {
        "name": "shop",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["/bin/sh", "-c",
                    'exec python3 -m trodden.shop --version "$SHOP_VERSION" --host 0.0.0.0 --port 8080'],
        "env": [
            {"name": "SHOP_VERSION", "value": str(version)},
            {"name": "SHOP_COLLECTOR_URL", "value": collector_url},
            {"name": "SHOP_INGEST_KEY", "valueFrom": {"secretKeyRef": {"name": f"{SOURCE}-ingest-key", "key": "key"}}},
        ],
        "ports": [{"name": "http", "containerPort": 8080}],
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 1},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "shop"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "shop"}},
            # One pod at a time: the replay starts when the old version is gone.
            "strategy": {"type": "Recreate"},
            "template": {"metadata": {"labels": {"app": "shop"}}, "spec": {"containers": [container]}},
        },
    }


def _service(name: str, port: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": "shop"}, "ports": [{"name": "http", "port": port, "targetPort": "http"}]},
    }


def _exists(kube: Kube, ref: str, ns: str) -> bool:
    return kube.run("get", ref, f"--namespace={ns}", check=False).returncode == 0


def _pod_failures(kube: Kube, ns: str) -> str:
    """Why pods are not getting anywhere (for assertion messages)."""
    lines = []
    for pod in kube.get("pods", namespace=ns)["items"]:
        for st in pod.get("status", {}).get("containerStatuses") or []:
            state = st.get("state", {})
            detail = state.get("waiting") or state.get("terminated") or {}
            lines.append(f"{pod['metadata']['name']}: {next(iter(state), '?')} {detail.get('reason', '')}"
                         f" {detail.get('message', '')[:200]}")
    return "\n".join(lines)


def _wait_condition(kube: Kube, kind: str, name: str, ns: str, cond: str, *, timeout: float) -> None:
    result = kube.run("wait", f"--for=condition={cond}", f"{kind}/{name}", f"--namespace={ns}",
                      f"--timeout={int(timeout)}s", timeout=timeout + 30, check=False)
    assert result.returncode == 0, (
        f"{kind}/{name} not {cond}: {result.stderr.strip()}\n{kube.get(kind, name, ns).get('status')}\n"
        f"{_pod_failures(kube, ns)}"
    )


def _verdict(kube: Kube, name: str, ns: str) -> dict[str, Any]:
    """The ReplayRun once Failed or Succeeded is True (a kubectl wait on one alone would sit out the other)."""

    def ended() -> dict[str, Any] | None:
        rr: dict[str, Any] = kube.get("replayrun", name, ns)
        done = "True" in (_condition(rr, "Failed").get("status"), _condition(rr, "Succeeded").get("status"))
        return rr if done else None

    result: dict[str, Any] = kube.wait_for(f"the verdict of ReplayRun {name}", ended, timeout=420, interval=2)
    return result


def _findings(dsn: str, ns: str, name: str) -> str:
    """The stored failures of a ReplayRun's failed tests, as one text."""
    rows = _db(
        dsn,
        "SELECT rr.failures::text AS failures FROM replay_results rr JOIN replay_runs r ON r.id = rr.run_id"
        " WHERE r.run_name LIKE $1 AND rr.outcome IN ('failed', 'error')",
        f"{ns}/{name}/%",
    )
    return " ".join(str(r["failures"]) for r in rows)


def test_the_whole_loop_runs_in_pods(  # noqa: PLR0917 (pytest fixtures)
    kube: Kube, kubeconfig: Path, namespace: str, project_image: str, pod_dsn: str,
    crds_for_loop: None, tmp_path: Path,
) -> None:
    started = time.monotonic()
    operator = Operator(kubeconfig, pod_dsn, project_image, namespace, tmp_path / "operator.log")
    try:
        kube.wait_for("the operator's health endpoint", operator.healthy, timeout=90)

        # 1. The capture point: the operator runs the collector in a pod.
        kube.apply({"apiVersion": API, "kind": "RumSource", "metadata": {"name": SOURCE},
                    "spec": {"replicas": 1, "instrumentation": {"samplingRate": 1.0}}}, namespace=namespace)
        kube.wait_for("the collector Deployment", lambda: _exists(kube, f"deployment/{SOURCE}-collector", namespace),
                      timeout=60)
        kube.run("rollout", "status", f"deployment/{SOURCE}-collector", f"--namespace={namespace}",
                 "--timeout=240s", timeout=260)
        _wait_condition(kube, "rumsource", SOURCE, namespace, "Ready", timeout=120)
        collector_ip = kube.get("service", f"{SOURCE}-collector", namespace)["spec"]["clusterIP"]
        collector_url = f"http://{collector_ip}:8480"
        kube.wait_for("kube-proxy's rules for the collector", lambda: answers(f"{collector_url}/healthz"))
        secret = kube.get("secret", f"{SOURCE}-ingest-key", namespace)
        ingest_key = base64.b64decode(secret["data"]["key"]).decode()

        # 2. Production: shop v1 in a pod, its pages tagged with rum.js from the collector's ClusterIP.
        # "shop" is what users reach (the recorded origin); "shop-canary", the same pods under another
        # address, is what the replays target, as a rollout tool's canary Service would be: replaying
        # POSTs against the recorded origin needs allowUnsafe, which a rollout replay does not set.
        kube.apply(_shop(project_image, 1, collector_url), _service("shop", 8080), _service("shop-canary", 8080),
                   namespace=namespace)
        kube.run("rollout", "status", "deployment/shop", f"--namespace={namespace}", "--timeout=180s", timeout=200)
        shop_ip = kube.get("service", "shop", namespace)["spec"]["clusterIP"]
        shop_url = f"http://{shop_ip}:8080"
        canary_ip = kube.get("service", "shop-canary", namespace)["spec"]["clusterIP"]
        canary_url = f"http://{canary_ip}:8080"
        for url in (shop_url, canary_url):
            kube.wait_for("kube-proxy's rules for the shop", lambda url=url: answers(f"{url}/healthz"))
        with urllib.request.urlopen(f"{shop_url}/", timeout=20) as resp:
            assert f'src="{collector_url}/rum.js"' in resp.read().decode()

        # 3. Users: API clients post their sessions to the collector; Chromium users are captured by rum.js.
        from trodden.shop.traffic.run import TrafficConfig, run_traffic

        report = asyncio.run(run_traffic(TrafficConfig(
            target=shop_url, collector_url=collector_url, ingest_key=ingest_key, api_sessions=60,
            browser_sessions=2, duration_s=150, concurrency=4, browser_concurrency=1, seed=7,
        ))).summary()
        assert report["completed"] >= 50 and report["beacon_failures"] == 0, report

        def captured() -> tuple[int, int, int] | None:
            [row] = _db(pod_dsn, "SELECT count(*) FILTER (WHERE session_id LIKE 'app-%') AS api,"
                        " count(*) FILTER (WHERE session_id NOT LIKE 'app-%') AS web FROM sessions WHERE source = $1",
                        SOURCE)
            [spans] = _db(pod_dsn, "SELECT count(*) AS n FROM spans WHERE source = $1", SOURCE)
            counts = (int(row["api"]), int(row["web"]), int(spans["n"]))
            enough = counts[0] >= report["by_client"].get("api", 0) * 0.9 and counts[1] >= 1 and counts[2] > 0
            return counts if enough else None

        api_sessions, web_sessions, spans = kube.wait_for(
            "the collector pod to store the users' sessions (API, rum.js) and the shop's spans", captured, timeout=120,
            interval=2,
        )

        # 4. Selection and generation Jobs in pods; the suite watches the shop Deployment's rollouts.
        kube.apply(
            {"apiVersion": API, "kind": "SessionSelector", "metadata": {"name": "shop-picks"},
             "spec": {"source": SOURCE, "window": "1d", "budget": 40,
                      "strategies": [{"type": "frequent", "count": 20}, {"type": "rare", "count": 10},
                                     {"type": "errors"}]}},
            {"apiVersion": API, "kind": "TestSuite", "metadata": {"name": SUITE},
             "spec": {"source": SOURCE, "selectors": ["shop-picks"], "generate": {"http": True, "browser": False},
                      "replayOn": {"deployment": "shop", "target": {"url": canary_url}, "retries": 1}}},
            namespace=namespace,
        )
        _wait_condition(kube, "sessionselector", "shop-picks", namespace, "Ready", timeout=240)
        selector = kube.get("sessionselector", "shop-picks", namespace)
        assert selector["status"]["selected"] > 0, selector["status"]
        _wait_condition(kube, "testsuite", SUITE, namespace, "Ready", timeout=300)
        suite = kube.get("testsuite", SUITE, namespace)
        assert suite["status"]["revision"] >= 1 and suite["status"]["tests"] > 0, suite["status"]
        assert suite["status"].get("rolloutTemplateHash"), suite["status"]  # v1 recorded, not replayed
        jobs = {j["metadata"]["labels"]["app.kubernetes.io/component"]: j
                for j in kube.get("jobs", namespace=namespace)["items"]}
        for component in ("select", "generate"):
            assert jobs[component]["status"].get("succeeded") == 1, (component, jobs[component]["status"])
        assert kube.get("replayruns", namespace=namespace)["items"] == []

        # 5. Before the rollout, an explicit ReplayRun against v1: what fails there (test data the
        # capture pseudonymised, such as card tokens) is not what v2 broke.
        kube.apply({"apiVersion": API, "kind": "ReplayRun", "metadata": {"name": "v1-check"},
                    "spec": {"suite": SUITE, "target": {"url": canary_url}, "retries": 1}}, namespace=namespace)
        v1 = _verdict(kube, "v1-check", namespace)
        v1_findings = _findings(pod_dsn, namespace, "v1-check")
        kube.run("delete", "replayrun", "v1-check", f"--namespace={namespace}")

        # 6. A new rollout: v2 with the planted regressions. The operator replays the suite against it.
        kube.run("set", "env", "deployment/shop", "SHOP_VERSION=2", f"--namespace={namespace}")
        kube.run("rollout", "status", "deployment/shop", f"--namespace={namespace}", "--timeout=180s", timeout=200)
        kube.wait_for("v2 behind the canary's ClusterIP",
                      lambda: (json_at(f"{canary_url}/healthz") or {}).get("version") == 2)
        runs = kube.wait_for("the rollout's ReplayRun", lambda: kube.get("replayruns", namespace=namespace)["items"],
                             timeout=120, interval=2)
        [run] = runs
        name = run["metadata"]["name"]
        assert run["spec"]["target"] == {"url": canary_url}
        done = _verdict(kube, name, namespace)
        status = done["status"]
        assert _condition(done, "Failed")["status"] == "True", (status, _pod_failures(kube, namespace))
        assert _condition(done, "Succeeded")["status"] == "False"
        assert status["failed"] > 0 and status["regressions"], status
        # kubectl gates on it as users do.
        _wait_condition(kube, "replayrun", name, namespace, "Failed", timeout=30)
        replay_job = kube.get("job", status["jobName"], namespace)
        assert replay_job["spec"]["completionMode"] == "Indexed"
        assert replay_job["status"].get("succeeded") == replay_job["spec"]["completions"], replay_job["status"]
        # The replay pods stored the findings; planted v2 regressions are among them, and not among v1's.
        findings = _findings(pod_dsn, namespace, name)
        caught = sorted(rid for rid, marker in PLANTED.items() if marker in findings and marker not in v1_findings)
        assert caught, f"no planted regression only in v2's findings: {findings[:2000]}"

        # 7. Feedback: the regressed flows get a sampling boost in the source's instrumentation.
        def boosted() -> str | None:
            config = kube.get("configmap", f"{SOURCE}-instrumentation", namespace)["data"]["config.json"]
            return config if '"regressed"' in config else None

        kube.wait_for("regressed flows boosted in the instrumentation ConfigMap", boosted, timeout=60, interval=2)
        print(f"loop in pods: {api_sessions} API + {web_sessions} browser sessions, {spans} spans;"
              f" {suite['status']['tests']} tests; v1 replay {v1['status']['passed']} passed,"
              f" {v1['status']['failed']} failed; v2 replay {status['passed']} passed, {status['failed']} failed;"
              f" caught only in v2 {caught}; {time.monotonic() - started:.0f}s")
    except BaseException:
        print(f"operator log tail:\n{operator.log_tail()}")
        raise
    finally:
        # Remove our resources while our operator still runs, so nothing of them outlives the test.
        kube.run("delete", "replayruns,testsuites,sessionselectors,rumsources", "--all", f"--namespace={namespace}",
                 "--timeout=60s", check=False, timeout=90)
        operator.stop()


@pytest.fixture(scope="module")
def crds_for_loop(kube: Kube) -> None:
    kube.run("apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds"))
    kube.run("wait", "--for=condition=Established", "--timeout=60s",
             *(f"crd/{p}.trodden.dev" for p in ("rumsources", "sessionselectors", "testsuites", "replayruns")))
