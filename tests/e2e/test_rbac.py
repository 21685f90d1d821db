"""The chart's RBAC is enough for the operator, and not more (stage 1: no node needed).

The ClusterRole, ClusterRoleBinding and ServiceAccount are rendered from `charts/trodden` with helm
and applied; the operator process runs with a kubeconfig that holds only a token of that
ServiceAccount (`kubectl create token`). It must reconcile every kind and write their status
subresources without a single RBAC refusal; and the ServiceAccount must be refused everything the
chart does not grant: the matrix of verbs the ClusterRole leaves out for each resource it names,
plus the cluster-wide actions an operator never needs.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2ekube import Kube
from operatorproc import (
    API,
    ROOT,
    OperatorProcess,
    complete_job,
    condition,
    create_migrated_database,
    finish_rollout,
    get_or_none,
    install_crds,
    wait_job,
    watched_deployment,
)

HELM = ROOT / ".cache" / "bin" / "helm"
RBAC_TEMPLATES = ("templates/rbac.yaml", "templates/serviceaccount.yaml")
ALL_VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")
# What an operator of this kind must never be able to do, whatever the chart says.
NEVER: list[tuple[str, str, str | None]] = [
    ("delete", "nodes", None),
    ("patch", "nodes", None),
    ("get", "secrets", "kube-system"),
    ("list", "secrets", None),
    ("watch", "secrets", None),
    ("create", "clusterroles.rbac.authorization.k8s.io", None),
    ("create", "clusterrolebindings.rbac.authorization.k8s.io", None),
    ("create", "rolebindings.rbac.authorization.k8s.io", "default"),
    ("escalate", "clusterroles.rbac.authorization.k8s.io", None),
    ("bind", "clusterroles.rbac.authorization.k8s.io", None),
    ("impersonate", "serviceaccounts", "kube-system"),
    ("create", "serviceaccounts/token", "kube-system"),
    ("create", "pods", "default"),
    ("create", "pods/exec", "default"),
    ("delete", "namespaces", None),
    ("update", "customresourcedefinitions.apiextensions.k8s.io", None),
    ("delete", "customresourcedefinitions.apiextensions.k8s.io", None),
    ("create", "mutatingwebhookconfigurations.admissionregistration.k8s.io", None),
]
# An RBAC refusal as the API server words it, for this ServiceAccount.
FORBIDDEN = re.compile(r'forbidden: User \\?"system:serviceaccount:[^"\\]+\\?" cannot')


@dataclass(frozen=True)
class Installed:
    """The chart's RBAC applied in a namespace of its own (the release namespace)."""

    namespace: str
    service_account: str
    rules: list[dict[str, Any]]
    kubeconfig: Path

    @property
    def user(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.service_account}"


def render_rbac(release: str, namespace: str) -> list[dict[str, Any]]:
    """The chart's RBAC and ServiceAccount objects, as `helm template` renders them."""
    if not HELM.exists():
        subprocess.run(["make", "operator-tools"], cwd=ROOT, check=True, capture_output=True, timeout=900)
    shown = [arg for tpl in RBAC_TEMPLATES for arg in ("--show-only", tpl)]
    out = subprocess.run(
        [str(HELM), "template", release, str(ROOT / "charts" / "trodden"), "--namespace", namespace, *shown],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def token_kubeconfig(kube: Kube, token: str, path: Path) -> Path:
    """A kubeconfig for the admin kubeconfig's cluster that authenticates with `token` only."""
    view = json.loads(kube.run("config", "view", "--raw", "--minify", "--flatten", "-o", "json").stdout)
    cluster = view["clusters"][0]["cluster"]
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "e2e", "cluster": cluster}],
        "users": [{"name": "operator", "user": {"token": token}}],
        "contexts": [{"name": "operator", "context": {"cluster": "e2e", "user": "operator"}}],
        "current-context": "operator",
    }
    path.write_text(json.dumps(config))
    path.chmod(0o600)
    return path


def granted(rules: list[dict[str, Any]], verb: str, group: str, resource: str) -> bool:
    """Pure: whether these ClusterRole rules grant `verb` on `group`/`resource`."""
    return any(
        group in rule.get("apiGroups", [])
        and (resource in rule.get("resources", []) or "*" in rule.get("resources", []))
        and (verb in rule.get("verbs", []) or "*" in rule.get("verbs", []))
        for rule in rules
    )


def access_reviews(kube: Kube, user: str, checks: list[tuple[str, str, str, str | None]]) -> list[bool]:
    """SubjectAccessReviews for (verb, group, resource[/sub], namespace), all in one kubectl call."""
    items = []
    for verb, group, resource, ns in checks:
        name, _, sub = resource.partition("/")
        attrs: dict[str, Any] = {"verb": verb, "group": group, "resource": name, "subresource": sub}
        if ns:
            attrs["namespace"] = ns
        items.append({
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {"user": user, "groups": ["system:serviceaccounts", "system:authenticated"],
                     "resourceAttributes": attrs},
        })
    out = kube.run("create", "-o", "json", "-f", "-",
                   stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": items})).stdout
    # kubectl prints one JSON document per created review, one after the other.
    decoder, reviews, at = json.JSONDecoder(), [], 0
    while out[at:].strip():
        at += len(out[at:]) - len(out[at:].lstrip())
        review, at = decoder.raw_decode(out, at)
        reviews.append(review)
    assert len(reviews) == len(checks), out[:500]
    return [bool(r["status"].get("allowed")) for r in reviews]


# ---------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
async def rbac_dsn(pg_server_dsn: str) -> AsyncIterator[str]:
    yield await create_migrated_database(pg_server_dsn, prefix="rbac_e2e_")


@pytest.fixture(scope="module")
def chart_rbac(kube: Kube, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    install_crds(kube)
    release_ns = f"e2e-rbac-release-{os.getpid() % 10000}"
    release = f"rbac{os.getpid() % 10000}"
    docs = render_rbac(release, release_ns)
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == ["ClusterRole", "ClusterRoleBinding", "ServiceAccount"], kinds
    [role] = [d for d in docs if d["kind"] == "ClusterRole"]
    [sa] = [d for d in docs if d["kind"] == "ServiceAccount"]
    kube.run("create", "namespace", release_ns)
    try:
        kube.apply(*docs)
        token = kube.run("create", "token", sa["metadata"]["name"], f"--namespace={release_ns}",
                         "--duration=1h").stdout.strip()
        path = token_kubeconfig(kube, token, tmp_path_factory.mktemp("rbac") / "kubeconfig")
        yield Installed(release_ns, sa["metadata"]["name"], role["rules"], path)
    finally:
        for doc in docs:
            if doc["kind"] != "ServiceAccount":
                kube.run("delete", doc["kind"], doc["metadata"]["name"], "--ignore-not-found", check=False)
        kube.run("delete", "namespace", release_ns, "--wait=false", "--ignore-not-found", check=False)


@pytest.fixture(scope="module")
def rbac_operator(
    chart_rbac: Installed, rbac_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    """The operator, cluster-wide as the chart runs it by default, as the chart's ServiceAccount."""
    proc = OperatorProcess(chart_rbac.kubeconfig, rbac_dsn, tmp_path_factory.mktemp("rbac-op") / "operator.log")
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


# ---------------------------------------------------------------------------------------------
# Enough: the operator does its whole job under the chart's role


def _with_condition(kube: Kube, kind: str, name: str, ns: str, type_: str) -> Any:
    return kube.wait_for(
        f"{kind}/{name} condition {type_}",
        lambda: (obj := get_or_none(kube, kind, name, ns)) and condition(obj, type_) and obj,
        timeout=60,
    )


def _rollout_runs(kube: Kube, ns: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = kube.get("replayruns", namespace=ns, **{"trodden.dev/testsuite": "web-suite"})[
        "items"]
    return sorted(items, key=lambda r: r["metadata"]["creationTimestamp"])


def test_operator_reconciles_every_kind_under_the_chart_rbac(
    kube: Kube, chart_rbac: Installed, rbac_operator: OperatorProcess, namespace: str
) -> None:
    kube.apply(
        {"apiVersion": API, "kind": "RumSource", "metadata": {"name": "shop"}, "spec": {}},
        {"apiVersion": API, "kind": "ReplayRun", "metadata": {"name": "run1"},
         "spec": {"suite": "web-suite", "source": "shop", "shards": 2,
                  "target": {"service": {"name": "web", "port": 8080}}}},
        {"apiVersion": API, "kind": "SessionSelector", "metadata": {"name": "nightly"},
         "spec": {"source": "shop", "schedule": "0 3 * * *", "strategies": [{"type": "errors"}]}},
        watched_deployment("web", "shop:1"),
        {"apiVersion": API, "kind": "TestSuite", "metadata": {"name": "web-suite"},
         "spec": {"source": "shop", "replayOn": {"deployment": "web", "keepRuns": 1,
                                                 "target": {"service": {"name": "web"}}}}},
        namespace=namespace,
    )

    # RumSource: the owned objects appear (SSA create + patch, the key Secret created once) and its
    # status subresource is written.
    rum = _with_condition(kube, "rumsource", "shop", namespace, "Ready")
    assert rum["status"]["observedGeneration"] == 1
    assert condition(rum, "Ready")["observedGeneration"] == 1  # type: ignore[index]
    for kind, name in [("deployment", "shop-collector"), ("service", "shop-collector"),
                       ("secret", "shop-ingest-key"), ("configmap", "shop-sanitization"),
                       ("configmap", "shop-instrumentation"), ("secret", "trodden-dsn")]:
        obj = kube.wait_for(f"{kind}/{name}", lambda k=kind, n=name: get_or_none(kube, k, n, namespace))
        if name != "trodden-dsn":
            assert obj["metadata"]["ownerReferences"][0]["uid"] == rum["metadata"]["uid"], (kind, name)

    # ReplayRun: its indexed Job, and conditions in its status.
    job = wait_job(kube, namespace, "replay", "run1")
    assert job["spec"]["completionMode"] == "Indexed" and job["spec"]["completions"] == 2
    run = _with_condition(kube, "replayrun", "run1", namespace, "Succeeded")
    assert condition(run, "Succeeded")["status"] == "Unknown"  # type: ignore[index]
    # The Job finishes (written as the job controller would): the operator sees it through its Job
    # watch, finishes the run and feeds back into the RumSource's instrumentation ConfigMap.
    complete_job(kube, namespace, job["metadata"]["name"])
    waited = kube.run("wait", "--for=condition=Succeeded=False", "replayrun/run1", f"--namespace={namespace}",
                      "--timeout=60s", check=False)
    assert waited.returncode == 0, waited.stderr  # no results stored: the run fails with NoResults
    assert get_or_none(kube, "replayrun", "run1", namespace)["status"]["phase"] == "Failed"  # type: ignore[index]

    # SessionSelector on a schedule: a CronJob, and its Ready condition.
    _with_condition(kube, "sessionselector", "nightly", namespace, "Ready")
    cron = kube.wait_for("cronjob", lambda: kube.get("cronjobs", namespace=namespace)["items"])
    assert cron[0]["spec"]["schedule"] == "0 3 * * *"

    # TestSuite with replayOn: each new rollout creates a ReplayRun (create), past keepRuns the
    # oldest is pruned (list + delete).
    _with_condition(kube, "testsuite", "web-suite", namespace, "Ready")
    finish_rollout(kube, namespace, "web")
    kube.wait_for(
        "first template recorded",
        lambda: (get_or_none(kube, "testsuite", "web-suite", namespace) or {}).get("status", {})
        .get("rolloutTemplateHash"),
    )
    kube.run("set", "image", "deployment/web", "web=shop:2", f"--namespace={namespace}")
    finish_rollout(kube, namespace, "web")
    [first] = kube.wait_for("rollout ReplayRun", lambda: _rollout_runs(kube, namespace))
    wait_job(kube, namespace, "replay", first["metadata"]["name"])
    kube.run("set", "image", "deployment/web", "web=shop:3", f"--namespace={namespace}")
    finish_rollout(kube, namespace, "web")
    # keepRuns 1: the second run replaces the first.
    [second] = kube.wait_for(
        "second rollout run, first pruned",
        lambda: (runs := _rollout_runs(kube, namespace)) and runs[0]["metadata"]["uid"] != first["metadata"]["uid"]
        and runs,
        timeout=120,  # the pruned run goes once kopf has removed its finalizer: slow on a loaded machine
    )
    assert second["metadata"]["name"] != first["metadata"]["name"]
    suite = kube.wait_for(
        "lastReplayRun", lambda: (s := kube.get("testsuite", "web-suite", namespace))["status"].get("lastReplayRun")
        == second["metadata"]["name"] and s)
    assert suite["status"]["observedGeneration"] == 1

    # Not one request of the operator was refused by RBAC.
    log = rbac_operator.log_path.read_text(errors="replace")
    refused = [line for line in log.splitlines() if FORBIDDEN.search(line)]
    assert not refused, "\n".join(refused[:5])


# ---------------------------------------------------------------------------------------------
# Not more: everything the chart does not grant is refused


def _named_resources(rules: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return sorted({(group, res) for rule in rules for group in rule["apiGroups"] for res in rule["resources"]})


def test_role_grants_nothing_more_than_its_rules(kube: Kube, chart_rbac: Installed, namespace: str) -> None:
    rules = chart_rbac.rules
    assert not any("*" in rule.get(key, []) for rule in rules for key in ("apiGroups", "resources", "verbs"))
    # Every (verb, resource) pair the chart names: allowed exactly when a rule grants it. The
    # review runs in a namespace of the test's, so the binding really is cluster-wide.
    matrix = [(verb, group, res) for group, res in _named_resources(rules) for verb in ALL_VERBS]
    answers = access_reviews(kube, chart_rbac.user, [(v, g, r, namespace) for v, g, r in matrix])
    wrong = [f"{v} {g or 'core'}/{r}: allowed={a}" for (v, g, r), a in zip(matrix, answers, strict=True)
             if a != granted(rules, v, g, r)]
    assert not wrong, wrong
    assert any(answers) and not all(answers)


def _can_i(kube: Kube, user: str, verb: str, resource: str, ns: str | None) -> subprocess.CompletedProcess[str]:
    """`kubectl auth can-i` as `user`; `resource` may end in `/subresource`."""
    name, _, sub = resource.partition("/")
    where = [f"--namespace={ns}"] if ns else ["--all-namespaces"]
    subresource = [f"--subresource={sub}"] if sub else []
    return kube.run("auth", "can-i", verb, name, *subresource, *where, f"--as={user}", check=False)


@pytest.mark.parametrize(("verb", "resource", "ns"), NEVER, ids=[f"{v}-{r}" for v, r, _ in NEVER])
def test_service_account_cannot(kube: Kube, chart_rbac: Installed, verb: str, resource: str, ns: str | None) -> None:
    result = _can_i(kube, chart_rbac.user, verb, resource, ns)
    assert result.stdout.strip() == "no", f"{chart_rbac.user} can {verb} {resource}: {result.stdout}{result.stderr}"


def test_service_account_can_what_the_operator_needs(kube: Kube, chart_rbac: Installed) -> None:
    # The "no" answers above mean something only if the identity and binding are right.
    for verb, resource in [("watch", "replayruns.trodden.dev"), ("patch", "replayruns.trodden.dev/status"),
                           ("create", "jobs.batch"), ("patch", "deployments.apps")]:
        result = _can_i(kube, chart_rbac.user, verb, resource, None)
        assert result.stdout.strip() == "yes", (verb, resource, result.stdout, result.stderr)
