"""The test cluster itself: a real API server with RBAC, CRDs, controllers and a scheduler.

Everything except the ``running_node`` tests needs only the control plane (stage 1) and is
never skipped. The ``running_node`` tests need pods to really run (stage 2, or kind).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from e2ekube import Kube

# On kind, load the project image and point this at it; locally, stage 2 imports this one.
TEST_IMAGE = os.environ.get("TRODDEN_E2E_IMAGE", "localhost/trodden-e2e:local")


def test_server_is_kubernetes_1_34_or_given(kube: Kube) -> None:
    version = json.loads(kube.run("version", "-o", "json").stdout)["serverVersion"]
    assert version["major"] == "1"
    if not os.environ.get("KUBECONFIG"):
        assert version["gitVersion"].startswith("v1.34."), version


def test_namespace_is_created_and_finalized_on_delete(kube: Kube) -> None:
    name = f"e2e-ns-{uuid.uuid4().hex[:8]}"
    kube.run("create", "namespace", name)
    assert kube.get("namespace", name)["status"]["phase"] == "Active"
    # Deleting waits for the namespace controller (in kube-controller-manager) to finalize it.
    kube.run("delete", "namespace", name, "--wait=true", "--timeout=90s")
    gone = kube.run("get", "namespace", name, check=False)
    assert gone.returncode != 0
    assert "NotFound" in gone.stderr


def test_rbac_forbids_an_unprivileged_service_account(kube: Kube, namespace: str) -> None:
    kube.run("create", "serviceaccount", "nobody", f"--namespace={namespace}")
    who = f"--as=system:serviceaccount:{namespace}:nobody"

    denied = kube.run("get", "pods", f"--namespace={namespace}", who, check=False)
    assert denied.returncode != 0
    assert "forbidden" in denied.stderr.lower(), denied.stderr
    assert (
        kube.run("auth", "can-i", "create", "configmaps", f"--namespace={namespace}", who, check=False).stdout.strip()
        == "no"
    )

    kube.run("create", "role", "pod-reader", "--verb=get,list", "--resource=pods", f"--namespace={namespace}")
    kube.run(
        "create",
        "rolebinding",
        "nobody-reads",
        "--role=pod-reader",
        f"--serviceaccount={namespace}:nobody",
        f"--namespace={namespace}",
    )
    kube.wait_for(
        "the RoleBinding to take effect",
        lambda: kube.run("get", "pods", f"--namespace={namespace}", who, check=False).returncode == 0,
    )
    # The grant is exactly what the Role says: still no writes, still nothing elsewhere.
    assert (
        kube.run("auth", "can-i", "delete", "pods", f"--namespace={namespace}", who, check=False).stdout.strip() == "no"
    )
    assert kube.run("auth", "can-i", "list", "pods", "--namespace=default", who, check=False).stdout.strip() == "no"


def _widget_crd(group: str) -> dict[str, Any]:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "required": ["size"],
                "properties": {
                    "size": {"type": "integer", "minimum": 1, "maximum": 10},
                    "colour": {"type": "string", "enum": ["red", "green"]},
                },
            }
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}],
        },
    }


@pytest.fixture
def widget_group(kube: Kube) -> Any:
    group = f"e2e{uuid.uuid4().hex[:8]}.trodden.test"
    kube.apply(_widget_crd(group))
    try:
        kube.run("wait", "--for=condition=Established", f"crd/widgets.{group}", "--timeout=60s")
        yield group
    finally:
        kube.run("delete", "crd", f"widgets.{group}", "--wait=false", check=False)


def test_crd_schema_accepts_valid_and_refuses_invalid_resources(kube: Kube, namespace: str, widget_group: str) -> None:
    def widget(name: str, spec: dict[str, Any]) -> dict[str, Any]:
        return {"apiVersion": f"{widget_group}/v1", "kind": "Widget", "metadata": {"name": name}, "spec": spec}

    kube.apply(widget("good", {"size": 3, "colour": "red"}), namespace=namespace)
    assert kube.get(f"widgets.{widget_group}", "good", namespace=namespace)["spec"]["size"] == 3

    refused = kube.run(
        "apply",
        f"--namespace={namespace}",
        "-f",
        "-",
        check=False,
        stdin=json.dumps(widget("bad", {"size": 0, "colour": "blue"})),
    )
    assert refused.returncode != 0
    assert "spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1" in refused.stderr
    assert 'spec.colour: Unsupported value: "blue"' in refused.stderr

    missing = kube.run(
        "apply", f"--namespace={namespace}", "-f", "-", check=False, stdin=json.dumps(widget("empty", {}))
    )
    assert "spec.size: Required value" in missing.stderr


def _deployment(name: str, image: str, command: list[str], port: int | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "main", "image": image, "imagePullPolicy": "IfNotPresent", "command": command}
    if port:
        container["ports"] = [{"containerPort": port}]
        container["readinessProbe"] = {"httpGet": {"path": "/", "port": port}, "periodSeconds": 1}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}},
        },
    }


def _job(name: str, image: str, command: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {"name": "main", "image": image, "imagePullPolicy": "IfNotPresent", "command": command}
                    ],
                }
            },
        },
    }


def test_deployment_controller_creates_replicaset_and_pods(kube: Kube, namespace: str) -> None:
    kube.apply(_deployment("web", TEST_IMAGE, ["sleep", "3600"]), namespace=namespace)
    rs = kube.wait_for("a ReplicaSet", lambda: kube.get("replicasets", namespace=namespace, app="web")["items"])
    assert rs[0]["metadata"]["ownerReferences"][0]["kind"] == "Deployment"
    pods = kube.wait_for("a Pod", lambda: kube.get("pods", namespace=namespace, app="web")["items"])
    assert pods[0]["metadata"]["ownerReferences"][0]["name"] == rs[0]["metadata"]["name"]


def test_job_controller_creates_pods(kube: Kube, namespace: str) -> None:
    kube.apply(_job("once", TEST_IMAGE, ["true"]), namespace=namespace)
    job_pods = {"job-name": "once"}
    pods = kube.wait_for("the Job's Pod", lambda: kube.get("pods", namespace=namespace, **job_pods)["items"])
    assert pods[0]["metadata"]["ownerReferences"][0]["kind"] == "Job"


def test_scheduler_decides_on_pods(kube: Kube, namespace: str) -> None:
    """A pod gets a scheduling decision: bound to a node, or Unschedulable when there is none."""
    kube.run(
        "run",
        "probe",
        f"--image={TEST_IMAGE}",
        "--restart=Never",
        f"--namespace={namespace}",
        "--command",
        "--",
        "sleep",
        "60",
    )

    def decided() -> dict[str, Any] | None:
        pod = kube.get("pod", "probe", namespace=namespace)
        conditions = {c["type"]: c for c in pod["status"].get("conditions", [])}
        return conditions.get("PodScheduled")

    condition = kube.wait_for("a scheduling decision", decided)
    if condition["status"] == "False":
        assert condition["reason"] == "Unschedulable", condition
        assert not kube.get("nodes")["items"], "Unschedulable although nodes exist"
    else:
        assert kube.get("pod", "probe", namespace=namespace)["spec"]["nodeName"]


@pytest.mark.usefixtures("running_node")
def test_job_runs_to_completion(kube: Kube, namespace: str) -> None:
    kube.apply(_job("hello", TEST_IMAGE, ["python3", "-c", "print('hello from a pod')"]), namespace=namespace)
    kube.run("wait", "--for=condition=Complete", "job/hello", f"--namespace={namespace}", "--timeout=120s", timeout=150)
    logs = kube.run("logs", "job/hello", f"--namespace={namespace}").stdout
    assert "hello from a pod" in logs


@pytest.mark.usefixtures("running_node")
def test_deployment_serves_http_through_its_service(kube: Kube, namespace: str) -> None:
    serve = ["python3", "-c", SERVE_HOSTNAME]
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }
    kube.apply(_deployment("web", TEST_IMAGE, serve, port=8080), service, namespace=namespace)
    kube.run("rollout", "status", "deployment/web", f"--namespace={namespace}", "--timeout=120s", timeout=150)
    kube.wait_for("the Service's endpoints", lambda: _ready_endpoints(kube, namespace, "web"))
    # The API server's service proxy resolves the Service to its endpoints and connects to the pod.
    body = kube.run("get", "--raw", f"/api/v1/namespaces/{namespace}/services/web:80/proxy/").stdout
    assert body.startswith("served by web-"), body

    # And from another pod, through the Service's virtual IP (kube-proxy's rules), reached by its
    # address and by its names through cluster DNS (the short name via the pod's search path).
    cluster_ip = kube.get("service", "web", namespace=namespace)["spec"]["clusterIP"]
    fetch = (
        "import urllib.request\n"
        f"for host in ('{cluster_ip}', 'web.{namespace}.svc.cluster.local', 'web'):\n"
        "    print(host, urllib.request.urlopen('http://%s:80/' % host, timeout=10).read().decode())\n"
    )
    kube.apply(_job("fetch", TEST_IMAGE, ["python3", "-c", fetch]), namespace=namespace)
    kube.run("wait", "--for=condition=Complete", "job/fetch", f"--namespace={namespace}", "--timeout=120s", timeout=150)
    lines = kube.run("logs", "job/fetch", f"--namespace={namespace}").stdout.splitlines()
    assert [line.split(" ", 1)[1].startswith("served by web-") for line in lines] == [True] * 3, lines


RESOLVE = """
import json, socket
names = ["kubernetes.default.svc.cluster.local", "kubernetes.default", "kube-dns.kube-system.svc"]
answers = {name: sorted({a[4][0] for a in socket.getaddrinfo(name, 443, socket.AF_INET)}) for name in names}
try:
    socket.getaddrinfo("no-such-service.default.svc.cluster.local", 80)
    answers["missing"] = "resolved"
except socket.gaierror as err:
    answers["missing"] = err.errno
print(json.dumps({"answers": answers, "resolv.conf": open("/etc/resolv.conf").read()}))
"""


@pytest.mark.usefixtures("running_node")
def test_pods_resolve_services_through_cluster_dns(kube: Kube, namespace: str) -> None:
    """The kubelet gives pods the kube-dns Service as their nameserver, with the cluster search path."""
    dns_ip = kube.get("service", "kube-dns", namespace="kube-system")["spec"]["clusterIP"]
    kube.apply(_job("resolve", TEST_IMAGE, ["python3", "-c", RESOLVE]), namespace=namespace)
    kube.run(
        "wait", "--for=condition=Complete", "job/resolve", f"--namespace={namespace}", "--timeout=120s", timeout=150
    )
    found = json.loads(kube.run("logs", "job/resolve", f"--namespace={namespace}").stdout)
    assert f"nameserver {dns_ip}" in found["resolv.conf"], found
    assert f"search {namespace}.svc.cluster.local svc.cluster.local cluster.local" in found["resolv.conf"], found
    kubernetes_ip = kube.get("service", "kubernetes", namespace="default")["spec"]["clusterIP"]
    answers = found["answers"]
    assert answers["kubernetes.default.svc.cluster.local"] == [kubernetes_ip], found
    assert answers["kubernetes.default"] == [kubernetes_ip], found
    assert answers["kube-dns.kube-system.svc"] == [dns_ip], found
    assert answers["missing"] == socket.EAI_NONAME, found


SERVE_HOSTNAME = """
import http.server, os
os.chdir("/tmp")
with open("index.html", "w") as page:
    page.write("served by " + os.uname().nodename)
http.server.ThreadingHTTPServer(("", 8080), http.server.SimpleHTTPRequestHandler).serve_forever()
"""


CALL_API = """
import json, os, ssl, urllib.error, urllib.request
sa = "/var/run/secrets/kubernetes.io/serviceaccount"
token = open(sa + "/token").read()
host = os.environ["KUBERNETES_SERVICE_HOST"]
port = os.environ["KUBERNETES_SERVICE_PORT"]
url = "https://%s:%s/api/v1/namespaces/%s/secrets" % (host, port, open(sa + "/namespace").read())
request = urllib.request.Request(url, headers={"Authorization": "Bearer " + token})
try:
    urllib.request.urlopen(request, context=ssl.create_default_context(cafile=sa + "/ca.crt"), timeout=10)
    print(json.dumps({"code": 200}))
except urllib.error.HTTPError as err:
    print(json.dumps(json.loads(err.read())))
"""


@pytest.mark.usefixtures("running_node")
def test_pod_reaches_the_api_with_its_service_account(kube: Kube, namespace: str) -> None:
    """A pod reaches the API through the "kubernetes" Service (KUBERNETES_SERVICE_HOST, the
    in-cluster configuration every client library uses), authenticates with its token, and RBAC
    forbids what its account was not granted. Locally the API server listens on the node's
    address, which its lease reconciler publishes as that Service's endpoint."""
    assert _ready_endpoints(kube, "default", "kubernetes"), "the kubernetes Service has no endpoint"
    job = _job("api", TEST_IMAGE, ["python3", "-c", CALL_API])
    kube.apply(job, namespace=namespace)
    kube.run("wait", "--for=condition=Complete", "job/api", f"--namespace={namespace}", "--timeout=120s", timeout=150)
    answer = json.loads(kube.run("logs", "job/api", f"--namespace={namespace}").stdout)
    assert answer["code"] == 403, answer
    assert f"system:serviceaccount:{namespace}:default" in answer["message"]


def _ready_endpoints(kube: Kube, namespace: str, service: str) -> list[Any]:
    slices = kube.get("endpointslices", namespace=namespace, **{"kubernetes.io/service-name": service})["items"]
    return [e for s in slices for e in s.get("endpoints") or [] if e.get("conditions", {}).get("ready")]


@pytest.mark.skipif(bool(os.environ.get("KUBECONFIG")), reason="tests the local cluster's own tooling")
def test_local_cluster_cli_starts_and_stops_everything_by_pid(tmp_path: Path) -> None:
    """`up` leaves a cluster running; `down`, from another process, stops every process it started."""
    script = Path(__file__).parent / "cluster" / "localcluster.py"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(script), *args, "--dir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    up = cli("up", "--node", "off")
    assert up.returncode == 0, up.stderr
    status = cli("status")
    assert status.returncode == 0, status.stdout
    pids = [p["pid"] for p in json.loads(status.stdout)["processes"].values()]
    assert len(pids) == 4
    assert all(Path(f"/proc/{pid}").exists() for pid in pids)

    assert cli("down").returncode == 0
    assert not [pid for pid in pids if _running(pid)]
    assert cli("status").returncode == 3


def _running(pid: int) -> bool:
    """The process exists and is not a zombie (init reaps those a moment later)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")
