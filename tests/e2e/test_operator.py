"""The operator against a real API server (stage 1: no kubelet, so pods never run).

What a kubelet would do is simulated where needed, at the same interfaces it uses: a replay Job's
completion is written to the Job's status subresource, and its results into the store, as replay
pods would. Everything else is real: CRD validation (OpenAPI + CEL) in kube-apiserver, server-side
apply, garbage collection by ownerReferences in kube-controller-manager, the operator process.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from e2ekube import Kube
from operatorproc import (
    API,
    OperatorProcess,
    complete_job,
    condition,
    create_migrated_database,
    finish_rollout,
    free_port,
    get_or_none,
    install_crds,
    namespace_dsn,
    store_selection,
    store_suite_revision,
    stored_failure,
    wait_job,
    watched_deployment,
    webhook_token,
)

from trodden.models.instrumentation import InstrumentationConfig

# ---------------------------------------------------------------------------------------------
# Fixtures

RETENTION = 6


@pytest.fixture(scope="session")
def crds_installed(kube: Kube) -> None:
    install_crds(kube)


@pytest.fixture(scope="session")
async def operator_dsn(pg_server_dsn: str) -> AsyncIterator[str]:
    yield await create_migrated_database(pg_server_dsn)


# Module scope: stopped when this file's tests end, so the operator of a later file (test_rbac.py,
# under the chart's RBAC) is the only one reconciling its namespace.
@pytest.fixture(scope="module")
def operator(
    kubeconfig: Path, crds_installed: None, operator_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    # Deleted resources' data is kept 6 s here (7 days by default), swept every 2 s.
    proc = OperatorProcess(
        kubeconfig,
        operator_dsn,
        tmp_path_factory.mktemp("operator") / "operator.log",
        args=("--deleted-retention", f"{RETENTION}s", "--sweep-interval", "2"),
    )
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


def _db(dsn: str, sql: str, *args: Any) -> Any:
    async def go() -> Any:
        from trodden.store import _init_connection

        conn = await asyncpg.connect(dsn)
        await _init_connection(conn)
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()

    return asyncio.run(go())


def _store_results(
    dsn: str, run_name: str, outcomes: list[tuple[str, str, dict[str, Any] | None]], shards: int = 1
) -> None:
    """What `trodden replay --run-name` pods store: one run row per shard and their test results."""
    for shard in range(shards):
        [row] = _db(
            dsn,
            "INSERT INTO replay_runs (suite, revision, target, shard, shard_count, run_name, status,"
            " finished_at) VALUES ('checkout', 1, 'http://shop', $1, $2, $3, 'passed', now())"
            " RETURNING id",
            f"{shard}/{shards}",
            shards,
            run_name,
        )
        for test_id, outcome, failure in outcomes[shard::shards]:
            _db(
                dsn,
                "INSERT INTO replay_results (run_id, test_id, outcome, attempts, duration_ms, flaky_cause,"
                " failures) VALUES ($1, $2, $3, 2, 12.5, $4, $5)",
                row["id"],
                test_id,
                outcome,
                "timing" if outcome == "flaky" else None,
                [stored_failure(failure)] if failure else [],
            )


def _gate(kube: Kube, operator: OperatorProcess, namespace: str, token: str | None = None, **metadata: str) -> int:
    """POST a Flagger webhook call to the operator (with the namespace's token unless one is given,
    "" for none); the HTTP status it answers."""
    token = webhook_token(kube, namespace) if token is None else token
    req = urllib.request.Request(
        f"http://127.0.0.1:{operator.http_port}/flagger/replayrun",
        method="POST",
        data=json.dumps(
            {"name": "shop", "namespace": namespace, "metadata": {**metadata, **({"token": token} if token else {})}}
        ).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return int(r.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def _run_name(rr: dict[str, Any]) -> str:
    meta = rr["metadata"]
    return f"{meta['namespace']}/{meta['name']}/{meta['uid'][:8]}"


def _replayrun(name: str, suite: str = "checkout", **spec: Any) -> dict[str, Any]:
    """A ReplayRun of revision 1 (tests without a suite in the store name the revision; without one
    the operator waits for the suite's first revision)."""
    return {
        "apiVersion": API,
        "kind": "ReplayRun",
        "metadata": {"name": name},
        "spec": {"suite": suite, "revision": 1, "target": {"service": {"name": "shop-v2", "port": 8080}}, **spec},
    }


def _reason(kube: Kube, target: str, namespace: str, type_: str, reason: str, *, timeout: int = 60) -> None:
    """`kubectl wait` until the condition `type_` of `target` (kind/name) has `reason`, as a user
    gating on it would."""
    waited = kube.run(
        "wait",
        f'--for=jsonpath={{.status.conditions[?(@.type=="{type_}")].reason}}={reason}',
        target,
        f"--namespace={namespace}",
        f"--timeout={timeout}s",
        check=False,
    )
    kind, _, name = target.partition("/")
    obj = get_or_none(kube, kind, name, namespace)
    assert waited.returncode == 0, f"{kind}/{name}: {type_} reason never {reason}: {waited.stderr} {obj}"


def _rumsource(name: str = "shop", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": API, "kind": "RumSource", "metadata": {"name": name}, "spec": spec}


# ---------------------------------------------------------------------------------------------
# CRDs and validation


def test_crds_install_with_categories_and_printer_columns(kube: Kube, crds_installed: None, namespace: str) -> None:
    kube.apply(_replayrun("shown", shards=2), namespace=namespace)
    table = kube.run("get", "trodden", f"--namespace={namespace}").stdout
    assert "replayrun.trodden.dev/shown" in table
    header = kube.run("get", "rr", f"--namespace={namespace}").stdout.splitlines()[0].split()
    assert header == ["NAME", "SUITE", "TARGET", "PASSED", "FAILED", "FLAKY", "SUCCEEDED", "AGE"]
    rr = kube.get("replayrun", "shown", namespace)
    # Defaults come from the schema.
    assert rr["spec"]["retries"] == 2 and rr["spec"]["target"]["service"]["scheme"] == "http"


BAD_SPECS: list[tuple[str, dict[str, Any], str]] = [
    ("replayrun without target", {"kind": "ReplayRun", "spec": {"suite": "s"}}, "spec.target: Required value"),
    (
        "replayrun with url and service",
        {"kind": "ReplayRun", "spec": {"suite": "s", "target": {"url": "http://a", "service": {"name": "b"}}}},
        "set exactly one of url or service",
    ),
    (
        "replayrun with neither url nor service",
        {"kind": "ReplayRun", "spec": {"suite": "s", "target": {}}},
        "set exactly one of url or service",
    ),
    (
        "replayrun with too many shards",
        {"kind": "ReplayRun", "spec": {"suite": "s", "shards": 500, "target": {"url": "http://a"}}},
        "should be less than or equal to 100",
    ),
    (
        "replayrun with a non-URL target",
        {"kind": "ReplayRun", "spec": {"suite": "s", "target": {"url": "ftp://a"}}},
        "spec.target.url",
    ),
    (
        "replayrun with an unknown field",
        {"kind": "ReplayRun", "spec": {"suite": "s", "target": {"url": "http://a"}, "shard": 3}},
        'unknown field "spec.shard"',
    ),
    (
        "selector without strategies",
        {"kind": "SessionSelector", "spec": {"source": "shop", "strategies": []}},
        "spec.strategies: Invalid value: 0: spec.strategies in body should have at least 1 items",
    ),
    (
        "event strategy without event name",
        {"kind": "SessionSelector", "spec": {"source": "shop", "strategies": [{"type": "event"}]}},
        "strategy event needs the event name in `event`",
    ),
    (
        "unknown strategy",
        {"kind": "SessionSelector", "spec": {"source": "shop", "strategies": [{"type": "random"}]}},
        'Unsupported value: "random"',
    ),
    (
        "bad window",
        {"kind": "SessionSelector", "spec": {"source": "shop", "window": "a week", "strategies": [{"type": "errors"}]}},
        "spec.window",
    ),
    (
        "dedup threshold out of range",
        {
            "kind": "SessionSelector",
            "spec": {"source": "shop", "dedupThreshold": 1.5, "strategies": [{"type": "errors"}]},
        },
        "should be less than or equal to 1",
    ),
    (
        "suite generating nothing",
        {"kind": "TestSuite", "spec": {"source": "shop", "generate": {"http": False}}},
        "enable http or browser tests",
    ),
    (
        "login profile without credentials",
        {"kind": "TestSuite", "spec": {"source": "shop", "authProfiles": [{"name": "u", "type": "login"}]}},
        "a login profile needs usernameRef and passwordRef",
    ),
    (
        "duplicate auth profile names",
        {
            "kind": "TestSuite",
            "spec": {
                "source": "shop",
                "authProfiles": [
                    {
                        "name": "a",
                        "type": "static",
                        "headers": [{"name": "X", "secretKeyRef": {"name": "s", "key": "k"}}],
                    },
                    {
                        "name": "a",
                        "type": "static",
                        "headers": [{"name": "Y", "secretKeyRef": {"name": "s", "key": "k"}}],
                    },
                ],
            },
        },
        "auth profile names must be unique",
    ),
    ("source with an invalid name", {"kind": "TestSuite", "spec": {"source": "Shop_1"}}, "spec.source"),
    (
        "selector schedule that is not cron",
        {
            "kind": "SessionSelector",
            "spec": {"source": "shop", "schedule": "every day", "strategies": [{"type": "errors"}]},
        },
        "spec.schedule",
    ),
    (
        "rumsource memory that is not a quantity",
        {"kind": "RumSource", "spec": {"resources": {"limits": {"memory": "lots"}}}},
        "spec.resources.limits.memory",
    ),
    (
        "rumsource name too long for its collector Service",
        {"kind": "RumSource", "metadata": {"name": "s" * 54, "namespace": "default"}, "spec": {}},
        "its collector Service is <name>-collector",
    ),
    (
        "rumsource name starting with a digit",
        {"kind": "RumSource", "metadata": {"name": "1shop", "namespace": "default"}, "spec": {}},
        "a RumSource name must start with a letter",
    ),
    (
        "testsuite name with a dot",
        {"kind": "TestSuite", "metadata": {"name": "check.out", "namespace": "default"}, "spec": {"source": "shop"}},
        "a TestSuite name must be a DNS label",
    ),
    (
        "rumsource nodePort without NodePort",
        {"kind": "RumSource", "spec": {"nodePort": 30080}},
        "nodePort needs serviceType NodePort",
    ),
    (
        "rumsource sampling rate above 1",
        {"kind": "RumSource", "spec": {"instrumentation": {"samplingRate": 2}}},
        "spec.instrumentation.samplingRate",
    ),
    (
        "rumsource unknown sanitisation action",
        {
            "kind": "RumSource",
            "spec": {"sanitization": {"rules": [{"kind": "header", "match": "x", "action": "hash"}]}},
        },
        'Unsupported value: "hash"',
    ),
]


@pytest.mark.parametrize(("what", "manifest", "message"), BAD_SPECS, ids=[b[0] for b in BAD_SPECS])
def test_invalid_manifests_are_refused_with_a_readable_message(
    kube: Kube, crds_installed: None, what: str, manifest: dict[str, Any], message: str
) -> None:
    doc = {"apiVersion": API, "metadata": {"name": "bad", "namespace": "default"}, **manifest}
    result = kube.run("apply", "-f", "-", stdin=json.dumps(doc), check=False)
    assert result.returncode != 0, f"{what} was accepted"
    assert message in result.stderr, f"{what}: {result.stderr}"


def test_replayrun_spec_is_immutable(kube: Kube, crds_installed: None, namespace: str) -> None:
    kube.apply(_replayrun("frozen"), namespace=namespace)
    result = kube.run(
        "patch",
        "replayrun",
        "frozen",
        f"--namespace={namespace}",
        "--type=merge",
        "-p",
        '{"spec": {"shards": 3}}',
        check=False,
    )
    assert result.returncode != 0
    assert "ReplayRun spec is immutable; create a new ReplayRun" in result.stderr


# ---------------------------------------------------------------------------------------------
# Reconciliation


def test_rumsource_owns_its_collector_and_deleting_cleans_up(
    kube: Kube, operator: OperatorProcess, namespace: str
) -> None:
    kube.apply(_rumsource(replicas=1), namespace=namespace)
    owned = [
        ("deployment", "shop-collector"),
        ("service", "shop-collector"),
        ("secret", "shop-ingest-key"),
        ("configmap", "shop-sanitization"),
        ("configmap", "shop-instrumentation"),
    ]
    rum = kube.wait_for(
        "RumSource status",
        lambda: (_ := get_or_none(kube, "rumsource", "shop", namespace)) and condition(_, "Ready") and _,
        timeout=60,
    )
    uid = rum["metadata"]["uid"]
    for kind, name in owned:
        obj = kube.get(kind, name, namespace)
        assert obj["metadata"]["ownerReferences"][0]["uid"] == uid, (kind, name)
    dep = json.loads(
        kube.run(
            "get", "deployment", "shop-collector", f"--namespace={namespace}", "-o", "json", "--show-managed-fields"
        ).stdout
    )
    assert any(
        m["manager"] == "trodden-operator" and m["operation"] == "Apply" for m in dep["metadata"]["managedFields"]
    )
    assert dep["spec"]["template"]["spec"]["containers"][0]["args"][:3] == ["collect", "--source", "shop"]
    # Conditions on the first visit; no pods run here, so not Ready, with a reason a person reads.
    ready = condition(rum, "Ready")
    assert ready is not None and ready["status"] == "False" and ready["observedGeneration"] == 1
    assert rum["status"]["endpoint"] == f"http://shop-collector.{namespace}.svc:8480"
    assert rum["status"]["observedGeneration"] == 1 and rum["status"]["sessions"] == 0
    # Kopf's bookkeeping stays out of .status and out of kopf's default annotation prefix.
    assert "kopf" not in rum["status"]
    assert not [a for a in rum["metadata"].get("annotations", {}) if "kopf.zalando.org" in a]
    key = kube.get("secret", "shop-ingest-key", namespace)["data"]["key"]

    # An update reaches the owned objects; the generated key is kept.
    kube.run(
        "patch",
        "rumsource",
        "shop",
        f"--namespace={namespace}",
        "--type=merge",
        "-p",
        '{"spec": {"replicas": 3, "instrumentation": {"samplingRate": 0.5}}}',
    )
    kube.wait_for("replicas 3", lambda: kube.get("deployment", "shop-collector", namespace)["spec"]["replicas"] == 3)
    rum = kube.wait_for(
        "generation 2 observed",
        lambda: (_ := kube.get("rumsource", "shop", namespace))["status"].get("observedGeneration") == 2 and _,
    )
    assert condition(rum, "Ready")["observedGeneration"] == 2  # type: ignore[index]
    config = InstrumentationConfig.model_validate_json(
        kube.get("configmap", "shop-instrumentation", namespace)["data"]["config.json"]
    )
    assert config.sampling.rate == 0.5
    assert kube.get("secret", "shop-ingest-key", namespace)["data"]["key"] == key

    # Deleting the RumSource deletes what it owns (garbage collector in kube-controller-manager).
    kube.run("delete", "rumsource", "shop", f"--namespace={namespace}")
    for kind, name in owned:
        kube.wait_for(
            f"{kind}/{name} deleted", lambda k=kind, n=name: get_or_none(kube, k, n, namespace) is None, timeout=90
        )


def test_replayrun_gates_kubectl_wait_on_success_and_on_regressions(
    kube: Kube, operator: OperatorProcess, namespace: str
) -> None:
    kube.apply(_replayrun("green", shards=3), _replayrun("red"), namespace=namespace)
    green_job = wait_job(kube, namespace, "replay", "green")
    assert green_job["spec"]["completionMode"] == "Indexed" and green_job["spec"]["parallelism"] == 3
    green = kube.wait_for(
        "Succeeded=Unknown",
        lambda: (_ := kube.get("replayrun", "green", namespace)) and condition(_, "Succeeded") and _,
    )
    assert condition(green, "Succeeded")["status"] == "Unknown"  # type: ignore[index]
    assert condition(green, "Failed")["status"] == "False"  # type: ignore[index]
    red = kube.get("replayrun", "red", namespace)
    red_job = wait_job(kube, namespace, "replay", "red")

    _store_results(
        namespace_dsn(kube, namespace),
        _run_name(green),
        [(f"t{i}", "passed", None) for i in range(5)] + [("t-flaky", "flaky", {"endpoint": "GET /cart"})],
        shards=3,
    )
    complete_job(kube, namespace, green_job["metadata"]["name"])
    waited = kube.run(
        "wait", "--for=condition=Succeeded", "replayrun/green", f"--namespace={namespace}", "--timeout=60s", check=False
    )
    assert waited.returncode == 0, waited.stderr
    green = kube.get("replayrun", "green", namespace)
    assert (green["status"]["passed"], green["status"]["failed"], green["status"]["flaky"]) == (5, 0, 1)
    assert green["status"]["phase"] == "Succeeded" and green["status"]["shardsDone"] == 3
    # The result is recorded: the Job may go (the TTL controller removes it an hour after it finished).
    kube.wait_for(
        "ttl on the finished Job",
        lambda: (
            kube.get("job", green_job["metadata"]["name"], namespace)["spec"].get("ttlSecondsAfterFinished") == 3600
        ),
    )

    _store_results(
        namespace_dsn(kube, namespace),
        _run_name(red),
        [
            ("t-ok", "passed", None),
            (
                "t-orders",
                "failed",
                {
                    "endpoint": "GET /orders/{id}",
                    "assertion_id": "status",
                    "kind": "status",
                    "description": "status is 2xx",
                    "expected": 200,
                    "actual": 500,
                },
            ),
        ],
    )
    complete_job(kube, namespace, red_job["metadata"]["name"])
    waited = kube.run(
        "wait", "--for=condition=Failed", "replayrun/red", f"--namespace={namespace}", "--timeout=60s", check=False
    )
    assert waited.returncode == 0, waited.stderr
    red = kube.get("replayrun", "red", namespace)
    assert condition(red, "Succeeded")["reason"] == "RegressionsFound"  # type: ignore[index]
    [reg] = red["status"]["regressions"]
    assert (reg["test"], reg["expected"], reg["actual"]) == ("t-orders", "200", "500")
    assert "status is 2xx" in reg["assertion"]

    # The Flagger gate, over HTTP from the operator process, for callers with the namespace's token.
    def gate(name: str, token: str | None = None) -> int:
        return _gate(kube, operator, namespace, token, replayrun=name)

    assert gate("green") == 200
    assert gate("red") == 409
    assert gate("missing") == 404
    assert gate("green", token="") == 401
    assert gate("green", token="0" * 40) == 403
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{operator.http_port}/metrics", timeout=10).read().decode()
    assert 'trodden_operator_replay_runs_total{outcome="succeeded"}' in metrics


def test_failed_job_fails_the_run(kube: Kube, operator: OperatorProcess, namespace: str) -> None:
    kube.apply(_replayrun("broken"), namespace=namespace)
    job = wait_job(kube, namespace, "replay", "broken")
    complete_job(kube, namespace, job["metadata"]["name"], failed=True)
    kube.run("wait", "--for=condition=Failed", "replayrun/broken", f"--namespace={namespace}", "--timeout=60s")
    rr = kube.get("replayrun", "broken", namespace)
    assert condition(rr, "Succeeded")["status"] == "False"  # type: ignore[index]
    assert "BackoffLimitExceeded" in condition(rr, "Failed")["message"]  # type: ignore[index]


def test_restart_mid_run_neither_duplicates_jobs_nor_loses_results(
    kube: Kube, operator: OperatorProcess, namespace: str
) -> None:
    kube.apply(_rumsource("steady"), _replayrun("midway", shards=2), namespace=namespace)
    job = wait_job(kube, namespace, "replay", "midway")
    kube.wait_for("collector", lambda: get_or_none(kube, "deployment", "steady-collector", namespace))
    kube.wait_for(
        "steady status",
        lambda: (kube.get("rumsource", "steady", namespace).get("status") or {}).get("observedGeneration") == 1,
    )
    dep_version = kube.get("deployment", "steady-collector", namespace)["metadata"]["resourceVersion"]
    rr = kube.get("replayrun", "midway", namespace)

    operator.stop()
    # The shards finish while no operator runs.
    _store_results(
        namespace_dsn(kube, namespace),
        _run_name(rr),
        [("a", "passed", None), ("b", "passed", None), ("c", "flaky", {"endpoint": "GET /x"})],
        shards=2,
    )
    complete_job(kube, namespace, job["metadata"]["name"])
    operator.start()

    kube.run("wait", "--for=condition=Succeeded", "replayrun/midway", f"--namespace={namespace}", "--timeout=60s")
    rr = kube.get("replayrun", "midway", namespace)
    assert (rr["status"]["passed"], rr["status"]["flaky"]) == (2, 1)
    jobs = kube.get("jobs", namespace=namespace, **{"app.kubernetes.io/instance": "midway"})["items"]
    assert [j["metadata"]["uid"] for j in jobs] == [job["metadata"]["uid"]]
    # The resumed RumSource was reconciled again: server-side apply of the same manifests is a no-op.
    kube.wait_for("RumSource resumed", lambda: "resum" in operator.log_tail(400).lower() or True)
    time.sleep(2)
    assert kube.get("deployment", "steady-collector", namespace)["metadata"]["resourceVersion"] == dep_version


def test_flaky_flow_raises_its_sampling_in_the_next_config(
    kube: Kube, operator: OperatorProcess, namespace: str, tmp_path: Path
) -> None:
    kube.apply(
        _rumsource("loop", instrumentation={"samplingRate": 0.1}),
        {"apiVersion": API, "kind": "TestSuite", "metadata": {"name": "loop-suite"}, "spec": {"source": "loop"}},
        namespace=namespace,
    )
    kube.wait_for("instrumentation", lambda: get_or_none(kube, "configmap", "loop-instrumentation", namespace))
    before = InstrumentationConfig.model_validate_json(
        kube.get("configmap", "loop-instrumentation", namespace)["data"]["config.json"]
    )
    assert before.sampling.boosts == []
    kube.apply(_replayrun("loop-run", suite="loop-suite"), namespace=namespace)
    job = wait_job(kube, namespace, "replay", "loop-run")
    rr = kube.get("replayrun", "loop-run", namespace)
    _store_results(
        namespace_dsn(kube, namespace),
        _run_name(rr),
        [("ok", "passed", None), ("cart", "flaky", {"endpoint": "POST /cart/{id}/items", "kind": "status"})],
    )
    complete_job(kube, namespace, job["metadata"]["name"])
    kube.run("wait", "--for=condition=Succeeded", "replayrun/loop-run", f"--namespace={namespace}", "--timeout=60s")

    def fed_back() -> InstrumentationConfig | None:
        cfg = InstrumentationConfig.model_validate_json(
            kube.get("configmap", "loop-instrumentation", namespace)["data"]["config.json"]
        )
        return cfg if cfg.sampling.boosts else None

    after: InstrumentationConfig = kube.wait_for("feedback", fed_back, timeout=30)
    assert after.generation > before.generation
    [boost] = after.sampling.boosts
    assert (boost.route, boost.rate, boost.reason) == ("POST /cart/{id}/items", 1.0, "flaky")

    # The collector serves it at /v1/config, which is what the tag reads next.
    config_file = tmp_path / "config.json"
    config_file.write_text(kube.get("configmap", "loop-instrumentation", namespace)["data"]["config.json"])
    port = free_port()
    trodden = shutil.which("trodden", path=str(Path(sys.executable).parent)) or "trodden"
    collector = subprocess.Popen(
        [
            trodden,
            "collect",
            "--source",
            "loop",
            "--port",
            str(port),
            "--ingest-key",
            "k",
            "--instrumentation-file",
            str(config_file),
            "--dsn",
            namespace_dsn(kube, namespace),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def served() -> dict[str, Any] | None:
            try:
                req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/config?key=k", headers={"X-Trodden-Key": "k"})
                with urllib.request.urlopen(req, timeout=2) as r:
                    return dict(json.loads(r.read()))
            except OSError:
                return None

        doc: dict[str, Any] = kube.wait_for("collector /v1/config", served, timeout=30)
        assert doc["generation"] == after.generation
        assert {"route": "POST /cart/{id}/items", "rate": 1.0, "reason": "flaky"}.items() <= doc["sampling"]["boosts"][
            0
        ].items()
    finally:
        collector.terminate()
        collector.wait(timeout=20)


def test_selection_then_generation_jobs_chain(kube: Kube, operator: OperatorProcess, namespace: str) -> None:
    source = f"chain{uuid.uuid4().hex[:6]}"
    kube.apply(
        {
            "apiVersion": API,
            "kind": "SessionSelector",
            "metadata": {"name": "picks"},
            "spec": {
                "source": source,
                "budget": 25,
                "strategies": [{"type": "frequent", "count": 5}, {"type": "errors"}],
            },
        },
        {
            "apiVersion": API,
            "kind": "TestSuite",
            "metadata": {"name": "chain-suite"},
            "spec": {"source": source, "selectors": ["picks"]},
        },
        namespace=namespace,
    )
    select_job = wait_job(kube, namespace, "select", "picks")
    args = select_job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[:5] == ["select", "--source", source, "--name", "picks"] and "frequent:5" in args
    suite = kube.wait_for(
        "suite waits", lambda: (_ := kube.get("testsuite", "chain-suite", namespace)) and condition(_, "Ready") and _
    )
    assert condition(suite, "Ready")["reason"] == "WaitingForSelection"  # type: ignore[index]

    sel = {"id": store_selection(namespace_dsn(kube, namespace), source, "picks", ["s1", "s2"])}
    complete_job(kube, namespace, select_job["metadata"]["name"])
    picked = kube.wait_for(
        "selection in status",
        lambda: (_ := kube.get("sessionselector", "picks", namespace))["status"].get("selectionId") and _,
        timeout=60,
    )
    assert picked["status"]["selected"] == 2 and condition(picked, "Ready")["status"] == "True"  # type: ignore[index]

    gen_job = wait_job(kube, namespace, "generate", "chain-suite", timeout=60)
    gen_args = gen_job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert gen_args[gen_args.index("--selection") + 1] == str(sel["id"])
    _db(namespace_dsn(kube, namespace), "INSERT INTO suites (name, source) VALUES ('chain-suite', $1)", source)
    _db(
        namespace_dsn(kube, namespace),
        "INSERT INTO suite_revisions (suite, revision, ir, stats) VALUES ('chain-suite', 1, '{}',"
        ' \'{"tests": 2, "assertions": 11}\')',
    )
    complete_job(kube, namespace, gen_job["metadata"]["name"])
    kube.run("wait", "--for=condition=Ready", "testsuite/chain-suite", f"--namespace={namespace}", "--timeout=60s")
    suite = kube.get("testsuite", "chain-suite", namespace)
    assert (suite["status"]["revision"], suite["status"]["tests"], suite["status"]["assertions"]) == (1, 2, 11)
    assert gen_job["metadata"]["name"] == "chain-suite-gen-1" and suite["status"]["jobCount"] == 1

    # A new mining option is a new input: a second generation Job. Reverting it is a third (the
    # counter, not a hash of the spec, names the Job, so going back does not find the first one).
    def generation_jobs() -> list[str]:
        return sorted(
            j["metadata"]["name"]
            for j in kube.get("jobs", namespace=namespace, **{"app.kubernetes.io/component": "generate"})["items"]
        )

    for min_support, expected in ((7, "chain-suite-gen-2"), (3, "chain-suite-gen-3")):
        kube.run(
            "patch",
            "testsuite",
            "chain-suite",
            f"--namespace={namespace}",
            "--type=merge",
            "-p",
            json.dumps({"spec": {"mining": {"minSupport": min_support}}}),
        )
        kube.wait_for(expected, lambda e=expected: e in generation_jobs())
    assert generation_jobs() == ["chain-suite-gen-1", "chain-suite-gen-2", "chain-suite-gen-3"]


def test_new_rollout_creates_a_replayrun(kube: Kube, operator: OperatorProcess, namespace: str) -> None:
    deployment = watched_deployment("web", "shop:1")
    kube.apply(
        deployment,
        {
            "apiVersion": API,
            "kind": "TestSuite",
            "metadata": {"name": "web-suite"},
            "spec": {"source": "web", "replayOn": {"deployment": "web", "target": {"service": {"name": "web"}}}},
        },
        namespace=namespace,
    )
    finish_rollout(kube, namespace, "web")
    kube.wait_for(
        "first template recorded",
        lambda: (kube.get("testsuite", "web-suite", namespace).get("status") or {}).get("rolloutTemplateHash"),
        timeout=60,
    )
    assert kube.get("replayruns", namespace=namespace)["items"] == []
    assert _gate(kube, operator, namespace, testsuite="web-suite") == 425  # no rollout run yet
    kube.run("set", "image", "deployment/web", "web=shop:2", f"--namespace={namespace}")
    finish_rollout(kube, namespace, "web")
    runs = kube.wait_for("rollout ReplayRun", lambda: kube.get("replayruns", namespace=namespace)["items"], timeout=60)
    [run] = runs
    assert run["spec"]["suite"] == "web-suite"
    assert run["metadata"]["ownerReferences"][0]["name"] == "web-suite"
    suite = kube.wait_for(
        "lastReplayRun",
        lambda: (_ := kube.get("testsuite", "web-suite", namespace))["status"].get("lastReplayRun") and _,
    )
    assert suite["status"]["lastReplayRun"] == run["metadata"]["name"]
    assert _gate(kube, operator, namespace, testsuite="web-suite") == 425  # its run has not finished
    # The suite has no revision yet: the run waits for one, then replays that revision in every shard.
    _reason(kube, f"replayrun/{run['metadata']['name']}", namespace, "Succeeded", "WaitingForSuite")
    store_suite_revision(namespace_dsn(kube, namespace), "web-suite", 3, source="web")
    job = wait_job(kube, namespace, "replay", run["metadata"]["name"])
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--revision") + 1] == "3"
    complete_job(kube, namespace, job["metadata"]["name"], failed=True)
    kube.wait_for("gate closed", lambda: _gate(kube, operator, namespace, testsuite="web-suite") == 409)


# ---------------------------------------------------------------------------------------------
# Failures in the status, Jobs, readiness, deletion


def _progress(kube: Kube, kind: str, name: str, namespace: str) -> dict[str, Any] | None:
    """kopf's retry state of our `reconcile` handler (in its `trodden.dev/reconcile` annotation)."""
    obj = get_or_none(kube, kind, name, namespace) or {}
    raw = (obj.get("metadata", {}).get("annotations") or {}).get("trodden.dev/reconcile")
    return json.loads(raw) if raw else None


def _seconds(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def test_a_failing_reconcile_is_in_the_status_and_retried_with_backoff(
    kube: Kube, operator: OperatorProcess, namespace: str
) -> None:
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "no-jobs"},
        "spec": {"hard": {"count/jobs.batch": "0"}},
    }
    kube.apply(quota, namespace=namespace)
    kube.wait_for(
        "quota in force", lambda: (kube.get("resourcequota", "no-jobs", namespace).get("status") or {}).get("hard")
    )
    kube.apply(_replayrun("blocked"), namespace=namespace)
    _reason(kube, "replayrun/blocked", namespace, "Succeeded", "ReconcileError")
    rr = kube.get("replayrun", "blocked", namespace)
    cond = condition(rr, "Succeeded")
    assert cond is not None and cond["status"] == "False" and "exceeded quota" in cond["message"], cond
    assert (condition(rr, "Failed") or {}).get("status") != "True"  # not a verdict: it is retried

    # kopf keeps the retry state in a valid annotation and retries on the backoff's schedule
    # (5 s after the first failure, 10 s after the second).
    first = kube.wait_for(
        "first retry scheduled",
        lambda: (p := _progress(kube, "replayrun", "blocked", namespace)) and p.get("retries") == 1 and p,
        timeout=30,
        interval=0.2,
    )
    second = kube.wait_for(
        "second retry scheduled",
        lambda: (p := _progress(kube, "replayrun", "blocked", namespace)) and p.get("retries", 0) >= 2 and p,
        timeout=40,
        interval=0.2,
    )
    assert second["retries"] == 2, second
    assert 4 <= _seconds(first["delayed"]) - _seconds(first["started"]) <= 12, first
    assert 9 <= _seconds(second["delayed"]) - _seconds(first["delayed"]) <= 18, (first, second)

    # The cause goes away: the next attempt succeeds and the run goes on.
    kube.run("delete", "resourcequota", "no-jobs", f"--namespace={namespace}")
    wait_job(kube, namespace, "replay", "blocked", timeout=60)
    kube.run(
        "wait", "--for=condition=Succeeded=Unknown", "replayrun/blocked", f"--namespace={namespace}", "--timeout=60s"
    )
    kube.wait_for("retry state cleared", lambda: _progress(kube, "replayrun", "blocked", namespace) is None)


def test_every_kinds_runtime_failure_is_in_its_status_for_kubectl_wait(
    kube: Kube, operator: OperatorProcess, namespace: str
) -> None:
    """What the schema cannot refuse fails at reconcile: here a quota refuses the collector's Service,
    a selection's Job and CronJob and a suite's generation Job. Each resource says so in its status
    (`Ready=False`, reason ReconcileError, the API server's message), `kubectl wait` sees it, and
    each recovers on its own once the cause is gone (the ReplayRun's case is the test above)."""
    source = f"quota{uuid.uuid4().hex[:6]}"
    # The suite's selection first (its Job completes before the quota is in force).
    kube.apply(
        {
            "apiVersion": API,
            "kind": "SessionSelector",
            "metadata": {"name": "picks"},
            "spec": {"source": source, "strategies": [{"type": "errors"}]},
        },
        namespace=namespace,
    )
    select_job = wait_job(kube, namespace, "select", "picks")
    store_selection(namespace_dsn(kube, namespace), source, "picks", ["s1"])
    complete_job(kube, namespace, select_job["metadata"]["name"])
    kube.wait_for(
        "selection in status",
        lambda: (kube.get("sessionselector", "picks", namespace).get("status") or {}).get("selectionId"),
    )

    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "no-workloads"},
        "spec": {"hard": {"services": "0", "count/jobs.batch": "0", "count/cronjobs.batch": "0"}},
    }
    kube.apply(quota, namespace=namespace)
    kube.wait_for(
        "quota in force", lambda: (kube.get("resourcequota", "no-workloads", namespace).get("status") or {}).get("hard")
    )
    kube.apply(
        _rumsource(source),
        {
            "apiVersion": API,
            "kind": "SessionSelector",
            "metadata": {"name": "once"},
            "spec": {"source": source, "strategies": [{"type": "errors"}]},
        },
        {
            "apiVersion": API,
            "kind": "SessionSelector",
            "metadata": {"name": "nightly"},
            "spec": {"source": source, "schedule": "0 3 * * *", "strategies": [{"type": "errors"}]},
        },
        {
            "apiVersion": API,
            "kind": "TestSuite",
            "metadata": {"name": "quota-suite"},
            "spec": {"source": source, "selectors": ["picks"]},
        },
        namespace=namespace,
    )
    failing = [f"rumsource/{source}", "sessionselector/once", "sessionselector/nightly", "testsuite/quota-suite"]
    for target in failing:
        waited = kube.run(
            "wait", "--for=condition=Ready=false", target, f"--namespace={namespace}", "--timeout=60s", check=False
        )
        assert waited.returncode == 0, f"{target}: {waited.stderr}"
        _reason(kube, target, namespace, "Ready", "ReconcileError")
        kind, _, name = target.partition("/")
        ready = condition(kube.get(kind, name, namespace), "Ready")
        assert ready is not None and "exceeded quota: no-workloads" in ready["message"], (target, ready)
        assert ready["message"].startswith("403 Forbidden:"), (target, ready)

    # The cause goes away: every one is retried (backoff, or the periodic resync) and gets its workload.
    kube.run("delete", "resourcequota", "no-workloads", f"--namespace={namespace}")
    kube.wait_for(
        "the collector Service",
        lambda: get_or_none(kube, "service", f"{source}-collector", namespace),
        timeout=120,
        interval=1,
    )
    wait_job(kube, namespace, "select", "once", timeout=120)
    wait_job(kube, namespace, "generate", "quota-suite", timeout=120)
    kube.wait_for("the selection CronJob", lambda: kube.get("cronjobs", namespace=namespace)["items"], timeout=120)
    for target in failing:
        kind, _, name = target.partition("/")
        kube.wait_for(
            f"{target} past its error",
            lambda k=kind, n=name: (
                (c := condition(kube.get(k, n, namespace), "Ready")) is not None and c["reason"] != "ReconcileError"
            ),
            timeout=120,
            interval=1,
        )


def test_the_operator_sees_only_its_own_labelled_jobs(kube: Kube, operator: OperatorProcess, namespace: str) -> None:
    """The operator's Job watch asks the API server for its own labelled Jobs only: an unlabelled Job
    in a watched namespace never reaches it, even one owned by a ReplayRun and carrying its owner
    label; a Job with the operator's labels does (the control: watch events arrive in order, so
    once the later labelled Job is seen, the earlier unlabelled one would have been)."""
    kube.apply(_replayrun("watched"), namespace=namespace)
    ours = wait_job(kube, namespace, "replay", "watched")
    rr = kube.get("replayrun", "watched", namespace)

    def job(name: str, labels: dict[str, str]) -> dict[str, Any]:
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": name,
                "labels": labels,
                "ownerReferences": [
                    {
                        "apiVersion": API,
                        "kind": "ReplayRun",
                        "name": "watched",
                        "uid": rr["metadata"]["uid"],
                        "controller": True,
                    }
                ],
            },
            "spec": {
                "suspend": True,
                "template": {
                    "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "localhost/none:0"}]}
                },
            },
        }

    owner_label = {"trodden.dev/replayrun": "watched"}
    kube.apply(job("stranger", owner_label), namespace=namespace)
    kube.run("label", "job", "stranger", "touched=1", f"--namespace={namespace}")
    kube.apply(
        job("control", {**ours["metadata"]["labels"], "app.kubernetes.io/instance": "control"}), namespace=namespace
    )

    def events(name: str) -> list[dict[str, Any]]:
        found = []
        for line in operator.log_path.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("event") == "job event" and entry.get("namespace") == namespace and entry.get("job") == name:
                found.append(entry)
        return found

    kube.wait_for("the labelled Job seen by the operator", lambda: events("control"), timeout=60)
    assert events("stranger") == [], events("stranger")
    kube.run("delete", "job", "stranger", "control", f"--namespace={namespace}")


def test_a_recreated_replayrun_never_adopts_the_old_ones_job(
    kube: Kube, operator: OperatorProcess, namespace: str
) -> None:
    kube.apply(_replayrun("again"), namespace=namespace)
    old = wait_job(kube, namespace, "replay", "again")
    # Orphaned, the old Job stays (as it does for a while when the garbage collector is slow).
    kube.run("delete", "replayrun", "again", "--cascade=orphan", f"--namespace={namespace}")
    kube.apply(_replayrun("again"), namespace=namespace)
    _reason(kube, "replayrun/again", namespace, "Succeeded", "Pending")
    rr = kube.get("replayrun", "again", namespace)
    assert "is not this object's" in condition(rr, "Succeeded")["message"]  # type: ignore[index]
    assert kube.get("job", old["metadata"]["name"], namespace)["metadata"]["uid"] == old["metadata"]["uid"]
    kube.run("delete", "job", old["metadata"]["name"], f"--namespace={namespace}")

    def own_job() -> dict[str, Any] | None:
        job = get_or_none(kube, "job", old["metadata"]["name"], namespace)
        refs = (job or {}).get("metadata", {}).get("ownerReferences") or []
        return job if refs and refs[0]["uid"] == rr["metadata"]["uid"] else None

    kube.wait_for("a Job of the new ReplayRun", own_job, timeout=60)


def test_a_stuck_collector_rollout_is_not_ready(kube: Kube, operator: OperatorProcess, namespace: str) -> None:
    # No node runs pods here, so the rollout never progresses: past the deadline the Deployment
    # says ProgressDeadlineExceeded, and so does the RumSource.
    kube.apply(
        _rumsource("stuck", progressDeadlineSeconds=10, image="localhost/trodden:no-such-tag"), namespace=namespace
    )
    _reason(kube, "rumsource/stuck", namespace, "Ready", "ProgressDeadlineExceeded", timeout=120)
    assert condition(kube.get("rumsource", "stuck", namespace), "Ready")["status"] == "False"  # type: ignore[index]


def test_a_scheduled_selector_is_as_ready_as_its_last_run(
    kube: Kube, operator: OperatorProcess, namespace: str
) -> None:
    kube.apply(
        {
            "apiVersion": API,
            "kind": "SessionSelector",
            "metadata": {"name": "nightly"},
            "spec": {"source": "shop", "schedule": "0 3 * * *", "strategies": [{"type": "errors"}]},
        },
        namespace=namespace,
    )
    _reason(kube, "sessionselector/nightly", namespace, "Ready", "WaitingForSchedule")
    [cron] = kube.wait_for("cronjob", lambda: kube.get("cronjobs", namespace=namespace)["items"])
    # A run of the schedule (started by hand, as the CronJob controller would at 03:00) fails.
    kube.run("create", "job", "nightly-run-1", f"--from=cronjob/{cron['metadata']['name']}", f"--namespace={namespace}")
    complete_job(kube, namespace, "nightly-run-1", failed=True)
    _reason(kube, "sessionselector/nightly", namespace, "Ready", "SelectionFailed")
    ready = condition(kube.get("sessionselector", "nightly", namespace), "Ready")
    assert ready is not None and ready["status"] == "False" and "nightly-run-1" in ready["message"]
    kube.run("create", "job", "nightly-run-2", f"--from=cronjob/{cron['metadata']['name']}", f"--namespace={namespace}")
    complete_job(kube, namespace, "nightly-run-2")
    _reason(kube, "sessionselector/nightly", namespace, "Ready", "SelectionSucceeded")


def test_deleting_a_namespace_full_of_resources_needs_no_operator(
    kube: Kube, operator: OperatorProcess, crds_installed: None
) -> None:
    ns = f"e2e-no-finalizers-{uuid.uuid4().hex[:6]}"
    kube.run("create", "namespace", ns)
    kube.apply(
        _rumsource("shop"),
        _replayrun("run"),
        {
            "apiVersion": API,
            "kind": "SessionSelector",
            "metadata": {"name": "picks"},
            "spec": {"source": "shop", "strategies": [{"type": "errors"}]},
        },
        {
            "apiVersion": API,
            "kind": "SessionSelector",
            "metadata": {"name": "nightly"},
            "spec": {"source": "shop", "schedule": "@daily", "strategies": [{"type": "errors"}]},
        },
        {"apiVersion": API, "kind": "TestSuite", "metadata": {"name": "suite"}, "spec": {"source": "shop"}},
        namespace=ns,
    )
    kinds = ("rumsource", "replayrun", "sessionselector", "testsuite")
    for kind in kinds:
        kube.wait_for(
            f"{kind}s reconciled",
            lambda k=kind: all(
                (i.get("status") or {}).get("conditions") for i in kube.get(k + "s", namespace=ns)["items"]
            ),
        )
    finalizers = [
        (i["kind"], i["metadata"]["name"], i["metadata"]["finalizers"])
        for kind in kinds
        for i in kube.get(kind + "s", namespace=ns)["items"]
        if i["metadata"].get("finalizers")
    ]
    assert not finalizers
    operator.stop()
    try:
        deleted = kube.run("delete", "namespace", ns, "--timeout=120s", check=False)
        assert deleted.returncode == 0, deleted.stderr
        assert get_or_none(kube, "namespace", ns, "default") is None
    finally:
        operator.start()


# ---------------------------------------------------------------------------------------------
# Tenancy: every namespace's data apart


def _suite_and_selector(name: str = "checkout") -> list[dict[str, Any]]:
    return [
        _rumsource("shop"),
        {
            "apiVersion": API,
            "kind": "SessionSelector",
            "metadata": {"name": "picks"},
            "spec": {"source": "shop", "strategies": [{"type": "errors"}]},
        },
        {
            "apiVersion": API,
            "kind": "TestSuite",
            "metadata": {"name": name},
            "spec": {"source": "shop", "selectors": ["picks"]},
        },
    ]


def _refused(dsn: str, sql: str) -> str:
    """The error PostgreSQL gives `sql` run with `dsn` ("" when it is allowed)."""
    try:
        _db(dsn, sql)
    except asyncpg.PostgresError as err:
        return f"{type(err).__name__}: {err}"
    return ""


def test_the_same_manifests_in_two_namespaces_stay_apart(
    kube: Kube, operator: OperatorProcess, operator_dsn: str, crds_installed: None
) -> None:
    from trodden.store import tenant_schema

    a, b = (f"e2e-tenant-{x}-{uuid.uuid4().hex[:5]}" for x in "ab")
    for ns in (a, b):
        kube.run("create", "namespace", ns)
    try:
        for ns in (a, b):
            kube.apply(*_suite_and_selector(), namespace=ns)
        jobs = {ns: wait_job(kube, ns, "select", "picks") for ns in (a, b)}
        dsn = {ns: namespace_dsn(kube, ns) for ns in (a, b)}
        assert dsn[a] != dsn[b] and operator_dsn not in dsn.values()

        # Namespace a's selection job stores a selection, and its generation job a revision.
        store_selection(dsn[a], "shop", "picks", ["s1"])
        complete_job(kube, a, jobs[a]["metadata"]["name"])
        kube.run("wait", "--for=condition=Ready", "sessionselector/picks", f"--namespace={a}", "--timeout=60s")
        gen = wait_job(kube, a, "generate", "checkout")
        store_suite_revision(dsn[a], "checkout", 1)
        complete_job(kube, a, gen["metadata"]["name"])
        kube.run("wait", "--for=condition=Ready", "testsuite/checkout", f"--namespace={a}", "--timeout=60s")
        assert kube.get("testsuite", "checkout", a)["status"]["revision"] == 1

        # Namespace b sees none of it: its selector has no selection, its suite no revision, and a
        # ReplayRun of "checkout" in b waits for b's own suite.
        picks_b = kube.get("sessionselector", "picks", b)
        assert "selectionId" not in picks_b["status"] and condition(picks_b, "Ready")["status"] == "Unknown"  # type: ignore[index]
        assert "revision" not in (kube.get("testsuite", "checkout", b).get("status") or {})
        run = _replayrun("replay-checkout", suite="checkout")
        del run["spec"]["revision"]
        kube.apply(run, namespace=b)
        _reason(kube, "replayrun/replay-checkout", b, "Succeeded", "WaitingForSuite")

        # b's credentials reach b's schema only.
        assert _db(dsn[b], "SELECT count(*) AS n FROM suites")[0]["n"] == 0
        assert "InsufficientPrivilege" in _refused(dsn[b], f"SELECT * FROM {tenant_schema(a)}.suites")
        assert "InsufficientPrivilege" in _refused(dsn[b], f"SELECT * FROM {tenant_schema(a)}.sessions")
        assert "InsufficientPrivilege" in _refused(dsn[b], "SELECT * FROM public.tenants")
        assert "InsufficientPrivilege" in _refused(dsn[b], "CREATE TABLE public.planted (x int)")

        # A TestSuite deleted and recreated under the same name does not inherit its revisions.
        kube.run("delete", "testsuite", "checkout", f"--namespace={a}")
        kube.apply(_suite_and_selector()[2], namespace=a)
        kube.wait_for(
            "old revisions gone", lambda: _db(dsn[a], "SELECT count(*) AS n FROM suite_revisions")[0]["n"] == 0
        )
        # A deleted SessionSelector's selections are kept for the retention, then removed.
        kube.run("delete", "sessionselector", "picks", f"--namespace={a}")
        tombstone = kube.wait_for(
            "tombstone",
            lambda: _db(
                dsn[a],
                "SELECT deleted_at FROM owners WHERE kind ="
                " 'SessionSelector' AND name = 'picks'"
                " AND deleted_at IS NOT NULL",
            ),
        )
        assert tombstone and _db(dsn[a], "SELECT count(*) AS n FROM selections")[0]["n"] == 1
        kube.wait_for(
            "selections removed after the retention",
            lambda: _db(dsn[a], "SELECT count(*) AS n FROM selections")[0]["n"] == 0,
            timeout=RETENTION + 30,
        )

        # A namespace that is gone loses its schema and role once its data is removed.
        kube.run("delete", "namespace", b, "--timeout=120s")
        kube.wait_for(
            f"schema of {b} dropped",
            lambda: _db(operator_dsn, "SELECT to_regnamespace($1) IS NULL AS gone", tenant_schema(b))[0]["gone"],
            timeout=RETENTION + 40,
        )
        assert "InvalidAuthorization" in _refused(dsn[b], "SELECT 1") or "does not exist" in _refused(
            dsn[b], "SELECT 1"
        )
    finally:
        for ns in (a, b):
            kube.run("delete", "namespace", ns, "--wait=false", "--ignore-not-found", check=False)
