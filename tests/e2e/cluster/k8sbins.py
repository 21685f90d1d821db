#!/usr/bin/env python3
"""Build the local e2e cluster's binaries from Go modules, cached by version.

Kubernetes components come from the k8s.io/kubernetes module (``gomod/k8s``), etcd from
its own modules (``gomod/etcd``). Binaries land in ``.cache/k8s-bin/k8s-<version>/`` and
``.cache/k8s-bin/etcd-<version>/`` at the repository root and are only rebuilt when
missing, so a warm run costs nothing. The versions are read from the two ``go.mod``
files, which are the single place to bump them.

Usage: python tests/e2e/cluster/k8sbins.py [--node] [--print-dir]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[2]
GOMOD_DIR = HERE / "gomod"
CACHE_ROOT = Path(os.environ.get("TRODDEN_K8S_BIN_CACHE", REPO_ROOT / ".cache" / "k8s-bin"))

# kubectl too: the tests need one within one minor version of the server.
CONTROL_PLANE = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")
NODE = ("kubelet", "kube-proxy")
K8S_MODULE = "k8s.io/kubernetes"
ETCD_MODULE = "go.etcd.io/etcd/server/v3"


@dataclass(frozen=True)
class Binaries:
    """Where the built binaries of one version pair live."""

    k8s_dir: Path
    etcd_dir: Path
    k8s_version: str
    etcd_version: str

    def path(self, name: str) -> Path:
        return (self.etcd_dir if name == "etcd" else self.k8s_dir) / name


def module_version(go_mod: Path, module: str) -> str:
    """The version a go.mod requires of ``module``."""
    match = re.search(rf"^\s*(?:require\s+)?{re.escape(module)}\s+(v\S+)", go_mod.read_text(), re.M)
    if not match:
        raise RuntimeError(f"{go_mod} does not require {module}")
    return match.group(1)


def binaries() -> Binaries:
    k8s_version = module_version(GOMOD_DIR / "k8s" / "go.mod", K8S_MODULE)
    etcd_version = module_version(GOMOD_DIR / "etcd" / "go.mod", ETCD_MODULE)
    return Binaries(
        k8s_dir=CACHE_ROOT / f"k8s-{k8s_version}",
        etcd_dir=CACHE_ROOT / f"etcd-{etcd_version}",
        k8s_version=k8s_version,
        etcd_version=etcd_version,
    )


def go_binary() -> str:
    found = os.environ.get("GO") or shutil.which("go") or "/usr/local/go/bin/go"
    if not Path(found).exists() and not shutil.which(found):
        raise RuntimeError("no Go toolchain found: install Go >= 1.24 or set GO=/path/to/go")
    return found


def go_env() -> dict[str, str]:
    env = dict(os.environ)
    # Static binaries need no C toolchain; readonly keeps the committed go.sum authoritative.
    env.update(CGO_ENABLED="0", GOFLAGS="-mod=readonly")
    return env


def module_commit(go: str, module_dir: Path, module: str, version: str) -> str:
    """The upstream commit of a module version, as recorded by the module proxy."""
    out = subprocess.run(
        [go, "mod", "download", "-json", f"{module}@{version}"],
        cwd=module_dir,
        env=go_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    with contextlib.suppress(json.JSONDecodeError):
        return json.loads(out.stdout).get("Origin", {}).get("Hash", "") or ""
    return ""


def k8s_ldflags(go: str, version: str) -> str:
    major, minor = version.lstrip("v").split(".")[:2]
    commit = module_commit(go, GOMOD_DIR / "k8s", K8S_MODULE, version)
    date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    values = {
        "gitVersion": version,
        "gitMajor": major,
        "gitMinor": minor,
        "gitTreeState": "clean",
        "buildDate": date,
    }
    if commit:  # the proxy does not always record it; an empty stamp would hide the default
        values["gitCommit"] = commit
    # Both packages carry the version: component-base for the servers, client-go for clients.
    pkgs = ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")
    stamps = [f"-X {pkg}.{key}={value}" for pkg in pkgs for key, value in values.items()]
    return " ".join(["-s", "-w", *stamps])


def etcd_ldflags(go: str, version: str) -> str:
    commit = module_commit(go, GOMOD_DIR / "etcd", ETCD_MODULE, version) or version
    return f"-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA={commit[:12]}"


@contextlib.contextmanager
def build_lock() -> Iterator[None]:
    """Serialise builds so two test sessions never write the same cache folder."""
    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    with open(CACHE_ROOT / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def go_build(go: str, module_dir: Path, out_dir: Path, packages: list[str], ldflags: str) -> None:
    """Build ``packages`` in one go invocation (shared compilation), then move into place."""
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = out_dir / f".tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        cmd = [go, "build", "-trimpath", "-ldflags", ldflags, "-o", str(staging) + "/", *packages]
        subprocess.run(cmd, cwd=module_dir, env=go_env(), check=True)
        # Renaming only finished binaries means an interrupted build never leaves a bad cache.
        for built in staging.iterdir():
            os.replace(built, out_dir / built.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def ensure_built(node: bool = False, log: bool = True) -> Binaries:
    """Build whatever is missing; return where the binaries are."""
    bins = binaries()
    wanted = list(CONTROL_PLANE) + (list(NODE) if node else [])
    with build_lock():
        missing = [name for name in wanted if not bins.path(name).exists()]
        if not missing and bins.path("etcd").exists():
            return bins
        go = go_binary()
        started = time.monotonic()
        if missing:
            say(log, f"building {', '.join(missing)} {bins.k8s_version} into {bins.k8s_dir}")
            packages = [f"{K8S_MODULE}/cmd/{name}" for name in missing]
            go_build(go, GOMOD_DIR / "k8s", bins.k8s_dir, packages, k8s_ldflags(go, bins.k8s_version))
        if not bins.path("etcd").exists():
            say(log, f"building etcd {bins.etcd_version} into {bins.etcd_dir}")
            ldflags = etcd_ldflags(go, bins.etcd_version)
            go_build(go, GOMOD_DIR / "etcd", bins.etcd_dir, ["."], ldflags)
        say(log, f"built in {time.monotonic() - started:.0f}s")
    return bins


def say(enabled: bool, message: str) -> None:
    if enabled:
        print(f"[cluster-bins] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--node", action="store_true", help="also build kubelet and kube-proxy")
    parser.add_argument("--print-dir", action="store_true", help="print the binary folders")
    args = parser.parse_args(argv)
    bins = ensure_built(node=args.node)
    if args.print_dir:
        print(bins.k8s_dir)
        print(bins.etcd_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
