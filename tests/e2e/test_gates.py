"""Gate semantics against the real API server and the operator (stage 1; issue 13).

The Flagger webhook is driven through Flagger's documented request sequence for a canary (the
`confirm-rollout`, `pre-rollout` and per-iteration `rollout` calls of a revision, then the next
revision's) while the canary Deployment's template changes under it: the previous revision's verdict
is never served for the new template, a canary at zero replicas waits instead of passing, a rollback
replays again instead of reusing the old verdict, and a changed `replayOn` never wedges the
TestSuite on the immutable ReplayRun spec. Pods never run here (the rollouts are finished and the
replay results stored as the kubelet and replay pods would); the real Flagger controller drives the
same webhook in `test_controllers.py`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from e2ekube import Kube
from operatorproc import (
    API,
    OperatorProcess,
    complete_job,
    condition,
    create_migrated_database,
    finish_rollout,
    install_crds,
    namespace_dsn,
    store_results,
    store_suite_revision,
    wait_job,
    watched_deployment,
    webhook_token,
)

SUITE = "web-suite"


@pytest.fixture(scope="module")
async def gates_dsn(pg_server_dsn: str) -> AsyncIterator[str]:
    yield await create_migrated_database(pg_server_dsn, prefix="gates_")


@pytest.fixture
def gates_operator(
    kube: Kube, kubeconfig: Path, gates_dsn: str, namespace: str, tmp_path: Path
) -> Iterator[OperatorProcess]:
    """`trodden operator -n NAMESPACE`: only this test's namespace, so no other operator meets it."""
    install_crds(kube)
    proc = OperatorProcess(kubeconfig, gates_dsn, tmp_path / "operator.log", args=("-n", namespace))
    proc.start()
    try:
        yield proc
    finally:
        kube.run(
            "delete",
            "replayruns,testsuites",
            "--all",
            f"--namespace={namespace}",
            "--timeout=60s",
            check=False,
            timeout=90,
        )
        proc.stop()


TOKENS: dict[str, str] = {}


def flagger_call(operator: OperatorProcess, namespace: str, hook: str, phase: str) -> tuple[int, dict[str, Any]]:
    """One webhook call as Flagger makes it (docs: "Webhooks", payload name/namespace/phase/checksum/metadata),
    with the namespace's token in the metadata, as the Canary carries it; a `rollback` hook goes to the
    operator's rollback endpoint, every other type to the gate."""
    payload = {
        "name": "web",
        "namespace": namespace,
        "phase": phase,
        "checksum": hook,
        "metadata": {"testsuite": SUITE, "namespace": namespace, "token": TOKENS[namespace]},
    }
    path = "rollback" if hook == "rollback" else "replayrun"
    req = urllib.request.Request(
        f"http://127.0.0.1:{operator.http_port}/flagger/{path}",
        method="POST",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return int(resp.status), json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return int(err.code), json.loads(err.read() or b"{}")


def analysis(operator: OperatorProcess, namespace: str, iterations: int = 2) -> list[int]:
    """A canary analysis' calls: confirm-rollout and pre-rollout, then each iteration the `rollback`
    hook (2xx would roll back at once) and the `rollout` check."""
    calls = [("confirm-rollout", "Progressing"), ("pre-rollout", "Progressing")]
    calls += [("rollback", "Progressing"), ("rollout", "Progressing")] * iterations
    return [flagger_call(operator, namespace, hook, phase)[0] for hook, phase in calls]


def runs(kube: Kube, namespace: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = kube.get("replayruns", namespace=namespace, **{"trodden.dev/testsuite": SUITE})[
        "items"
    ]
    return sorted(items, key=lambda r: (r["metadata"]["creationTimestamp"], r["metadata"]["name"]))


def new_run(kube: Kube, namespace: str, known: set[str]) -> dict[str, Any]:
    found: dict[str, Any] = kube.wait_for(
        "a new rollout ReplayRun",
        lambda: next((r for r in runs(kube, namespace) if r["metadata"]["name"] not in known), None),
        timeout=60,
    )
    return found


def verdict(kube: Kube, namespace: str, run: dict[str, Any], *, regressions: bool) -> None:
    """The run's replay pods store their results and the Job completes, as they would with a node."""
    meta = run["metadata"]
    outcome = ("failed", {"kind": "status", "expected": 200, "actual": 500}) if regressions else ("passed", None)
    store_results(namespace_dsn(kube, namespace), f"{namespace}/{meta['name']}/{meta['uid'][:8]}", [("t1", *outcome)])
    complete_job(kube, namespace, wait_job(kube, namespace, "replay", meta["name"])["metadata"]["name"])
    ended = "Failed" if regressions else "Succeeded"
    kube.wait_for(
        f"{meta['name']} {ended}",
        lambda: (c := condition(kube.get("replayrun", meta["name"], namespace), ended)) and c["status"] == "True",
    )


def test_flagger_sequence_never_serves_another_rollouts_verdict(
    kube: Kube, gates_operator: OperatorProcess, namespace: str
) -> None:
    op, ns = gates_operator, namespace
    kube.apply(
        watched_deployment("web", "shop:1"),
        {
            "apiVersion": API,
            "kind": "TestSuite",
            "metadata": {"name": SUITE},
            "spec": {"source": "web", "replayOn": {"deployment": "web", "target": {"service": {"name": "web-canary"}}}},
        },
        namespace=ns,
    )
    finish_rollout(kube, ns, "web")
    kube.wait_for(
        "v1 recorded", lambda: (kube.get("testsuite", SUITE, ns).get("status") or {}).get("rolloutTemplateHash")
    )
    # The suite's generation Job stored revision 1 (rollout runs replay the latest revision).
    store_suite_revision(namespace_dsn(kube, ns), SUITE, 1, source="web")
    TOKENS[ns] = webhook_token(kube, ns)
    assert analysis(op, ns) == [425] * 6  # nothing replayed yet: never a pass

    # Flagger scales the canary to zero between analyses; a new revision arrives while it is there.
    kube.run("scale", "deployment/web", "--replicas=0", f"--namespace={ns}")
    kube.run("set", "image", "deployment/web", "web=shop:2", f"--namespace={ns}")
    time.sleep(16)  # more than a resync period of the operator: a canary at zero waits, it does not pass
    assert runs(kube, ns) == []
    assert analysis(op, ns) == [425] * 6
    # Flagger scales it up for the analysis: the rollout finishes, the run is made and replays.
    kube.run("scale", "deployment/web", "--replicas=1", f"--namespace={ns}")
    finish_rollout(kube, ns, "web")
    v2 = new_run(kube, ns, set())
    assert analysis(op, ns) == [425] * 6  # running
    verdict(kube, ns, v2, regressions=False)
    code, body = flagger_call(op, ns, "rollout", "Progressing")
    assert code == 200 and body["replayrun"] == v2["metadata"]["name"], body
    assert flagger_call(op, ns, "rollback", "Progressing")[0] == 412  # passed: nothing to roll back

    # The next revision: from the moment its template is in the Deployment, v2's 200 is not served.
    kube.run("set", "image", "deployment/web", "web=shop:3", f"--namespace={ns}")
    assert analysis(op, ns) == [425] * 6
    finish_rollout(kube, ns, "web")
    v3 = new_run(kube, ns, {v2["metadata"]["name"]})
    assert analysis(op, ns, iterations=1) == [425] * 4
    verdict(kube, ns, v3, regressions=True)
    code, body = flagger_call(op, ns, "rollout", "Progressing")
    assert code == 409 and body["replayrun"] == v3["metadata"]["name"], body
    code, body = flagger_call(op, ns, "rollback", "Progressing")  # regressions: roll back now
    assert code == 200 and body["rollback"] is True and body["replayrun"] == v3["metadata"]["name"], body

    # The suite's replayOn changes (two shards), then the canary is rolled back to v2's template:
    # a fresh run (v2's old 200 is about an earlier rollout), created despite the changed spec.
    kube.run(
        "patch",
        "testsuite",
        SUITE,
        f"--namespace={ns}",
        "--type=merge",
        "-p",
        json.dumps({"spec": {"replayOn": {"shards": 2}}}),
    )
    kube.run("rollout", "undo", "deployment/web", f"--to-revision={_revision_of(kube, ns, v2)}", f"--namespace={ns}")
    assert flagger_call(op, ns, "rollout", "Progressing")[0] == 425
    finish_rollout(kube, ns, "web")
    again = new_run(kube, ns, {v2["metadata"]["name"], v3["metadata"]["name"]})
    assert (
        again["metadata"]["labels"]["trodden.dev/template-hash"]
        == v2["metadata"]["labels"]["trodden.dev/template-hash"]
    )
    assert again["spec"]["shards"] == 2
    assert analysis(op, ns) == [425] * 6
    verdict(kube, ns, again, regressions=False)
    code, body = flagger_call(op, ns, "rollout", "Progressing")
    assert code == 200 and body["replayrun"] == again["metadata"]["name"], body

    suite = kube.get("testsuite", SUITE, ns)
    ready = condition(suite, "Ready")
    assert ready is not None and ready["reason"] != "ReconcileError", suite["status"]
    log = op.log_path.read_text(errors="replace")
    assert "immutable" not in log and '"status": 422' not in log, op.log_tail()


def _revision_of(kube: Kube, ns: str, run: dict[str, Any]) -> str:
    revision: str = run["metadata"]["labels"]["trodden.dev/rollout-revision"]
    assert revision.isdigit(), run["metadata"]["labels"]
    return revision


GATE_RUN = """
apiVersion: trodden.dev/v1alpha1
kind: ReplayRun
metadata:
  generateName: web-canary-
  labels: {app.kubernetes.io/component: rollout-gate, trodden.dev/template-hash: abc123}
spec: {suite: web-suite, target: {service: {name: web-canary, port: 8080}}}
"""


def _trodden_gate(kubeconfig: Path, namespace: str) -> subprocess.Popen[str]:
    trodden = shutil.which("trodden", path=str(Path(sys.executable).parent)) or "trodden"
    return subprocess.Popen(
        [trodden, "gate", "--namespace", namespace, "--poll", "0.5", "--timeout", "3m", "--replayrun", GATE_RUN],
        env={**os.environ, "KUBECONFIG": str(kubeconfig)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_trodden_gate_exits_with_the_verdict_of_a_fresh_run_per_attempt(
    kube: Kube, kubeconfig: Path, gates_operator: OperatorProcess, namespace: str
) -> None:
    """What the Argo Rollouts job metric runs: every attempt creates its own run and exits with its verdict."""
    # The suite the runs replay, as its namespace has it: the TestSuite, and revision 1 as its generation
    # Job stores it (with the namespace's own credentials, which the operator hands to its Jobs).
    kube.apply(
        {"apiVersion": API, "kind": "TestSuite", "metadata": {"name": SUITE}, "spec": {"source": "web"}},
        namespace=namespace,
    )
    store_suite_revision(namespace_dsn(kube, namespace), SUITE, 1, source="web")
    exits = []
    for attempt, regressions in enumerate((True, True, False)):
        known = {r["metadata"]["name"] for r in kube.get("replayruns", namespace=namespace)["items"]}
        gate = _trodden_gate(kubeconfig, namespace)
        run: dict[str, Any] = kube.wait_for(
            f"attempt {attempt}'s ReplayRun",
            lambda known=known: next(
                (r for r in kube.get("replayruns", namespace=namespace)["items"] if r["metadata"]["name"] not in known),
                None,
            ),
            timeout=60,
        )
        assert run["metadata"]["labels"]["trodden.dev/template-hash"] == "abc123"
        verdict(kube, namespace, run, regressions=regressions)
        out, _ = gate.communicate(timeout=120)
        exits.append(gate.returncode)
        assert f"replayrun {namespace}/{run['metadata']['name']} created" in out, out
        if regressions:
            assert "RegressionsFound" in out and "regression t1" in out, out
    assert exits == [1, 1, 0]  # a retry after a failure replays again: its own verdict, not the old one
    bad = subprocess.run(
        [
            shutil.which("trodden", path=str(Path(sys.executable).parent)) or "trodden",
            "gate",
            "--replayrun",
            GATE_RUN.replace("generateName: web-canary-", "name: fixed").replace(
                "suite: web-suite", "suite: Not_A_Name"
            ),
        ],
        env={**os.environ, "KUBECONFIG": str(kubeconfig)},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert bad.returncode == 2 and "spec.suite" in bad.stderr, bad.stderr
