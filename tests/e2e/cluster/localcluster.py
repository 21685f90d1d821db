#!/usr/bin/env python3
"""A real local Kubernetes control plane for the e2e tests, on loopback only.

Starts etcd, kube-apiserver (RBAC on), kube-controller-manager and kube-scheduler from
binaries built by ``k8sbins.py``, waits until they are ready and writes a kubeconfig. All
state lives in one folder (``.cluster/`` by default): ``pki/``, ``etcd/``, ``logs/``,
``kubeconfig`` and ``state.json`` (ports and process ids), so ``down`` and ``status`` work
from any later process.

CLI: python tests/e2e/cluster/localcluster.py up|down|status [--dir DIR] [--node]
Python: ``with running_cluster(state_dir) as cluster: cluster.kubeconfig``
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import fcntl
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import k8sbins
import k8spki

REPO_ROOT = k8sbins.REPO_ROOT
DEFAULT_DIR = Path(os.environ.get("TRODDEN_CLUSTER_DIR", REPO_ROOT / ".cluster"))
LOOPBACK = "127.0.0.1"
SERVICE_CIDR = "10.96.0.0/16"
# The first address of the service range belongs to the "kubernetes" Service.
KUBERNETES_SERVICE_IP = "10.96.0.1"
CLUSTER_NAME = "trodden-local"
NODE_MODES = ("off", "on", "auto")
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
STOP_GRACE_SECONDS = 10.0
PR_SET_PDEATHSIG = 1


class ClusterError(RuntimeError):
    """The cluster could not be started; the message carries the relevant log tail."""


@dataclass
class Process:
    name: str
    pid: int
    exe: str
    log: str
    # Kernel start time (clock ticks since boot): with the pid it identifies the process for
    # good, since pids are reused. Stable across exec, unlike /proc/<pid>/cmdline.
    start_ticks: int = 0


@dataclass
class State:
    """What ``state.json`` records: enough for another process to reach or stop the cluster."""

    ports: dict[str, int] = field(default_factory=dict)
    processes: list[Process] = field(default_factory=list)
    k8s_version: str = ""
    etcd_version: str = ""
    node: bool = False
    # The address the API server listens on and advertises: loopback without a node; with one,
    # the node's address, so pods reach it through the "kubernetes" Service.
    api_host: str = LOOPBACK

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> State:
        raw = json.loads(text)
        raw["processes"] = [Process(**p) for p in raw.get("processes", [])]
        return cls(**raw)


def free_port() -> int:
    """A port the kernel considers free now; several clusters (or CI jobs) never collide."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (state is [0], start time [19])."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def pid_alive(proc: Process) -> bool:
    """True when the recorded process still runs (same pid and start time, not a zombie)."""
    fields = _proc_stat(proc.pid)
    if fields is None or fields[0] in ("Z", "X"):
        return False
    return int(fields[19]) == proc.start_ticks


def _die_with_parent() -> None:
    # Runs in the child before exec: the kernel kills it if the test session dies, so a
    # crashed pytest never leaves a control plane behind.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def write_kubeconfig(path: Path, server: str, ca: Path, client: k8spki.Issued, user: str) -> None:
    """A self-contained kubeconfig (certificates embedded as base64) for one identity."""
    import base64

    def b64(p: Path) -> str:
        return base64.b64encode(p.read_bytes()).decode()

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CLUSTER_NAME, "cluster": {"server": server, "certificate-authority-data": b64(ca)}}],
        "users": [
            {"name": user, "user": {"client-certificate-data": b64(client.cert), "client-key-data": b64(client.key)}}
        ],
        "contexts": [{"name": CLUSTER_NAME, "context": {"cluster": CLUSTER_NAME, "user": user}}],
        "current-context": CLUSTER_NAME,
    }
    # JSON is valid YAML, so no YAML library is needed to write it.
    path.write_text(json.dumps(config, indent=2))
    path.chmod(0o600)


class LocalCluster:
    """One local cluster rooted at ``state_dir``."""

    def __init__(self, state_dir: Path = DEFAULT_DIR, *, node: str = "off", die_with_parent: bool = False) -> None:
        if node not in NODE_MODES:
            raise ValueError(f"node must be one of {NODE_MODES}, not {node!r}")
        self.dir = state_dir.resolve()
        self.node_mode = node
        # Why an "auto" node is absent (tools missing, or the start failed): shown by skips.
        self.node_error = ""
        self.die_with_parent = die_with_parent
        self.pki = self.dir / "pki"
        self.logs = self.dir / "logs"
        self.kubeconfig = self.dir / "kubeconfig"
        self.state_file = self.dir / "state.json"
        self.state = State()

    # ----- state -------------------------------------------------------------------------------
    def load_state(self) -> State | None:
        if not self.state_file.exists():
            return None
        return State.from_json(self.state_file.read_text())

    def save_state(self) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(self.state.to_json())
        os.replace(tmp, self.state_file)

    @property
    def server(self) -> str:
        return f"https://{self.state.api_host}:{self.state.ports['apiserver']}"

    # ----- lifecycle ---------------------------------------------------------------------------
    def up(self, timeout: float = 180.0) -> Path:
        """Start everything and wait until ready; on any failure stop what was started.

        With node "auto" the node is started when this machine can run one; if it cannot, or
        its start fails, the cluster runs without it and ``node_error`` says why.
        """
        node = self._node_wanted()
        try:
            self._up(node, timeout)
        except (RuntimeError, subprocess.SubprocessError) as err:
            if not (node and self.node_mode == "auto"):
                raise
            self.node_error = f"the node failed to start: {err}"
            print(f"[localcluster] {self.node_error}; continuing without a node", file=sys.stderr)
            self._up(False, timeout)
        return self.kubeconfig

    @property
    def has_node(self) -> bool:
        return self.state.node

    def _node_wanted(self) -> bool:
        if self.node_mode != "auto":
            return self.node_mode == "on"
        import localnode

        self.node_error = localnode.unavailable_reason()
        return not self.node_error

    def _up(self, node: bool, timeout: float) -> None:
        self.down()  # a previous run killed hard may have left processes or state behind
        bins = k8sbins.ensure_built(node=node)
        self._reset_dir()
        self.state = State(k8s_version=bins.k8s_version, etcd_version=bins.etcd_version, node=node)
        self.save_state()  # from here on, `down` knows a node's machine-wide pieces may exist
        try:
            if node:
                import localnode

                # The pod bridge first: the API server listens on the node's address.
                localnode.prepare_network(self)
                self.state.api_host = localnode.NODE_IP
            self._generate_pki()
            self._start_control_plane(bins, deadline=time.monotonic() + timeout)
            if node:
                import localnode

                localnode.start(self, bins, deadline=time.monotonic() + timeout)
        except BaseException:
            self.down()
            raise

    def down(self) -> None:
        """Stop every recorded process, newest first: SIGTERM, then SIGKILL after a grace period."""
        state = self.load_state()
        if state is None:
            return
        self.state = state
        if state.node:
            import localnode

            # While the API and kubelet still run, let them remove pods and their networks.
            localnode.drain(self)
        for proc in reversed(state.processes):
            stop_process(proc)
        if state.node:
            localnode.cleanup(self)
        self.state_file.unlink(missing_ok=True)

    def status(self) -> dict[str, Any]:
        state = self.load_state()
        if state is None:
            return {"running": False, "dir": str(self.dir)}
        self.state = state
        procs = {p.name: {"pid": p.pid, "alive": pid_alive(p), "log": p.log} for p in state.processes}
        started = "apiserver" in state.ports
        ready = started and all(p["alive"] for p in procs.values()) and self._apiserver_ready()
        return {
            "running": ready,
            "dir": str(self.dir),
            "server": self.server if started else None,
            "kubeconfig": str(self.kubeconfig),
            "version": state.k8s_version,
            "etcd": state.etcd_version,
            "node": state.node,
            "processes": procs,
        }

    def _reset_dir(self) -> None:
        for sub in ("pki", "etcd", "logs"):
            shutil.rmtree(self.dir / sub, ignore_errors=True)
        for sub in ("pki", "logs"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        (self.dir / "etcd").mkdir(mode=0o700)

    # ----- certificates ------------------------------------------------------------------------
    def _generate_pki(self) -> None:
        import localnode

        ca = k8spki.CertificateAuthority.create(self.pki)
        apiserver_names = [
            LOOPBACK,
            localnode.NODE_IP,
            "localhost",
            KUBERNETES_SERVICE_IP,
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        ]
        ca.issue("apiserver", "kube-apiserver", server_names=apiserver_names, client=False)
        ca.issue("etcd-server", "etcd", server_names=[LOOPBACK, "localhost"], client=False)
        ca.issue("apiserver-etcd-client", "kube-apiserver-etcd-client")
        ca.issue("apiserver-kubelet-client", "kube-apiserver-kubelet-client", organization="system:masters")
        k8spki.service_account_keys(self.pki)
        # The aggregation layer authenticates its proxied requests with a CA of its own.
        front_proxy = k8spki.CertificateAuthority.create(self.pki / "front-proxy", name="trodden-front-proxy-ca")
        front_proxy.issue("front-proxy-client", "front-proxy-client")
        self.state.ports = {name: free_port() for name in ("etcd", "etcd-peer", "apiserver", "cm", "scheduler")}
        server = self.server
        identities = {
            "admin": ("kubernetes-admin", "system:masters"),
            "controller-manager": ("system:kube-controller-manager", None),
            "scheduler": ("system:kube-scheduler", None),
        }
        for stem, (user, group) in identities.items():
            client = ca.issue(stem, user, organization=group)
            target = self.kubeconfig if stem == "admin" else self.dir / f"{stem}.kubeconfig"
            write_kubeconfig(target, server, ca.cert_path, client, user)

    # ----- processes ---------------------------------------------------------------------------
    def spawn(self, name: str, exe: Path, args: list[str], env: dict[str, str] | None = None) -> Process:
        """Start one component detached (own session) with its output in logs/<name>.log."""
        log = self.logs / f"{name}.log"
        with open(log, "ab") as out:
            popen = subprocess.Popen(
                [str(exe), *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.dir,
                start_new_session=True,
                env=env,
                preexec_fn=_die_with_parent if self.die_with_parent else None,  # noqa: PLW1509
            )
        fields = _proc_stat(popen.pid)
        start_ticks = int(fields[19]) if fields else 0
        proc = Process(name=name, pid=popen.pid, exe=str(exe), log=str(log), start_ticks=start_ticks)
        self.state.processes.append(proc)
        self.save_state()  # record at once, so a failure later still knows what to stop
        return proc

    def _start_control_plane(self, bins: k8sbins.Binaries, deadline: float) -> None:
        ports, pki = self.state.ports, self.pki
        etcd_url = f"https://{LOOPBACK}:{ports['etcd']}"
        peer_url = f"http://{LOOPBACK}:{ports['etcd-peer']}"
        etcd = self.spawn(
            "etcd",
            bins.path("etcd"),
            [
                "--name=local",
                f"--data-dir={self.dir / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=local={peer_url}",
                f"--cert-file={pki / 'etcd-server.crt'}",
                f"--key-file={pki / 'etcd-server.key'}",
                f"--trusted-ca-file={pki / 'ca.crt'}",
                "--client-cert-auth=true",
                # A throw-away test cluster: durability buys nothing, fsync costs seconds per test.
                "--unsafe-no-fsync=true",
                "--log-level=warn",
            ],
        )
        self.wait(etcd, deadline, lambda: self._https_ok(f"{etcd_url}/health", client="apiserver-etcd-client"))
        apiserver = self.spawn("kube-apiserver", bins.path("kube-apiserver"), self._apiserver_args(etcd_url))
        self.wait(apiserver, deadline, self._apiserver_ready)
        common = [
            f"--bind-address={LOOPBACK}",
            "--leader-elect=false",
            "--v=1",
        ]
        cm = self.spawn(
            "kube-controller-manager",
            bins.path("kube-controller-manager"),
            [
                *common,
                f"--secure-port={ports['cm']}",
                *self._component_kubeconfig_args("controller-manager"),
                f"--service-account-private-key-file={pki / 'sa.key'}",
                f"--root-ca-file={pki / 'ca.crt'}",
                f"--cluster-signing-cert-file={pki / 'ca.crt'}",
                f"--cluster-signing-key-file={pki / 'ca.key'}",
                "--use-service-account-credentials=true",
                "--controllers=*",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
            ],
        )
        scheduler = self.spawn(
            "kube-scheduler",
            bins.path("kube-scheduler"),
            [
                *common,
                f"--secure-port={ports['scheduler']}",
                *self._component_kubeconfig_args("scheduler"),
            ],
        )
        self.wait(cm, deadline, lambda: self._https_ok(f"https://{LOOPBACK}:{ports['cm']}/healthz", verify=False))
        self.wait(
            scheduler,
            deadline,
            lambda: self._https_ok(f"https://{LOOPBACK}:{ports['scheduler']}/healthz", verify=False),
        )
        # Pods cannot be created before the service-account controller made "default".
        default_sa = f"{self.server}/api/v1/namespaces/default/serviceaccounts/default"
        self.wait(cm, deadline, lambda: self._https_ok(default_sa))

    def _apiserver_args(self, etcd_url: str) -> list[str]:
        pki = self.pki
        host = self.state.api_host
        # Without a node the API server listens on loopback, which the "kubernetes" Service cannot
        # point at (the API refuses it; no pod could use it anyway). With a node it listens on the
        # node's address (the pod bridge's gateway, local to this machine) and its lease reconciler
        # makes that the Service's endpoint, so pods reach it at 10.96.0.1:443 like on any cluster.
        reconciler = "none" if host == LOOPBACK else "lease"
        return [
            f"--bind-address={host}",
            f"--advertise-address={host}",
            f"--secure-port={self.state.ports['apiserver']}",
            f"--etcd-servers={etcd_url}",
            f"--etcd-cafile={pki / 'ca.crt'}",
            f"--etcd-certfile={pki / 'apiserver-etcd-client.crt'}",
            f"--etcd-keyfile={pki / 'apiserver-etcd-client.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--kubelet-client-certificate={pki / 'apiserver-kubelet-client.crt'}",
            f"--kubelet-client-key={pki / 'apiserver-kubelet-client.key'}",
            f"--kubelet-certificate-authority={pki / 'ca.crt'}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            f"--requestheader-client-ca-file={pki / 'front-proxy' / 'ca.crt'}",
            "--requestheader-allowed-names=front-proxy-client",
            "--requestheader-username-headers=X-Remote-User",
            "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            f"--proxy-client-cert-file={pki / 'front-proxy' / 'front-proxy-client.crt'}",
            f"--proxy-client-key-file={pki / 'front-proxy' / 'front-proxy-client.key'}",
            f"--endpoint-reconciler-type={reconciler}",
            # The node registers 127.0.0.1 as its address; its name does not resolve.
            "--kubelet-preferred-address-types=InternalIP",
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction",
            "--allow-privileged=true",
            "--profiling=false",
            "--v=1",
        ]

    def _component_kubeconfig_args(self, stem: str) -> list[str]:
        path = self.dir / f"{stem}.kubeconfig"
        return [f"--kubeconfig={path}", f"--authentication-kubeconfig={path}", f"--authorization-kubeconfig={path}"]

    # ----- readiness ---------------------------------------------------------------------------
    def wait(self, proc: Process, deadline: float, check: Callable[[], bool]) -> None:
        """Poll ``check`` until it passes; fail fast if ``proc`` exits, with its log tail."""
        last_error = ""
        while time.monotonic() < deadline:
            if not pid_alive(proc):
                raise ClusterError(f"{proc.name} exited during start-up; {proc.log}:\n{log_tail(Path(proc.log))}")
            try:
                if check():
                    return
            except (OSError, urllib.error.URLError, ssl.SSLError) as err:
                last_error = str(err)
            time.sleep(0.5)
        raise ClusterError(
            f"{proc.name} not ready in time (last error: {last_error or 'not ready'}); "
            f"{proc.log}:\n{log_tail(Path(proc.log))}"
        )

    def _apiserver_ready(self) -> bool:
        return self._https_ok(f"{self.server}/readyz")

    def ssl_context(self, client: str = "admin") -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.pki / "ca.crt"))
        ctx.load_cert_chain(str(self.pki / f"{client}.crt"), str(self.pki / f"{client}.key"))
        return ctx

    def _https_ok(self, url: str, client: str = "admin", verify: bool = True) -> bool:
        # Controller-manager and scheduler serve health on self-signed loopback certs.
        ctx = self.ssl_context(client) if verify else ssl._create_unverified_context()
        try:
            with urllib.request.urlopen(url, context=ctx, timeout=5) as resp:
                return bool(resp.status == 200)
        except urllib.error.HTTPError:
            return False


def stop_process(proc: Process, grace: float = STOP_GRACE_SECONDS) -> None:
    if not pid_alive(proc):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and pid_alive(proc):
        _reap(proc.pid)
        time.sleep(0.1)
    if pid_alive(proc):
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        while pid_alive(proc):
            time.sleep(0.05)
    _reap(proc.pid)


def _reap(pid: int) -> None:
    """Collect our own children so they do not linger as zombies (no-op for others)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


@contextlib.contextmanager
def _exclusive_dir(state_dir: Path) -> Iterator[Path]:
    """``state_dir``, or a private sibling while another session holds it.

    ``up`` first stops whatever runs in its folder, so two test sessions sharing one would
    kill each other's cluster; the lock lasts as long as the session (the holder's death
    releases it). A private sibling is removed afterwards.
    """
    for candidate in (state_dir, state_dir.with_name(f"{state_dir.name}-{os.getpid()}")):
        candidate.mkdir(parents=True, exist_ok=True)
        with open(candidate / ".session.lock", "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            try:
                yield candidate
            finally:
                if candidate != state_dir:
                    shutil.rmtree(candidate, ignore_errors=True)
            return
    raise ClusterError(f"no free state folder next to {state_dir}")


@contextlib.contextmanager
def running_cluster(
    state_dir: Path = DEFAULT_DIR, *, node: str = "off", timeout: float = 180.0
) -> Iterator[LocalCluster]:
    """Start a cluster for the duration of the block, stopping it even if the block fails.

    The cluster runs in ``state_dir``, or in a private sibling folder when another session
    is using that one.
    """
    with _exclusive_dir(state_dir) as directory:
        cluster = LocalCluster(directory, node=node, die_with_parent=True)
        cluster.up(timeout=timeout)
        try:
            yield cluster
        finally:
            cluster.down()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="local Kubernetes cluster for the e2e tests")
    parser.add_argument("command", choices=("up", "down", "status"))
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="state folder (default .cluster/)")
    parser.add_argument(
        "--node", choices=NODE_MODES, default="off", help="stage 2, a node (containerd + kubelet): off, on, or auto"
    )
    parser.add_argument("--timeout", type=float, default=180.0, help="readiness timeout in seconds")
    args = parser.parse_args(argv)
    cluster = LocalCluster(args.dir, node=args.node)
    if args.command == "up":
        try:
            kubeconfig = cluster.up(timeout=args.timeout)
        except (RuntimeError, subprocess.SubprocessError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        with_node = "with a node" if cluster.has_node else f"without a node {cluster.node_error}".rstrip()
        print(f"cluster ready ({with_node}): export KUBECONFIG={kubeconfig}")
    elif args.command == "down":
        cluster.down()
        print("cluster stopped")
    else:
        status = cluster.status()
        print(json.dumps(status, indent=2))
        return 0 if status["running"] else 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
