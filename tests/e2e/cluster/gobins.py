#!/usr/bin/env python3
"""Third-party Go programs the tests run, built from their Go modules and cached by version.

Like the control plane (``k8sbins.py``): each tool has a wrapper module under ``gomod/<name>``
whose ``go.mod`` is the single place its version is pinned; the binary lands in
``.cache/go-tools/<name>-<version>/`` and is only rebuilt when missing. Tools:

- ``coredns``: the local cluster's DNS (a minimal plugin set, ``gomod/coredns/main.go``);
- ``argo-rollouts``: the Argo Rollouts controller (``cmd/rollouts-controller``);
- ``flagger``: the Flagger controller (``cmd/flagger``);
- ``argocd-lua``: Argo CD's Lua runtime for health scripts (gopher-lua; ``gomod/argocd-lua``),
  keyed by the gopher-lua version and a hash of its own source.

Usage: python tests/e2e/cluster/gobins.py [NAME ...] [--print]   (no name: all of them)
Progress goes to stderr: a cold build of a controller takes minutes on a loaded 2-core machine.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import k8sbins

CACHE_ROOT = Path(os.environ.get("TRODDEN_GO_TOOLS_CACHE", k8sbins.REPO_ROOT / ".cache" / "go-tools"))
PROGRESS_SECONDS = 30.0


@dataclass(frozen=True)
class GoTool:
    """One program: where its wrapper module is, which module pins its version, what to build."""

    name: str
    module: str  # the module whose version keys the cache
    package: str  # the package to build, relative to the wrapper module ("." for its own main)
    binary: str
    ldflags: tuple[str, ...] = ()
    source_keyed: bool = False  # our own source is part of the program: key on its hash too

    @property
    def module_dir(self) -> Path:
        return k8sbins.GOMOD_DIR / self.name

    @property
    def version(self) -> str:
        return k8sbins.module_version(self.module_dir / "go.mod", self.module)

    @property
    def key(self) -> str:
        key = f"{self.name}-{self.version}"
        if self.source_keyed:
            digest = hashlib.sha256()
            for path in sorted(self.module_dir.iterdir()):
                if path.is_file():
                    digest.update(path.name.encode() + path.read_bytes())
            key += f"-{digest.hexdigest()[:10]}"
        return key

    def path(self) -> Path:
        return CACHE_ROOT / self.key / self.binary

    def stamped_ldflags(self) -> str:
        values = {"version": self.version.lstrip("v"), "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
        return " ".join(["-s", "-w", *(flag.format(**values) for flag in self.ldflags)])


TOOLS: dict[str, GoTool] = {
    tool.name: tool
    for tool in (
        GoTool("coredns", "github.com/coredns/coredns", ".", "coredns"),
        GoTool(
            "argo-rollouts",
            "github.com/argoproj/argo-rollouts",
            "github.com/argoproj/argo-rollouts/cmd/rollouts-controller",
            "rollouts-controller",
            ldflags=(
                "-X github.com/argoproj/argo-rollouts/utils/version.version={version}",
                "-X github.com/argoproj/argo-rollouts/utils/version.buildDate={date}",
            ),
        ),
        GoTool("flagger", "github.com/fluxcd/flagger", "github.com/fluxcd/flagger/cmd/flagger", "flagger"),
        GoTool("argocd-lua", "github.com/yuin/gopher-lua", ".", "argocd-lua", source_keyed=True),
    )
}


@contextlib.contextmanager
def _lock(name: str) -> Iterator[None]:
    """One build per tool at a time, across processes (other sessions share the cache)."""
    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    with open(CACHE_ROOT / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _say(message: str) -> None:
    print(f"[go-tools] {message}", file=sys.stderr, flush=True)


def _build(tool: GoTool) -> None:
    """`go build` into a staging folder, with a progress line every 30 s, then move into place."""
    out_dir = tool.path().parent
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = out_dir / f".tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    cmd = [
        k8sbins.go_binary(),
        "build",
        "-v",
        "-trimpath",
        "-ldflags",
        tool.stamped_ldflags(),
        "-o",
        str(staging / tool.binary),
        tool.package,
    ]
    started = time.monotonic()
    compiled = [0]
    done = threading.Event()

    def report() -> None:
        while not done.wait(PROGRESS_SECONDS):
            _say(f"{tool.name}: {compiled[0]} packages compiled, {time.monotonic() - started:.0f}s so far")

    ticker = threading.Thread(target=report, daemon=True)
    ticker.start()
    try:
        # `go build -v` names each package as it compiles it (stderr); errors come the same way.
        proc = subprocess.Popen(cmd, cwd=tool.module_dir, env=k8sbins.go_env(), stderr=subprocess.PIPE, text=True)
        assert proc.stderr is not None
        tail: list[str] = []
        for line in proc.stderr:
            compiled[0] += 1
            tail = [*tail[-40:], line.rstrip()]
        if proc.wait() != 0:
            raise RuntimeError(f"building {tool.name} failed:\n" + "\n".join(tail))
        os.replace(staging / tool.binary, tool.path())
    finally:
        done.set()
        shutil.rmtree(staging, ignore_errors=True)
    _say(f"{tool.name} {tool.version}: built in {time.monotonic() - started:.0f}s ({compiled[0]} packages)")


def module_dir(name: str) -> Path:
    """The tool's upstream module source (downloaded into Go's module cache if needed): manifests
    such as CRDs ship in it."""
    tool = TOOLS[name]
    out = subprocess.run(
        [k8sbins.go_binary(), "mod", "download", "-json", f"{tool.module}@{tool.version}"],
        cwd=tool.module_dir,
        env=k8sbins.go_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    try:
        return Path(json.loads(out.stdout)["Dir"])
    except (ValueError, KeyError) as err:
        raise RuntimeError(f"go mod download {tool.module}@{tool.version}: {out.stderr or out.stdout}") from err


def ensure(*names: str) -> dict[str, Path]:
    """The binaries of the named tools (all when none is named), building what is missing."""
    wanted = [TOOLS[name] for name in (names or tuple(TOOLS))]
    paths = {}
    for tool in wanted:
        with _lock(tool.name):
            if not tool.path().exists():
                _say(f"building {tool.name} {tool.version} from its Go module into {tool.path().parent}")
                _build(tool)
        paths[tool.name] = tool.path()
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"tools, of {', '.join(TOOLS)} (default: all)")
    parser.add_argument("--print", action="store_true", help="print each binary's path")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in TOOLS]
    if unknown:
        parser.error(f"unknown tool {', '.join(unknown)}; known: {', '.join(TOOLS)}")
    try:
        paths = ensure(*args.names)
    except RuntimeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if args.print:
        for name, path in paths.items():
            print(f"{name}\t{path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
