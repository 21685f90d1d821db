"""The Helm chart installed for real: the operator in a pod, with its RBAC and the bundled PostgreSQL.

`install` runs `helm upgrade --install` of `charts/trodden` with the project image and waits for the
release (the password hook Job, the database StatefulSet, the operator Deployment). The operator
reaches the API through the `kubernetes` Service with the chart's ServiceAccount, the database by
its Service name through cluster DNS; nothing of the test machine is involved. `Release` gives the
tests what they need from outside: the database (a DSN this machine reaches), the operator's
webhook URL and logs, and `uninstall`.

On the local cluster (no storage provisioner) the database's volume is a hostPath PersistentVolume
made for its claim; elsewhere (kind) the cluster's default StorageClass provides it. Images: the
project image (`project_image` fixture) and a PostgreSQL image: locally `localnode.POSTGRES_IMAGE`
(Debian's PostgreSQL behind the official image's contract, `cluster/node/postgres`), on kind
`$TRODDEN_E2E_POSTGRES_IMAGE` or the chart's default (the official image).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from e2ekube import Kube

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "trodden"
POSTGRES_UID = 999  # the official image's postgres user: the volume must be its own


def helm_binary() -> str:
    """The helm `make operator-tools` builds (a prerequisite of `make test`), else one on PATH."""
    built = ROOT / ".cache" / "bin" / "helm"
    found = str(built) if built.exists() else shutil.which("helm")
    if not found:
        raise RuntimeError("no helm: run `make operator-tools` (builds .cache/bin/helm)")
    return found


def split_image(image: str) -> tuple[str, str]:
    """`repo/name:tag` → (repository, tag); a registry port is not a tag."""
    repository, sep, tag = image.rpartition(":")
    if not sep or "/" in tag:
        return image, "latest"
    return repository, tag


def fullname(release: str) -> str:
    """The chart's `trodden.fullname`."""
    return release[:63].rstrip("-") if "trodden" in release else f"{release}-trodden"[:63].rstrip("-")


@dataclass
class Release:
    """An installed release of the chart in one namespace."""

    name: str
    namespace: str
    kube: Kube
    helm: str
    values: dict[str, Any]
    volume_dir: Path | None = None
    _forwards: list[subprocess.Popen[str]] = field(default_factory=list)

    @property
    def fullname(self) -> str:
        return fullname(self.name)

    @property
    def operator_deployment(self) -> str:
        return f"{self.fullname}-operator"

    def operator_url(self) -> str:
        """The operator's HTTP port (Flagger webhook, /metrics) through its Service's ClusterIP."""
        ip = self.kube.get("service", f"{self.fullname}-operator", self.namespace)["spec"]["clusterIP"]
        return f"http://{ip}:80"

    def operator_pods(self) -> list[dict[str, Any]]:
        pods: list[dict[str, Any]] = self.kube.get(
            "pods",
            namespace=self.namespace,
            **{"app.kubernetes.io/instance": self.name, "app.kubernetes.io/component": "operator"},
        )["items"]
        return pods

    def operator_logs(self, tail: int = 60) -> str:
        result = self.kube.run(
            "logs",
            f"deployment/{self.operator_deployment}",
            f"--namespace={self.namespace}",
            f"--tail={tail}",
            "--all-containers",
            check=False,
        )
        return result.stdout or result.stderr

    def db_password(self) -> str:
        pg = self.values.get("postgres", {})
        name, key = (
            (pg["existingSecret"], pg.get("passwordKey", "password"))
            if pg.get("existingSecret")
            else (f"{self.fullname}-db", "password")
        )
        return base64.b64decode(self.kube.get("secret", name, self.namespace)["data"][key]).decode()

    def db_dsn(self, local: bool = True) -> str:
        """A DSN of the bundled database that this machine reaches: the pod's address on the local
        node (pods are on this machine's bridge), else a `kubectl port-forward`."""
        pod = f"{self.fullname}-db-0"
        if local:
            host_port = f"{self.kube.get('pod', pod, self.namespace)['status']['podIP']}:5432"
        else:
            host_port = f"127.0.0.1:{self._port_forward(pod, 5432)}"
        pg = {"user": "trodden", "database": "trodden", **self.values.get("postgres", {})}
        return f"postgresql://{pg['user']}:{quote(self.db_password(), safe='')}@{host_port}/{pg['database']}"

    def _port_forward(self, pod: str, port: int) -> int:
        proc = subprocess.Popen(
            [
                self.kube.kubectl_path,
                f"--kubeconfig={self.kube.kubeconfig}",
                "port-forward",
                f"--namespace={self.namespace}",
                f"pod/{pod}",
                f":{port}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._forwards.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(r"127\.0\.0\.1:(\d+)", line)
        if not found:
            raise AssertionError(f"kubectl port-forward to {pod}: {line}")
        return int(found.group(1))

    def uninstall(self) -> None:
        for proc in self._forwards:
            proc.terminate()
        self.kube.run(
            "delete",
            "replayruns,testsuites,sessionselectors,rumsources",
            "--all",
            f"--namespace={self.namespace}",
            "--timeout=60s",
            "--ignore-not-found",
            check=False,
            timeout=90,
        )
        subprocess.run(
            [
                self.helm,
                "uninstall",
                self.name,
                "--namespace",
                self.namespace,
                f"--kubeconfig={self.kube.kubeconfig}",
                "--wait",
                "--timeout",
                "120s",
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=180,
        )


def _local_volume(kube: Kube, namespace: str, release: str, root: Path, size: str) -> Path:
    """A hostPath PersistentVolume bound in advance to the database's claim (no provisioner here)."""
    name = f"e2e-db-{namespace}"[:63].rstrip("-")
    directory = root / name
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.chown(directory, POSTGRES_UID, POSTGRES_UID)
    directory.chmod(0o700)
    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": name, "labels": {"trodden.dev/e2e": "chart-db"}},
            "spec": {
                "capacity": {"storage": size},
                "accessModes": ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Retain",
                "storageClassName": "",
                "hostPath": {"path": str(directory), "type": "Directory"},
                "claimRef": {"namespace": namespace, "name": f"data-{fullname(release)}-db-0"},
            },
        }
    )
    return directory


def for_cluster(local_cluster: Any) -> tuple[str | None, Path | None]:
    """(PostgreSQL image, folder for hostPath volumes) on this cluster: the local node's image and a
    folder of the cluster, or on any other cluster `$TRODDEN_E2E_POSTGRES_IMAGE` (else the chart's
    default) and its default StorageClass."""
    if local_cluster is None:
        return os.environ.get("TRODDEN_E2E_POSTGRES_IMAGE"), None
    import localnode

    return localnode.POSTGRES_IMAGE, local_cluster.dir / "volumes"


def release_values(namespace: str, project_image: str, postgres_image: str | None) -> dict[str, Any]:
    """What the tests set: the project image, this namespace only, a small database."""
    repository, tag = split_image(project_image)
    values: dict[str, Any] = {
        "image": {"repository": repository, "tag": tag, "pullPolicy": "IfNotPresent"},
        "operator": {
            "watchNamespaces": [namespace],
            "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
        },
        "postgres": {
            "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "1Gi"}},
            "storage": "1Gi",
        },
    }
    if postgres_image:
        values["postgres"]["image"] = postgres_image
    return values


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


@contextlib.contextmanager
def installed(
    kube: Kube,
    namespace: str,
    values: dict[str, Any],
    *,
    release: str = "trodden",
    volume_root: Path | None = None,
    timeout: str = "8m",
) -> Iterator[Release]:
    """The chart installed in `namespace` (`helm upgrade --install --wait`), uninstalled afterwards.

    `volume_root`: on the local cluster, where the database's hostPath volume is made.
    """
    helm = helm_binary()
    volume = None
    if volume_root is not None and values.get("postgres", {}).get("enabled", True):
        volume = _local_volume(kube, namespace, release, volume_root, values["postgres"].get("storage", "10Gi"))
    rel = Release(release, namespace, kube, helm, values, volume)
    with tempfile.NamedTemporaryFile("w", suffix=".json") as file:
        json.dump(values, file)
        file.flush()
        result = subprocess.run(
            [
                helm,
                "upgrade",
                "--install",
                release,
                str(CHART),
                "--namespace",
                namespace,
                f"--kubeconfig={kube.kubeconfig}",
                "-f",
                file.name,
                "--wait",
                "--timeout",
                timeout,
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=900,
        )
    try:
        if result.returncode != 0:
            pods = kube.run("get", "pods,jobs,pvc", f"--namespace={namespace}", "-o", "wide", check=False).stdout
            raise AssertionError(f"helm install failed: {result.stderr.strip()}\n{pods}\n{rel.operator_logs()}")
        yield rel
    finally:
        rel.uninstall()
        if volume is not None:
            kube.run("delete", "pv", volume.name, "--wait=false", "--ignore-not-found", check=False)
            shutil.rmtree(volume, ignore_errors=True)
