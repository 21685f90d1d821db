"""Fixtures for the end-to-end tests: a Kubernetes API to test against.

``kubeconfig`` is the path of a kubeconfig for a cluster-admin: ``$KUBECONFIG`` when set
(kind, or any cluster), otherwise a local cluster that this session starts (building its
binaries first if they are missing) and stops at the end, even when tests fail.

Environment:
- ``KUBECONFIG``: use this cluster instead of starting one.
- ``TRODDEN_E2E_NODE``: a node (stage 2: containerd + kubelet) in the local cluster, so pods
  really run: ``on`` (fail if it cannot start), ``auto`` (when this machine can run one; the
  ``make`` targets use this), ``off`` (the default here: the control plane only).
- ``TRODDEN_E2E_CLUSTER_DIR``: state folder of the session's cluster (default ``.cluster/e2e``).
- ``TRODDEN_E2E_PROJECT_IMAGE``: the project image (Dockerfile) already on the cluster's nodes
  (kind: ``kind load docker-image``); locally it is built with podman and imported.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CLUSTER_DIR = Path(__file__).resolve().parent / "cluster"
sys.path.insert(0, str(CLUSTER_DIR))

import chartrelease  # noqa: E402
import gobins  # noqa: E402
import k8sbins  # noqa: E402
import localcluster  # noqa: E402
import localnode  # noqa: E402
import projectimage  # noqa: E402
from e2ekube import Kube, node_ready  # noqa: E402

E2E_DIR = Path(__file__).resolve().parent
_built_images: dict[str, Path] = {}


def _wants_local_cluster() -> bool:
    return not os.environ.get("KUBECONFIG")


def _node_mode() -> str:
    value = os.environ.get("TRODDEN_E2E_NODE", "off").strip().lower()
    return {"1": "on", "0": "off", "": "off"}.get(value, value)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "flagger: runs the Flagger controller (make e2e-flagger; left out of make test, see README.md)"
    )


@pytest.hookimpl(trylast=True)  # after `-m` deselected: a tool is built only for tests that run
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark everything here ``e2e``; build the cluster binaries now if e2e tests will run.

    Building here, outside any test, keeps a cold build (minutes) out of the per-test timeout.
    """
    selected = [item for item in items if E2E_DIR in Path(str(item.path)).parents]
    for item in selected:
        item.add_marker(pytest.mark.e2e)
    if selected and _wants_local_cluster() and not config.option.collectonly:
        mode = _node_mode()
        node = mode == "on" or (mode == "auto" and not localnode.unavailable_reason())
        try:
            k8sbins.ensure_built(node=node)
            if node:
                gobins.ensure("coredns")
                for tool, fixture in (("argo-rollouts", "argo_rollouts"), ("flagger", "flagger")):
                    if any(fixture in getattr(item, "fixturenames", ()) for item in selected):
                        gobins.ensure(tool)
                localnode.ensure_images()
                if any("project_image" in getattr(item, "fixturenames", ()) for item in selected):
                    # Kept for the session: sources edited meanwhile do not rebuild it mid-test.
                    _built_images["project"] = projectimage.ensure_image()
        except (RuntimeError, subprocess.SubprocessError) as err:
            raise pytest.UsageError(
                f"e2e: cannot build the local cluster ({err}); set KUBECONFIG to test against an existing cluster"
            ) from err


@pytest.fixture(scope="session")
def local_cluster() -> Iterator[localcluster.LocalCluster | None]:
    """The local cluster this session started, or None when ``$KUBECONFIG`` names a cluster."""
    if not _wants_local_cluster():
        yield None
        return
    state_dir = Path(os.environ.get("TRODDEN_E2E_CLUSTER_DIR", k8sbins.REPO_ROOT / ".cluster" / "e2e"))
    with localcluster.running_cluster(state_dir, node=_node_mode()) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def kubeconfig(local_cluster: localcluster.LocalCluster | None) -> Path:
    """Path of a cluster-admin kubeconfig for a real Kubernetes API server."""
    if local_cluster is None:
        return Path(os.environ["KUBECONFIG"].split(os.pathsep)[0])
    return local_cluster.kubeconfig


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
def running_node(kube: Kube, local_cluster: localcluster.LocalCluster | None) -> None:
    """Pods can run here: a Ready node exists (stage 2, kind or any real cluster).

    Skips only on a local cluster started without a node (not asked for, or "auto" found
    this machine cannot run one, with the reason); anywhere else no Ready node is a failure.
    """
    if local_cluster is not None and not local_cluster.has_node:
        reason = local_cluster.node_error or "(TRODDEN_E2E_NODE is off; set it to auto or on)"
        pytest.skip(f"local cluster without a node (stage 1 only) {reason}")
    kube.wait_for("a Ready node", lambda: node_ready(kube), timeout=120)


@pytest.fixture(scope="session")
def project_image(running_node: None, local_cluster: localcluster.LocalCluster | None) -> str:
    """The project's own image (root Dockerfile), present on the node: its name for pod specs.

    Locally it is built with podman (cached by content hash, see ``cluster/projectimage.py``)
    and imported into the node's containerd, whose image store every node start begins empty.
    """
    given = os.environ.get("TRODDEN_E2E_PROJECT_IMAGE")
    if given:
        return given
    if local_cluster is None:
        raise pytest.UsageError(
            "set TRODDEN_E2E_PROJECT_IMAGE to the project image loaded into the cluster's nodes"
            " (kind load docker-image ...)"
        )
    socket = localnode.paths(local_cluster)["socket"]
    archive = _built_images.get("project") or projectimage.ensure_image()
    return projectimage.import_into(socket, archive)


@pytest.fixture
def install_chart(
    kube: Kube, project_image: str, local_cluster: localcluster.LocalCluster | None
) -> Iterator[Callable[..., chartrelease.Release]]:
    """Install `charts/trodden` for real: `install_chart(namespace, values=None, release="trodden")`.

    The operator runs in a pod of the project image with the chart's RBAC, watching `namespace`
    only (values merge over that), with the bundled PostgreSQL; every release is uninstalled (its
    resources deleted first, while its operator still runs) when the test ends.
    """
    postgres_image, volume_root = chartrelease.for_cluster(local_cluster)
    with contextlib.ExitStack() as stack:

        def install(
            namespace: str, values: dict[str, Any] | None = None, release: str = "trodden"
        ) -> chartrelease.Release:
            base = chartrelease.release_values(namespace, project_image, postgres_image)
            return stack.enter_context(
                chartrelease.installed(
                    kube, namespace, chartrelease.merge(base, values or {}), release=release, volume_root=volume_root
                )
            )

        yield install
