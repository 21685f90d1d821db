"""Stage 2: one node for the local cluster, so pods really run.

Debian's containerd, runc and CNI plugins plus a kubelet and kube-proxy built like the
control plane. Everything is scoped to the cluster's state folder (containerd root, state
and socket, kubelet root, CNI config and IPAM data) and to one cgroup subtree, so ``down``
can remove exactly what this node created. Images: no registry is reachable, so the pause
image and a Debian+Python base image are built locally (``node/``) and imported.

One node cluster per machine at a time: the bridge name and pod range are fixed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING, Any

import gobins
import k8sbins
import k8spki

if TYPE_CHECKING:
    from localcluster import LocalCluster

NODE_FILES = Path(__file__).resolve().parent / "node"
NODE_CACHE = k8sbins.REPO_ROOT / ".cache" / "node"
NODE_NAME = "trodden-node"
POD_CIDR = "10.244.0.0/24"
BRIDGE = "trodden0"
# The kubelet refuses a loopback node IP ("nodeIP can't be loopback address"), so the node's
# address is the pod bridge's gateway: local to this machine, reachable by the API server
# (logs, exec, port-forward) and by pods, and never routed anywhere else.
NODE_IP = "10.244.0.1"
CGROUP_ROOT = "trodden-e2e"
CGROUP_FS = Path("/sys/fs/cgroup")
PAUSE_IMAGE = "localhost/trodden-pause:1"
# Not ":latest": that tag defaults pods to imagePullPolicy Always, and there is no registry.
BASE_IMAGE = "localhost/trodden-e2e-base:local"
TEST_IMAGE = "localhost/trodden-e2e:local"
# PostgreSQL for the chart's bundled database (no postgres image can be pulled): node/postgres.
POSTGRES_IMAGE = "localhost/trodden-postgres:15-local"
ISOLATION_CHAIN = "TRODDEN-NODE-ISOLATION"
# Services on the node's address (API server, kubelet, DNS) answer this machine and its pods only.
INPUT_CHAIN = "TRODDEN-NODE-INPUT"
# Cluster DNS: CoreDNS (built from its Go module, gobins.py) as a process on the node's address,
# behind the conventional kube-dns Service, which the kubelet gives pods as their nameserver.
CLUSTER_DOMAIN = "cluster.local"
DNS_SERVICE_IP = "10.96.0.10"
# Host-wide settings the node's components change (the bridge plugin turns forwarding on):
# recorded before start and put back by cleanup.
SYSCTLS = ("net/ipv4/ip_forward", "net/ipv4/conf/all/route_localnet")
# The bridge, pod range, cgroup root and iptables chains are machine-wide: one node at a time.
# The owner (its cluster folder) is recorded here while it runs.
OWNER_FILE = Path("/run/trodden-e2e-node.json")
HOST_TOOLS = ("containerd", "containerd-shim-runc-v2", "ctr", "runc", "podman", "debootstrap", "iptables", "ip")
CNI_BIN = Path("/usr/lib/cni")
DEBIAN_PACKAGES = "containerd runc containernetworking-plugins podman debootstrap iptables iproute2"


class NodeError(RuntimeError):
    """The node could not be set up; the message says which step and why."""


def missing_host_tools() -> list[str]:
    missing = [tool for tool in HOST_TOOLS if shutil.which(tool) is None]
    if not (CNI_BIN / "bridge").exists():
        missing.append(str(CNI_BIN / "bridge"))
    return missing


def unavailable_reason() -> str:
    """Why this machine cannot run the node ("" when it can)."""
    if os.geteuid() != 0:
        return "(the node needs root: containerd, cgroups, bridge and iptables)"
    missing = missing_host_tools()
    if missing:
        return f"(missing {', '.join(missing)}: apt-get install {DEBIAN_PACKAGES})"
    owner = _live_owner()
    if owner:
        return f"(another local node is running, for the cluster in {owner}; one per machine)"
    return ""


@contextlib.contextmanager
def _owner_lock() -> Iterator[None]:
    with open(OWNER_FILE.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _live_owner() -> str:
    """The cluster folder of the running node, if any: its recorded state still has processes."""
    try:
        owner = Path(json.loads(OWNER_FILE.read_text())["dir"])
    except (OSError, ValueError, KeyError):
        return ""
    from localcluster import State, pid_alive

    try:
        state = State.from_json((owner / "state.json").read_text())
    except (OSError, ValueError):
        return ""
    return str(owner) if state.node and any(pid_alive(p) for p in state.processes) else ""


def _claim(cluster: LocalCluster) -> None:
    with _owner_lock():
        owner = _live_owner()
        if owner and owner != str(cluster.dir):
            raise NodeError(f"another local node is running, for the cluster in {owner}; one per machine")
        OWNER_FILE.write_text(json.dumps({"dir": str(cluster.dir)}))


def _release(cluster: LocalCluster) -> None:
    with _owner_lock(), contextlib.suppress(OSError, ValueError, KeyError):
        if json.loads(OWNER_FILE.read_text())["dir"] == str(cluster.dir):
            OWNER_FILE.unlink()


def run(*cmd: str, what: str, timeout: float = 600, **kwargs: Any) -> str:
    """Run a host command; failures raise with the command's own error text."""
    result: subprocess.CompletedProcess[str] = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )
    if result.returncode != 0:
        raise NodeError(f"{what}: `{' '.join(cmd)}` failed ({result.returncode}):\n{result.stderr.strip()[-3000:]}")
    return result.stdout


# ----- images -------------------------------------------------------------------------------------
def _inputs_digest() -> str:
    """Images are rebuilt when anything they are made from changes."""
    digest = hashlib.sha256()
    # Only what goes into the images: the node's configuration templates are rendered at start.
    inputs = [
        NODE_FILES / "Dockerfile",
        NODE_FILES / "base-image.sh",
        *(NODE_FILES / "pause").glob("*"),
        *(NODE_FILES / "postgres").glob("*"),
    ]
    for path in sorted(inputs):
        if path.is_file():
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def ensure_images() -> Path:
    """An image archive (pause, base, test image) ready for ``ctr images import``; cached."""
    archive = NODE_CACHE / f"images-{_inputs_digest()}.tar"
    if archive.exists():
        return archive
    NODE_CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="trodden-images-") as tmp:
        work = Path(tmp)
        _build_pause_image(work)
        base_tar = NODE_CACHE / "debian-bookworm-python3.tar"
        run("bash", str(NODE_FILES / "base-image.sh"), str(base_tar), what="debootstrap the base image", timeout=1800)
        run(
            "podman",
            "import",
            "--change",
            'CMD ["python3"]',
            str(base_tar),
            BASE_IMAGE,
            what="import the base image into podman",
        )
        # The same Dockerfile builds on a registry base elsewhere; here on the local one.
        run(
            "podman",
            "build",
            "--network=host",
            "--build-arg",
            f"BASE_IMAGE={BASE_IMAGE}",
            "-t",
            TEST_IMAGE,
            "-f",
            str(NODE_FILES / "Dockerfile"),
            str(NODE_FILES),
            what="build the test image with podman",
        )
        run(
            "podman",
            "build",
            "--network=host",
            "--build-arg",
            f"BASE_IMAGE={BASE_IMAGE}",
            "-t",
            POSTGRES_IMAGE,
            "-f",
            str(NODE_FILES / "postgres" / "Containerfile"),
            str(NODE_FILES / "postgres"),
            what="build the PostgreSQL image with podman",
            timeout=1200,
        )
        staging = archive.with_suffix(".tmp")
        run(
            "podman",
            "save",
            "--format",
            "docker-archive",
            "-m",
            "-o",
            str(staging),
            PAUSE_IMAGE,
            BASE_IMAGE,
            TEST_IMAGE,
            POSTGRES_IMAGE,
            what="save the images",
        )
        os.replace(staging, archive)
    return archive


def _build_pause_image(work: Path) -> None:
    go = k8sbins.go_binary()
    env = k8sbins.go_env()
    run(
        go,
        "build",
        "-trimpath",
        "-ldflags=-s -w",
        "-o",
        str(work / "pause"),
        ".",
        cwd=NODE_FILES / "pause",
        env=env,
        what="build the pause binary",
    )
    (work / "Containerfile").write_text('FROM scratch\nCOPY pause /pause\nENTRYPOINT ["/pause"]\n')
    run(
        "podman", "build", "-t", PAUSE_IMAGE, "-f", str(work / "Containerfile"), str(work), what="build the pause image"
    )


# ----- start ----------------------------------------------------------------------------------------
def paths(cluster: LocalCluster) -> dict[str, Path]:
    node = cluster.dir / "node"
    return {
        "node": node,
        "containerd_root": node / "containerd",
        "containerd_state": node / "run",
        "socket": node / "run" / "containerd.sock",
        "cni_conf": node / "cni",
        "ipam": node / "ipam",
        "kubelet_root": node / "kubelet",
        "pod_logs": node / "pod-logs",
    }


def _render(template: str, target: Path, **values: object) -> Path:
    text = Template((NODE_FILES / template).read_text()).substitute({k: str(v) for k, v in values.items()})
    target.write_text(text)
    return target


def prepare_network(cluster: LocalCluster) -> None:
    """Claim the machine's node and make the pod bridge with the node's address.

    Runs before the control plane starts: the API server listens on the node's address.
    """
    missing = missing_host_tools()
    if missing:
        raise NodeError(f"stage 2 needs {', '.join(missing)}: apt-get install {DEBIAN_PACKAGES}")
    _claim(cluster)
    p = paths(cluster)
    p["node"].mkdir(parents=True, exist_ok=True)
    _save_sysctls(p["node"] / "sysctls.json")
    _make_bridge()
    _guard_node_address()


def start(cluster: LocalCluster, bins: k8sbins.Binaries, deadline: float) -> None:
    """Start cluster DNS, containerd, kubelet and kube-proxy; return when the node is Ready."""
    archive = ensure_images()
    coredns = gobins.ensure("coredns")["coredns"]
    p = paths(cluster)
    for key in ("containerd_root", "containerd_state", "cni_conf", "ipam", "kubelet_root", "pod_logs"):
        p[key].mkdir(parents=True, exist_ok=True)
    _issue_node_identities(cluster)
    _make_cgroup_root()
    ports = cluster.state.ports
    ports.update(
        kubelet=_free_port(),
        kubelet_healthz=_free_port(),
        proxy_healthz=_free_port(),
        proxy_metrics=_free_port(),
        dns_health=_free_port(),
        dns_ready=_free_port(),
    )
    cluster.save_state()
    _start_dns(cluster, coredns, deadline)

    _render("cni.conflist", p["cni_conf"] / "10-trodden.conflist", bridge=BRIDGE, pod_cidr=POD_CIDR, ipam_dir=p["ipam"])
    containerd_config = _render(
        "containerd.toml",
        p["node"] / "containerd.toml",
        root=p["containerd_root"],
        state=p["containerd_state"],
        socket=p["socket"],
        pause_image=PAUSE_IMAGE,
        snapshotter="overlayfs",
        cni_conf_dir=p["cni_conf"],
    )
    containerd = cluster.spawn(
        "containerd", Path(shutil.which("containerd") or "containerd"), ["--config", str(containerd_config)]
    )
    cluster.wait(containerd, deadline, lambda: _ctr(p["socket"], "version", check=False) is not None)
    _ctr(p["socket"], "images", "import", str(archive))

    kubelet_config = _render(
        "kubelet.yaml",
        p["node"] / "kubelet.yaml",
        address=NODE_IP,
        port=ports["kubelet"],
        healthz_port=ports["kubelet_healthz"],
        runtime_socket=p["socket"],
        tls_cert=cluster.pki / "kubelet.crt",
        tls_key=cluster.pki / "kubelet.key",
        client_ca=cluster.pki / "ca.crt",
        cgroup_root=f"/{CGROUP_ROOT}",
        pod_logs_dir=p["pod_logs"],
        cluster_dns=DNS_SERVICE_IP,
        cluster_domain=CLUSTER_DOMAIN,
    )
    kubelet = cluster.spawn(
        "kubelet",
        bins.path("kubelet"),
        [
            f"--config={kubelet_config}",
            f"--kubeconfig={cluster.dir / 'kubelet.kubeconfig'}",
            f"--hostname-override={NODE_NAME}",
            f"--node-ip={NODE_IP}",
            f"--root-dir={p['kubelet_root']}",
            "--v=1",
        ],
    )
    proxy = cluster.spawn(
        "kube-proxy",
        bins.path("kube-proxy"),
        [
            f"--kubeconfig={cluster.dir / 'kube-proxy.kubeconfig'}",
            f"--hostname-override={NODE_NAME}",
            "--proxy-mode=iptables",
            f"--cluster-cidr={POD_CIDR}",
            f"--bind-address={NODE_IP}",
            # NodePorts only on the node's own address, never on the host's other interfaces.
            "--nodeport-addresses=primary",
            # NodePorts on 127.0.0.1 would need route_localnet, a host-wide setting: not wanted.
            "--iptables-localhost-nodeports=false",
            f"--healthz-bind-address=127.0.0.1:{ports['proxy_healthz']}",
            f"--metrics-bind-address=127.0.0.1:{ports['proxy_metrics']}",
            # Leave the host's conntrack sysctls alone: this VM may refuse to change them.
            "--conntrack-max-per-core=0",
            "--v=1",
        ],
    )
    cluster.wait(kubelet, deadline, lambda: _node_ready(cluster))
    cluster.wait(proxy, deadline, lambda: _http_ok(f"http://127.0.0.1:{ports['proxy_healthz']}/healthz"))
    _isolate_bridge()


def _issue_node_identities(cluster: LocalCluster) -> None:
    from localcluster import write_kubeconfig

    ca = k8spki.CertificateAuthority.load(cluster.pki)
    ca.issue("kubelet", NODE_NAME, server_names=[NODE_IP, "127.0.0.1", "localhost", NODE_NAME], client=False)
    identities = {
        "kubelet": (f"system:node:{NODE_NAME}", "system:nodes"),
        "kube-proxy": ("system:kube-proxy", None),
        "coredns": ("system:coredns", None),
    }
    for stem, (user, group) in identities.items():
        client = ca.issue(f"{stem}-client", user, organization=group)
        write_kubeconfig(cluster.dir / f"{stem}.kubeconfig", cluster.server, ca.cert_path, client, user)


def _free_port() -> int:
    from localcluster import free_port

    return free_port()


def _make_bridge() -> None:
    """The pod bridge with the node's address; the CNI bridge plugin then reuses it."""
    if subprocess.run(["ip", "link", "show", BRIDGE], capture_output=True, check=False).returncode != 0:
        run("ip", "link", "add", "name", BRIDGE, "type", "bridge", what="create the pod bridge")
    run("ip", "addr", "replace", f"{NODE_IP}/24", "dev", BRIDGE, what="address the pod bridge")
    run("ip", "link", "set", BRIDGE, "up", what="bring the pod bridge up")


def _save_sysctls(record: Path) -> None:
    if not record.exists():
        values = {name: (Path("/proc/sys") / name).read_text().strip() for name in SYSCTLS}
        record.write_text(json.dumps(values))


def _restore_sysctls(record: Path) -> None:
    if not record.exists():
        return
    for name, value in json.loads(record.read_text()).items():
        with contextlib.suppress(OSError):
            (Path("/proc/sys") / name).write_text(value)
    record.unlink()


def _isolate_bridge() -> None:
    """Forward only between pods (and to/from the host): nothing from pods leaves the machine.

    The bridge plugin enables IP forwarding host-wide, which pods need to reach Services
    (the host routes DNATed packets back onto the bridge); this chain, first in FORWARD,
    drops everything forwarded into or out of the bridge from any other interface.
    """
    ipt = ("iptables", "-w", "5")
    subprocess.run([*ipt, "-N", ISOLATION_CHAIN], capture_output=True, check=False)
    run(*ipt, "-F", ISOLATION_CHAIN, what="reset the isolation chain")
    run(*ipt, "-A", ISOLATION_CHAIN, "-i", BRIDGE, "-o", BRIDGE, "-j", "RETURN", what="isolate the bridge")
    run(*ipt, "-A", ISOLATION_CHAIN, "-i", BRIDGE, "-j", "DROP", what="isolate the bridge")
    run(*ipt, "-A", ISOLATION_CHAIN, "-o", BRIDGE, "-j", "DROP", what="isolate the bridge")
    if subprocess.run([*ipt, "-C", "FORWARD", "-j", ISOLATION_CHAIN], capture_output=True, check=False).returncode:
        run(*ipt, "-I", "FORWARD", "1", "-j", ISOLATION_CHAIN, what="isolate the bridge")


def _guard_node_address() -> None:
    """Drop packets for the node's address that come from anywhere but this machine or its pods.

    The API server, the kubelet and DNS listen on it; nothing outside this machine routes to
    10.244.0.1, but a neighbour on the same link could send to it anyway.
    """
    ipt = ("iptables", "-w", "5")
    subprocess.run([*ipt, "-N", INPUT_CHAIN], capture_output=True, check=False)
    run(*ipt, "-F", INPUT_CHAIN, what="reset the node address guard")
    for interface in ("lo", BRIDGE):
        run(*ipt, "-A", INPUT_CHAIN, "-i", interface, "-j", "RETURN", what="guard the node address")
    run(*ipt, "-A", INPUT_CHAIN, "-d", NODE_IP, "-j", "DROP", what="guard the node address")
    if subprocess.run([*ipt, "-C", "INPUT", "-j", INPUT_CHAIN], capture_output=True, check=False).returncode:
        run(*ipt, "-I", "INPUT", "1", "-j", INPUT_CHAIN, what="guard the node address")


def _remove_isolation() -> None:
    ipt = ("iptables", "-w", "5")
    for chain, hook in ((INPUT_CHAIN, "INPUT"), (ISOLATION_CHAIN, "FORWARD")):
        while subprocess.run([*ipt, "-D", hook, "-j", chain], capture_output=True, check=False).returncode == 0:
            pass
        subprocess.run([*ipt, "-F", chain], capture_output=True, check=False)
        subprocess.run([*ipt, "-X", chain], capture_output=True, check=False)


def _cgroup_v2() -> bool:
    return (CGROUP_FS / "cgroup.controllers").exists()


def _cgroup_dirs() -> list[Path]:
    """This node's cgroup subtree: in the unified hierarchy, or in every v1 hierarchy."""
    if _cgroup_v2():
        return [CGROUP_FS / CGROUP_ROOT]
    return [h / CGROUP_ROOT for h in CGROUP_FS.iterdir() if (h / "cgroup.procs").exists()]


def _make_cgroup_root() -> None:
    # kubelet's cgroupfs driver needs its cgroupRoot to exist in every hierarchy.
    for directory in _cgroup_dirs():
        directory.mkdir(exist_ok=True)


def _ctr(socket: Path, *args: str, check: bool = True) -> str | None:
    cmd = ("ctr", "--address", str(socket), "--namespace", "k8s.io", *args)
    if check:
        return run(*cmd, what="containerd", timeout=300)
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    return result.stdout if result.returncode == 0 else None


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return bool(resp.status == 200)
    except urllib.error.HTTPError:
        return False


def _api(cluster: LocalCluster, path: str, method: str = "GET", body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if data else {}
    request = urllib.request.Request(f"{cluster.server}{path}", data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, context=cluster.ssl_context(), timeout=10) as resp:
        return json.loads(resp.read() or b"{}")


# ----- cluster DNS ------------------------------------------------------------------------------
def _dns_objects() -> list[tuple[str, dict[str, Any]]]:
    """(collection path, object): what CoreDNS may read, and the kube-dns Service pointing at it.

    The Service has no selector (CoreDNS is no pod): its one EndpointSlice names the node's
    address, so kube-proxy sends 10.96.0.10:53 there, as it would to a CoreDNS pod.
    """
    rbac = "/apis/rbac.authorization.k8s.io/v1"
    labels = {"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS"}
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "system:coredns"},
        "rules": [
            {"apiGroups": [""], "resources": ["services", "pods", "namespaces"], "verbs": ["list", "watch"]},
            {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]},
        ],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "system:coredns"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:coredns"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "system:coredns"}],
    }
    ports = [("dns", "UDP"), ("dns-tcp", "TCP")]
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": labels},
        "spec": {
            "clusterIP": DNS_SERVICE_IP,
            "ports": [{"name": name, "port": 53, "targetPort": 53, "protocol": proto} for name, proto in ports],
        },
    }
    endpoints = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": "kube-dns-node",
            "namespace": "kube-system",
            "labels": {**labels, "kubernetes.io/service-name": "kube-dns"},
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": [NODE_IP], "conditions": {"ready": True}, "nodeName": NODE_NAME}],
        "ports": [{"name": name, "port": 53, "protocol": proto} for name, proto in ports],
    }
    return [
        (f"{rbac}/clusterroles", role),
        (f"{rbac}/clusterrolebindings", binding),
        ("/api/v1/namespaces/kube-system/services", service),
        ("/apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices", endpoints),
    ]


def _start_dns(cluster: LocalCluster, coredns: Path, deadline: float) -> None:
    """CoreDNS on the node's address, serving the cluster domain from the API; ready once synced."""
    for collection, obj in _dns_objects():
        try:
            _api(cluster, collection, method="POST", body=obj)
        except urllib.error.HTTPError as err:
            if err.code != 409:  # already there (a restarted node on the same control plane)
                raise NodeError(f"create {obj['kind']} {obj['metadata']['name']}: {err.read().decode()}") from err
    ports = cluster.state.ports
    corefile = _render(
        "Corefile",
        paths(cluster)["node"] / "Corefile",
        address=NODE_IP,
        domain=CLUSTER_DOMAIN,
        health=f"127.0.0.1:{ports['dns_health']}",
        ready=f"127.0.0.1:{ports['dns_ready']}",
        kubeconfig=cluster.dir / "coredns.kubeconfig",
    )
    dns = cluster.spawn("coredns", coredns, ["-conf", str(corefile)])
    cluster.wait(dns, deadline, lambda: _http_ok(f"http://127.0.0.1:{ports['dns_ready']}/ready"))


def _node_ready(cluster: LocalCluster) -> bool:
    try:
        node = _api(cluster, f"/api/v1/nodes/{NODE_NAME}")
    except urllib.error.HTTPError:
        return False
    conditions = node.get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


# ----- stop -----------------------------------------------------------------------------------------
def drain(cluster: LocalCluster, timeout: float = 30.0) -> None:
    """Delete every pod through the API so the kubelet tears sandboxes (and CNI) down cleanly."""
    socket = paths(cluster)["socket"]
    if "apiserver" not in cluster.state.ports:
        return  # the start failed before the API server had a port: nothing can run
    with contextlib.suppress(OSError, urllib.error.URLError):
        for pod in _api(cluster, "/api/v1/pods")["items"]:
            meta = pod["metadata"]
            with contextlib.suppress(urllib.error.HTTPError):
                _api(
                    cluster,
                    f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}?gracePeriodSeconds=0",
                    method="DELETE",
                )
    from localcluster import pid_alive

    kubelet = [proc for proc in cluster.state.processes if proc.name == "kubelet"]
    deadline = time.monotonic() + timeout
    # Without a kubelet nobody tears the pods down: cleanup() then removes them by force.
    while time.monotonic() < deadline and kubelet and pid_alive(kubelet[0]):
        tasks = _ctr(socket, "tasks", "list", check=False)
        if tasks is None or "RUNNING" not in tasks:
            return
        time.sleep(1)


def cleanup(cluster: LocalCluster) -> None:
    """After the processes are stopped: remove whatever containers, mounts and links remain."""
    p = paths(cluster)
    if not p["node"].exists():
        return  # the node never got as far as creating anything
    if _live_owner() not in ("", str(cluster.dir)):
        return  # machine-wide pieces belong to another cluster's node: leave them alone
    _kill_cgroup_tree()
    _kill_shims(p["socket"])
    _remove_pod_networks()
    _unmount_under(cluster.dir)
    _remove_cgroup_tree()
    subprocess.run(["ip", "link", "delete", BRIDGE], capture_output=True, check=False)
    kube_proxy = k8sbins.binaries().path("kube-proxy")
    if kube_proxy.exists():
        # Removes the iptables chains kube-proxy installed.
        subprocess.run([str(kube_proxy), "--cleanup"], capture_output=True, check=False, timeout=60)
    _remove_kube_chains()
    _remove_isolation()
    _restore_sysctls(p["node"] / "sysctls.json")
    _release(cluster)
    # Images are imported afresh at every start: the unpacked copies are only disk (~0.5 GB).
    # Pod logs stay, next to the components' logs, for looking into failures.
    for key in ("containerd_root", "containerd_state", "kubelet_root", "ipam"):
        shutil.rmtree(p[key], ignore_errors=True)


def _remove_kube_chains() -> None:
    """Remove the KUBE-* chains (and jumps to them) the kubelet installs and leaves behind."""
    for tool in ("iptables", "ip6tables"):
        if shutil.which(tool) is None:
            continue
        for table in ("filter", "nat", "mangle"):
            listing = subprocess.run([tool, "-t", table, "-S"], capture_output=True, text=True, check=False).stdout
            for rule in listing.splitlines():
                parts = rule.split()
                if parts[:1] == ["-A"] and "-j" in parts and parts[parts.index("-j") + 1].startswith("KUBE-"):
                    subprocess.run([tool, "-t", table, "-D", *parts[1:]], capture_output=True, check=False)
            for rule in listing.splitlines():
                parts = rule.split()
                if parts[:1] == ["-N"] and parts[1].startswith("KUBE-"):
                    subprocess.run([tool, "-t", table, "-F", parts[1]], capture_output=True, check=False)
                    subprocess.run([tool, "-t", table, "-X", parts[1]], capture_output=True, check=False)


def _kill_cgroup_tree() -> None:
    pids_root = CGROUP_FS / CGROUP_ROOT if _cgroup_v2() else CGROUP_FS / "pids" / CGROUP_ROOT
    for _ in range(20):
        pids = (
            {int(pid) for f in pids_root.rglob("cgroup.procs") for pid in f.read_text().split()}
            if pids_root.exists()
            else set()
        )
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)


def _remove_pod_networks() -> None:
    """Delete the network namespaces of pods still plugged into the bridge.

    The kubelet normally tears sandboxes down during ``drain``; one it did not get to would
    otherwise leave its netns (/run/netns/cni-*) and veth behind. Deleting the netns removes
    both ends of the veth.
    """
    ports_dir = Path(f"/sys/class/net/{BRIDGE}/brif")
    ports = {port.name for port in ports_dir.iterdir()} if ports_dir.exists() else set()
    if not ports:
        return
    links = json.loads(run("ip", "-j", "link", "show", what="list links") or "[]")
    netns_ids = {link["link_netnsid"] for link in links if link.get("ifname") in ports and "link_netnsid" in link}
    for netns in json.loads(run("ip", "-j", "netns", "list", what="list netns") or "[]"):
        if netns.get("id") in netns_ids:
            subprocess.run(["ip", "netns", "delete", netns["name"]], capture_output=True, check=False)


def _kill_shims(socket: Path) -> None:
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            if cmdline and cmdline[0].endswith(b"containerd-shim-runc-v2") and str(socket).encode() in cmdline:
                os.kill(int(proc.name), signal.SIGKILL)


def _unmount_under(root: Path) -> None:
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        mountpoint = line.split()[4].encode().decode("unicode_escape")
        if mountpoint.startswith(str(root) + "/"):
            mounts.append(mountpoint)
    for mountpoint in sorted(mounts, key=len, reverse=True):
        subprocess.run(["umount", "-l", mountpoint], capture_output=True, check=False)


def _remove_cgroup_tree() -> None:
    for top in _cgroup_dirs():
        if not top.exists():
            continue
        for directory in sorted((d for d in top.rglob("*") if d.is_dir()), key=lambda d: len(d.parts), reverse=True):
            with contextlib.suppress(OSError):
                directory.rmdir()
        with contextlib.suppress(OSError):
            top.rmdir()


def main() -> int:
    """``python localnode.py prepare on|auto``: build the node's binaries and images ahead of time."""
    import sys

    args = sys.argv[1:]
    if len(args) != 2 or args[0] != "prepare" or args[1] not in ("on", "auto"):
        print("usage: localnode.py prepare on|auto", file=sys.stderr)
        return 2
    reason = unavailable_reason()
    if reason:
        print(f"[cluster-bins] this machine cannot run the node {reason}", file=sys.stderr)
        return 1 if args[1] == "on" else 0
    k8sbins.ensure_built(node=True)
    gobins.ensure("coredns")
    print(f"[cluster-bins] node images: {ensure_images()}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
