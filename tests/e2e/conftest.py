"""Fixtures for the end-to-end tests: a Kubernetes API to test against.

``kubeconfig`` is the path of a kubeconfig for a cluster-admin: ``$KUBECONFIG`` when set
(kind, or any cluster), otherwise a local cluster that this session starts (building its
binaries first if they are missing) and stops at the end, even when tests fail.

Environment:
- ``KUBECONFIG``: use this cluster instead of starting one.
- ``TRODDEN_E2E_NODE``: ``1`` also runs a node (stage 2: containerd + kubelet) in the local
  cluster so pods really run; ``0`` (the default) starts the control plane only.
- ``TRODDEN_E2E_CLUSTER_DIR``: state folder of the session's cluster (default ``.cluster/e2e``).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

CLUSTER_DIR = Path(__file__).resolve().parent / "cluster"
sys.path.insert(0, str(CLUSTER_DIR))

import k8sbins  # noqa: E402
import localcluster  # noqa: E402
from e2ekube import Kube, node_ready  # noqa: E402

E2E_DIR = Path(__file__).resolve().parent


def _wants_local_cluster() -> bool:
    return not os.environ.get("KUBECONFIG")


def _wants_node() -> bool:
    return os.environ.get("TRODDEN_E2E_NODE", "0") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark everything here ``e2e``; build the cluster binaries now if e2e tests will run.

    Building here, outside any test, keeps a cold build (minutes) out of the per-test timeout.
    """
    selected = [item for item in items if E2E_DIR in Path(str(item.path)).parents]
    for item in selected:
        item.add_marker(pytest.mark.e2e)
    if selected and _wants_local_cluster():
        k8sbins.ensure_built(node=_wants_node())


@pytest.fixture(scope="session")
def kubeconfig() -> Iterator[Path]:
    """Path of a cluster-admin kubeconfig for a real Kubernetes API server."""
    given = os.environ.get("KUBECONFIG")
    if given:
        yield Path(given.split(os.pathsep)[0])
        return
    state_dir = Path(os.environ.get("TRODDEN_E2E_CLUSTER_DIR", k8sbins.REPO_ROOT / ".cluster" / "e2e"))
    with localcluster.running_cluster(state_dir, node=_wants_node()) as cluster:
        yield cluster.kubeconfig


@pytest.fixture(scope="session")
def kube(kubeconfig: Path) -> Kube:
    """A :class:`Kube` helper (kubectl) on the session's cluster."""
    # The local cluster's own kubectl matches its version; elsewhere the user's kubectl does.
    on_path = shutil.which("kubectl") if not _wants_local_cluster() else None
    kubectl = on_path or str(k8sbins.ensure_built().path("kubectl"))
    return Kube(kubeconfig, kubectl)


@pytest.fixture
def namespace(kube: Kube, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace per test, deleted afterwards (without waiting for finalizers)."""
    base = "".join(ch if ch.isalnum() else "-" for ch in request.node.name.lower())[:40].strip("-")
    name = f"e2e-{base}-{os.getpid() % 10000}"
    kube.run("create", "namespace", name)
    try:
        yield name
    finally:
        kube.run("delete", "namespace", name, "--wait=false", "--ignore-not-found", check=False)


@pytest.fixture(scope="session")
def running_node(kube: Kube) -> None:
    """Pods can run here: a Ready node exists (stage 2, kind or any real cluster).

    Skips only on a local control-plane-only cluster (stage 1), where no node was asked for;
    anywhere else a missing Ready node is a failure.
    """
    if _wants_local_cluster() and not _wants_node():
        pytest.skip("local cluster without a node (stage 1): set TRODDEN_E2E_NODE=1 to run pods")
    kube.wait_for("a Ready node", lambda: node_ready(kube), timeout=120)
