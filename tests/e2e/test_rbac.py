"""The chart's RBAC is enough for the operator, and not more (stage 1: no node needed).

The chart's RBAC and ServiceAccount are rendered from `charts/trodden` with helm and applied; the
operator process runs with a kubeconfig that holds only a token of that ServiceAccount (`kubectl
create token`), with leader election on. It must reconcile every kind and write their status
subresources without a single RBAC refusal; and the ServiceAccount must be refused everything the
chart does not grant: the matrix of verbs the roles leave out for each resource they name, the
cluster-wide actions an operator never needs, reading a Secret by patching it, and making workloads
of any other kind (or, with `watchNamespaces`, in any other namespace). Both installations are
tested: cluster-wide (the default) and namespaced (`operator.watchNamespaces`, Roles only).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
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
    namespace_dsn,
    store_suite_revision,
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
    # A PATCH or UPDATE answers with the object: for Secrets that is reading them.
    ("patch", "secrets", "default"),
    ("update", "secrets", "default"),
    ("delete", "secrets", "default"),
    ("create", "clusterroles.rbac.authorization.k8s.io", None),
    ("create", "clusterrolebindings.rbac.authorization.k8s.io", None),
    ("create", "rolebindings.rbac.authorization.k8s.io", "default"),
    ("escalate", "clusterroles.rbac.authorization.k8s.io", None),
    ("bind", "clusterroles.rbac.authorization.k8s.io", None),
    ("impersonate", "serviceaccounts", "kube-system"),
    ("create", "serviceaccounts/token", "kube-system"),
    # Workloads: only Jobs, CronJobs and the collector's Deployment, never pods or other controllers.
    ("create", "pods", "default"),
    ("create", "pods/exec", "default"),
    ("patch", "pods", "default"),
    ("create", "daemonsets.apps", "default"),
    ("create", "statefulsets.apps", "default"),
    ("create", "replicasets.apps", "default"),
    ("create", "replicationcontrollers", "default"),
    ("delete", "jobs.batch", "default"),
    ("delete", "deployments.apps", "default"),
    ("delete", "namespaces", None),
    ("update", "customresourcedefinitions.apiextensions.k8s.io", None),
    ("delete", "customresourcedefinitions.apiextensions.k8s.io", None),
    ("create", "mutatingwebhookconfigurations.admissionregistration.k8s.io", None),
    # The leader Lease lives in the release namespace only.
    ("update", "leases.coordination.k8s.io", "default"),
]
# An RBAC refusal as the API server words it, for this ServiceAccount.
FORBIDDEN = re.compile(r'forbidden: User \\?"system:serviceaccount:[^"\\]+\\?" cannot')


@dataclass(frozen=True)
class Installed:
    """The chart's RBAC applied with its release namespace."""

    namespace: str
    service_account: str
    docs: list[dict[str, Any]]
    kubeconfig: Path
    watched: tuple[str, ...] = ()  # operator.watchNamespaces

    @property
    def user(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.service_account}"

    def rules(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """The rules of every role of `kind` (in `namespace`, for Roles)."""
        return [
            rule
            for d in self.docs
            if d["kind"] == kind and (namespace is None or d["metadata"].get("namespace") == namespace)
            for rule in d["rules"]
        ]


def render_rbac(release: str, namespace: str, watch: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The chart's RBAC and ServiceAccount objects, as `helm template` renders them."""
    if not HELM.exists():
        subprocess.run(["make", "operator-tools"], cwd=ROOT, check=True, capture_output=True, timeout=900)
    shown = [arg for tpl in RBAC_TEMPLATES for arg in ("--show-only", tpl)]
    values = ["--set", f"operator.watchNamespaces={{{','.join(watch)}}}"] if watch else []
    out = subprocess.run(
        [str(HELM), "template", release, str(ROOT / "charts" / "trodden"), "--namespace", namespace, *shown, *values],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
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


def granted(rules: list[dict[str, Any]], verb: str, group: str, resource: str, name: str = "") -> bool:
    """Pure: whether these rules grant `verb` on `group`/`resource` (named `name`, if given; a rule
    with resourceNames grants nothing to a request that names no object)."""
    return any(
        group in rule.get("apiGroups", [])
        and (resource in rule.get("resources", []) or "*" in rule.get("resources", []))
        and (verb in rule.get("verbs", []) or "*" in rule.get("verbs", []))
        and (not rule.get("resourceNames") or name in rule["resourceNames"])
        for rule in rules
    )


def access_reviews(kube: Kube, user: str, checks: list[tuple[str, str, str, str | None]]) -> list[bool]:
    """SubjectAccessReviews for (verb, group, resource[/sub][:name], namespace), in one kubectl call."""
    items = []
    for verb, group, target, ns in checks:
        resource, _, name = target.partition(":")
        res, _, sub = resource.partition("/")
        attrs: dict[str, Any] = {"verb": verb, "group": group, "resource": res, "subresource": sub, "name": name}
        if ns:
            attrs["namespace"] = ns
        items.append(
            {
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SubjectAccessReview",
                "spec": {
                    "user": user,
                    "groups": ["system:serviceaccounts", "system:authenticated"],
                    "resourceAttributes": attrs,
                },
            }
        )
    out = kube.run(
        "create", "-o", "json", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": items})
    ).stdout
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
def rbac_crds(kube: Kube) -> None:
    install_crds(kube)


def _install(kube: Kube, tmp: Path, release: str, watch: tuple[str, ...] = ()) -> Iterator[Installed]:
    release_ns = f"e2e-{release}"
    docs = render_rbac(release, release_ns, watch)
    [sa] = [d for d in docs if d["kind"] == "ServiceAccount"]
    for ns in (release_ns, *watch):
        kube.run("create", "namespace", ns)
    try:
        kube.apply(*docs)
        token = kube.run(
            "create", "token", sa["metadata"]["name"], f"--namespace={release_ns}", "--duration=1h"
        ).stdout.strip()
        path = token_kubeconfig(kube, token, tmp / "kubeconfig")
        yield Installed(release_ns, sa["metadata"]["name"], docs, path, watch)
    finally:
        for doc in docs:
            if doc["kind"] in ("ClusterRole", "ClusterRoleBinding"):
                kube.run("delete", doc["kind"], doc["metadata"]["name"], "--ignore-not-found", check=False)
        for ns in (release_ns, *watch):
            kube.run("delete", "namespace", ns, "--wait=false", "--ignore-not-found", check=False)


@pytest.fixture(scope="module")
def chart_rbac(kube: Kube, rbac_crds: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    """The default installation: cluster-wide."""
    installed = _install(kube, tmp_path_factory.mktemp("rbac"), f"rbac{os.getpid() % 10000}")
    chart = next(installed)
    kinds = sorted(d["kind"] for d in chart.docs)
    assert kinds == [
        "ClusterRole",
        "ClusterRole",
        "ClusterRoleBinding",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "ServiceAccount",
    ], kinds
    yield chart
    next(installed, None)


@pytest.fixture(scope="module")
def namespaced_rbac(kube: Kube, rbac_crds: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    """With operator.watchNamespaces: Roles in the watched namespace, nothing namespaced cluster-wide."""
    suffix = uuid.uuid4().hex[:5]
    installed = _install(kube, tmp_path_factory.mktemp("rbac-ns"), f"rbacns{suffix}", (f"e2e-watched-{suffix}",))
    chart = next(installed)
    assert [d["metadata"]["name"] for d in chart.docs if d["kind"] == "ClusterRole"] == [
        f"rbacns{suffix}-trodden-cluster"
    ]
    yield chart
    next(installed, None)


def _operator(chart: Installed, dsn: str, log: Path) -> Iterator[OperatorProcess]:
    """The operator under the chart's RBAC, with leader election as the chart runs it."""
    args = (
        "--leader-election",
        "--leader-election-lease",
        f"{chart.namespace}/trodden-operator",
        *(a for ns in chart.watched for a in ("-n", ns)),
    )
    proc = OperatorProcess(chart.kubeconfig, dsn, log, args=args)
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def rbac_operator(
    chart_rbac: Installed,
    rbac_dsn: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[OperatorProcess]:
    """The operator, cluster-wide as the chart runs it by default, as the chart's ServiceAccount."""
    yield from _operator(chart_rbac, rbac_dsn, tmp_path_factory.mktemp("rbac-op") / "operator.log")


def _refusals(proc: OperatorProcess) -> list[str]:
    log = proc.log_path.read_text(errors="replace")
    return [line for line in log.splitlines() if FORBIDDEN.search(line)]


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
        "items"
    ]
    return sorted(items, key=lambda r: r["metadata"]["creationTimestamp"])


def test_operator_reconciles_every_kind_under_the_chart_rbac(
    kube: Kube, chart_rbac: Installed, rbac_operator: OperatorProcess, namespace: str
) -> None:
    kube.apply(
        {"apiVersion": API, "kind": "RumSource", "metadata": {"name": "shop"}, "spec": {}},
        {
            "apiVersion": API,
            "kind": "ReplayRun",
            "metadata": {"name": "run1"},
            "spec": {
                "suite": "web-suite",
                "revision": 1,
                "source": "shop",
                "shards": 2,
                "target": {"service": {"name": "web", "port": 8080}},
            },
        },
        {
            "apiVersion": API,
            "kind": "SessionSelector",
            "metadata": {"name": "nightly"},
            "spec": {"source": "shop", "schedule": "0 3 * * *", "strategies": [{"type": "errors"}]},
        },
        watched_deployment("web", "shop:1"),
        {
            "apiVersion": API,
            "kind": "TestSuite",
            "metadata": {"name": "web-suite"},
            "spec": {
                "source": "shop",
                "replayOn": {"deployment": "web", "keepRuns": 1, "target": {"service": {"name": "web"}}},
            },
        },
        namespace=namespace,
    )

    # RumSource: the owned objects appear (SSA create + patch, the Secrets created once) and its
    # status subresource is written.
    rum = _with_condition(kube, "rumsource", "shop", namespace, "Ready")
    assert rum["status"]["observedGeneration"] == 1
    assert condition(rum, "Ready")["observedGeneration"] == 1  # type: ignore[index]
    for kind, name in [
        ("deployment", "shop-collector"),
        ("service", "shop-collector"),
        ("secret", "shop-ingest-key"),
        ("configmap", "shop-sanitization"),
        ("configmap", "shop-instrumentation"),
        ("secret", "trodden-tenant-dsn"),
    ]:
        obj = kube.wait_for(f"{kind}/{name}", lambda k=kind, n=name: get_or_none(kube, k, n, namespace))
        if name != "trodden-tenant-dsn":
            assert obj["metadata"]["ownerReferences"][0]["uid"] == rum["metadata"]["uid"], (kind, name)
    store_suite_revision(namespace_dsn(kube, namespace), "web-suite", 1)

    # ReplayRun: its indexed Job, and conditions in its status.
    job = wait_job(kube, namespace, "replay", "run1")
    assert job["spec"]["completionMode"] == "Indexed" and job["spec"]["completions"] == 2
    run = _with_condition(kube, "replayrun", "run1", namespace, "Succeeded")
    assert condition(run, "Succeeded")["status"] == "Unknown"  # type: ignore[index]
    # The Job finishes (written as the job controller would): the operator sees it through its Job
    # watch, finishes the run (no results stored: NoResults) and sets the Job's TTL (patch).
    complete_job(kube, namespace, job["metadata"]["name"])
    waited = kube.run(
        "wait",
        "--for=condition=Succeeded=False",
        "replayrun/run1",
        f"--namespace={namespace}",
        "--timeout=60s",
        check=False,
    )
    assert waited.returncode == 0, waited.stderr
    assert get_or_none(kube, "replayrun", "run1", namespace)["status"]["phase"] == "Failed"  # type: ignore[index]
    kube.wait_for(
        "job ttl", lambda: kube.get("job", job["metadata"]["name"], namespace)["spec"].get("ttlSecondsAfterFinished")
    )

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
        lambda: (
            (get_or_none(kube, "testsuite", "web-suite", namespace) or {}).get("status", {}).get("rolloutTemplateHash")
        ),
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
        lambda: (
            (runs := _rollout_runs(kube, namespace)) and runs[0]["metadata"]["uid"] != first["metadata"]["uid"] and runs
        ),
        timeout=120,  # the pruned run goes once kopf has removed its finalizer: slow on a loaded machine
    )
    assert second["metadata"]["name"] != first["metadata"]["name"]
    suite = kube.wait_for(
        "lastReplayRun",
        lambda: (
            (s := kube.get("testsuite", "web-suite", namespace))["status"].get("lastReplayRun")
            == second["metadata"]["name"]
            and s
        ),
    )
    assert suite["status"]["observedGeneration"] == 1

    # The leader Lease, held by this operator, in the release namespace.
    lease = kube.get("lease", "trodden-operator", chart_rbac.namespace)
    assert lease["spec"]["holderIdentity"]
    # Not one request of the operator was refused by RBAC.
    refused = _refusals(rbac_operator)
    assert not refused, "\n".join(refused[:5])


def test_namespaced_operator_works_under_roles_alone(
    kube: Kube, namespaced_rbac: Installed, rbac_dsn: str, tmp_path: Path
) -> None:
    [watched] = namespaced_rbac.watched
    for proc in _operator(namespaced_rbac, rbac_dsn, tmp_path / "operator.log"):
        kube.apply(
            {"apiVersion": API, "kind": "RumSource", "metadata": {"name": "shop"}, "spec": {}},
            {
                "apiVersion": API,
                "kind": "ReplayRun",
                "metadata": {"name": "run1"},
                "spec": {"suite": "s", "revision": 1, "target": {"url": "http://web"}},
            },
            namespace=watched,
        )
        _with_condition(kube, "rumsource", "shop", watched, "Ready")
        job = wait_job(kube, watched, "replay", "run1")
        complete_job(kube, watched, job["metadata"]["name"])
        kube.run("wait", "--for=condition=Failed", "replayrun/run1", f"--namespace={watched}", "--timeout=60s")
        refused = _refusals(proc)
        assert not refused, "\n".join(refused[:5])


# ---------------------------------------------------------------------------------------------
# Not more: everything the chart does not grant is refused


def _named_resources(rules: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return sorted({(group, res) for rule in rules for group in rule["apiGroups"] for res in rule["resources"]})


def _matrix_is_exact(
    kube: Kube, chart: Installed, rules: list[dict[str, Any]], namespace: str | None, names: tuple[str, ...] = ("",)
) -> None:
    """Every (verb, resource[, name]) the rules name, reviewed in `namespace`: allowed exactly when
    a rule grants it."""
    matrix = [
        (verb, group, res, name) for group, res in _named_resources(rules) for verb in ALL_VERBS for name in names
    ]
    answers = access_reviews(kube, chart.user, [(v, g, f"{r}:{n}" if n else r, namespace) for v, g, r, n in matrix])
    wrong = [
        f"{v} {g or 'core'}/{r} {n}: allowed={a}"
        for (v, g, r, n), a in zip(matrix, answers, strict=True)
        if a != granted(rules, v, g, r, n)
    ]
    assert not wrong, wrong
    assert any(answers) and not all(answers)


def test_roles_grant_nothing_more_than_their_rules(kube: Kube, chart_rbac: Installed, namespace: str) -> None:
    for doc in chart_rbac.docs:
        for rule in doc.get("rules", []):
            assert not any("*" in rule.get(key, []) for key in ("apiGroups", "resources", "verbs")), doc
    cluster = chart_rbac.rules("ClusterRole")
    # Reviewed in a namespace of the test's, so the bindings really are cluster-wide; with object
    # names too (a rule restricted to names would show there).
    _matrix_is_exact(kube, chart_rbac, cluster, namespace, ("", "trodden-tenant-dsn", "other"))
    # The Lease: in the release namespace only.
    leader = chart_rbac.rules("Role", chart_rbac.namespace)
    _matrix_is_exact(kube, chart_rbac, leader + cluster, chart_rbac.namespace)
    assert access_reviews(kube, chart_rbac.user, [("update", "coordination.k8s.io", "leases", namespace)]) == [False]


def test_patching_is_never_a_way_to_read_a_secret(kube: Kube, chart_rbac: Installed, namespace: str) -> None:
    """A PATCH or UPDATE answers with the object as stored: whatever the operator may patch, it can
    read. Secrets are not among them; what it may patch is named here, so a new one is a decision."""
    rules = chart_rbac.rules("ClusterRole")
    patchable = {
        (g, r) for g, r in _named_resources(rules) if granted(rules, "patch", g, r) or granted(rules, "update", g, r)
    }
    assert patchable == {
        ("trodden.dev", k)
        for k in (
            "rumsources",
            "sessionselectors",
            "testsuites",
            "replayruns",
            "rumsources/status",
            "sessionselectors/status",
            "testsuites/status",
            "replayruns/status",
            "rumsources/finalizers",
            "sessionselectors/finalizers",
            "testsuites/finalizers",
            "replayruns/finalizers",
        )
    } | {("apps", "deployments"), ("batch", "jobs"), ("batch", "cronjobs"), ("", "configmaps"), ("", "services")}
    reads = access_reviews(
        kube,
        chart_rbac.user,
        [
            (verb, "", f"secrets:{name}", namespace)
            for verb in ("get", "list", "watch", "patch", "update")
            for name in ("", "trodden-tenant-dsn", "trodden-dsn", "shop-ingest-key")
        ],
    )
    assert not any(reads)


def test_namespaced_install_makes_workloads_only_where_it_serves(
    kube: Kube, namespaced_rbac: Installed, namespace: str
) -> None:
    [watched] = namespaced_rbac.watched
    assert not [
        d for d in namespaced_rbac.docs if d["kind"] == "ClusterRole" and granted(d["rules"], "create", "batch", "jobs")
    ]
    workloads = [
        ("create", "batch", "jobs"),
        ("create", "batch", "cronjobs"),
        ("create", "apps", "deployments"),
        ("patch", "apps", "deployments"),
        ("create", "", "secrets"),
        ("create", "", "configmaps"),
        ("create", "", "services"),
        ("patch", "trodden.dev", "replayruns/status"),
    ]
    inside = access_reviews(kube, namespaced_rbac.user, [(v, g, r, watched) for v, g, r in workloads])
    outside = access_reviews(kube, namespaced_rbac.user, [(v, g, r, namespace) for v, g, r in workloads])
    everywhere = access_reviews(kube, namespaced_rbac.user, [(v, g, r, None) for v, g, r in workloads])
    assert all(inside), list(zip(workloads, inside, strict=True))
    assert not any(outside) and not any(everywhere)
    _matrix_is_exact(
        kube, namespaced_rbac, namespaced_rbac.rules("Role", watched) + namespaced_rbac.rules("ClusterRole"), watched
    )


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
    for verb, resource in [
        ("watch", "replayruns.trodden.dev"),
        ("patch", "replayruns.trodden.dev/status"),
        ("create", "jobs.batch"),
        ("patch", "deployments.apps"),
        ("create", "secrets"),
    ]:
        result = _can_i(kube, chart_rbac.user, verb, resource, None)
        assert result.stdout.strip() == "yes", (verb, resource, result.stdout, result.stderr)
