#!/usr/bin/env python3
"""The project's own image for the local node: built with podman from the root ``Dockerfile``.

No registry is reachable here, so the image is built on the debootstrapped base of the node
(``node/base-image.sh``, imported as ``localhost/trodden-e2e-base:local``), saved as an archive
under ``.cache/image/`` keyed by a hash of everything that goes into it (Dockerfile,
.dockerignore, pyproject.toml, README.md and the package sources), and imported into the
node's containerd (``ctr -n k8s.io images import``) at every node start: the node's image
store is removed by ``down``. A warm run (archive present) builds nothing.

Usage: python3 tests/e2e/cluster/projectimage.py build on|auto   (``make image``)
       python3 tests/e2e/cluster/projectimage.py digest
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import k8sbins
import localnode

REPO_ROOT = k8sbins.REPO_ROOT
IMAGE_CACHE = REPO_ROOT / ".cache" / "image"
# Not ":latest" (pods would default to imagePullPolicy Always, and there is no registry), and not
# the ":e2e" tag the stage-1 operator tests give their never-running pods.
PROJECT_IMAGE = "localhost/trodden:local"
# What the Dockerfile reads: its COPY lines plus the build files themselves.
INPUT_FILES = ("Dockerfile", ".dockerignore", "pyproject.toml", "README.md")
INPUT_DIRS = ("trodden", "collector", "synthesis", "replay-runner", "operator", "examples/shop")
# The system CA bundle, given to pip as an optional build secret: behind a TLS-intercepting proxy
# (as on these machines) pip needs the proxy's CA; elsewhere it is the usual bundle, harmless.
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
SKIPPED_PARTS = {"__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}


def input_paths(root: Path = REPO_ROOT) -> list[Path]:
    """Every file whose content the image depends on, sorted (stable digest)."""
    files = [root / name for name in INPUT_FILES if (root / name).is_file()]
    for folder in INPUT_DIRS:
        files += [
            p
            for p in (root / folder).rglob("*")
            if p.is_file() and not SKIPPED_PARTS.intersection(p.parts) and p.suffix not in (".pyc", ".pyo")
        ]
    return sorted(files)


def inputs_digest(root: Path = REPO_ROOT) -> str:
    """Content hash of the image's inputs (names and bytes): the archive is rebuilt when it changes."""
    digest = hashlib.sha256()
    for path in input_paths(root):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def archive_path(digest: str | None = None) -> Path:
    return IMAGE_CACHE / f"trodden-{digest or inputs_digest()}.tar"


def _ensure_base_image() -> None:
    """The debootstrapped base in podman's store (it may have been pruned since the node cache was made)."""
    if subprocess.run(["podman", "image", "exists", localnode.BASE_IMAGE], check=False).returncode == 0:
        return
    base_tar = localnode.NODE_CACHE / "debian-bookworm-python3.tar"
    localnode.run(
        "bash",
        str(localnode.NODE_FILES / "base-image.sh"),
        str(base_tar),
        what="debootstrap the base image",
        timeout=1800,
    )
    localnode.run(
        "podman",
        "import",
        "--change",
        'CMD ["python3"]',
        str(base_tar),
        localnode.BASE_IMAGE,
        what="import the base image into podman",
    )


def build_command() -> list[str]:
    """podman build of the root Dockerfile on the local base (the same file builds on a registry base)."""
    cmd = ["podman", "build", "--network=host", "--build-arg", f"BASE_IMAGE={localnode.BASE_IMAGE}"]
    if CA_BUNDLE.is_file():
        cmd += ["--secret", f"id=ca-bundle,src={CA_BUNDLE}"]
    return [*cmd, "-t", PROJECT_IMAGE, "-f", str(REPO_ROOT / "Dockerfile"), str(REPO_ROOT)]


def ensure_image(progress: bool = True) -> Path:
    """The project image as a docker-archive under ``.cache/image/``, built only when its inputs changed."""
    archive = archive_path()
    if archive.exists():
        return archive
    IMAGE_CACHE.mkdir(parents=True, exist_ok=True)
    # Two sessions (make image, a pytest session) must not build and save the same tag at once.
    with (IMAGE_CACHE / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return archive if archive.exists() else _build(archive, progress)


def _build(archive: Path, progress: bool) -> Path:
    started = time.monotonic()
    if progress:
        print(f"[image] building {PROJECT_IMAGE} with podman (log: {IMAGE_CACHE / 'build.log'})", file=sys.stderr)
    _ensure_base_image()
    log = IMAGE_CACHE / "build.log"
    with log.open("w") as out:
        result = subprocess.run(build_command(), stdout=out, stderr=subprocess.STDOUT, check=False, timeout=3600)
    if result.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise localnode.NodeError(f"podman build of the project image failed ({result.returncode}):\n{tail}")
    staging = archive.with_suffix(".tmp")
    localnode.run(
        "podman",
        "save",
        "--format",
        "docker-archive",
        "-o",
        str(staging),
        PROJECT_IMAGE,
        what="save the project image",
    )
    os.replace(staging, archive)
    for old in IMAGE_CACHE.glob("trodden-*.tar"):
        if old != archive:
            old.unlink()  # one archive per input state: older ones are never used again
    # Dangling layers of earlier builds: podman keeps them until pruned.
    subprocess.run(["podman", "image", "prune", "-f"], capture_output=True, check=False)
    if progress:
        print(f"[image] built in {time.monotonic() - started:.0f}s: {archive}", file=sys.stderr)
    return archive


def import_into(socket: Path, archive: Path | None = None) -> str:
    """Import the archive into a node's containerd (namespace k8s.io); returns the image name."""
    started = time.monotonic()
    localnode.run(
        "ctr",
        "--address",
        str(socket),
        "--namespace",
        "k8s.io",
        "images",
        "import",
        str(archive or ensure_image()),
        what="import the project image into containerd",
        timeout=600,
    )
    print(f"[image] {PROJECT_IMAGE} imported into the node in {time.monotonic() - started:.0f}s", file=sys.stderr)
    return PROJECT_IMAGE


def main(argv: list[str]) -> int:
    if argv == ["digest"]:
        print(inputs_digest())
        return 0
    if len(argv) != 2 or argv[0] != "build" or argv[1] not in ("on", "auto"):
        print("usage: projectimage.py build on|auto | digest", file=sys.stderr)
        return 2
    reason = localnode.unavailable_reason()
    # Another session's running node is no reason not to build: the image is per machine, not per node.
    if reason and "another local node" not in reason:
        print(f"[image] this machine cannot run the node {reason}: no project image built", file=sys.stderr)
        return 1 if argv[1] == "on" else 0
    try:
        print(ensure_image())
    except (localnode.NodeError, subprocess.SubprocessError) as err:
        print(f"[image] {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
