"""Third-party applications installed from the package registries into ignored cache folders.

Each application gets its own virtualenv under `.cache/realapps/<name>-<version>/venv`, keyed by
the exact requirements: a folder is reused only when its stamp names the same requirements, and a
lock file keeps two engineers (or two runs) from installing into the same folder at once. Nothing
is edited after installation; the harness only adds configuration next to it (see apps/*).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


class InstallError(RuntimeError):
    """An application could not be installed (the message names the log to read)."""


def cache_root() -> Path:
    """`$REALAPPS_CACHE`, else the repository's ignored `.cache/realapps` (shared, version-keyed)."""
    return Path(os.environ.get("REALAPPS_CACHE") or REPO / ".cache" / "realapps")


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass(frozen=True)
class PythonApp:
    """A virtualenv holding one application and its pinned requirements (from PyPI)."""

    key: str  # "<name>-<version>": the cache folder
    requirements: tuple[str, ...]

    @property
    def root(self) -> Path:
        return cache_root() / self.key

    @property
    def python(self) -> Path:
        return self.root / "venv" / "bin" / "python"

    def site_packages(self) -> Path:
        found = sorted((self.root / "venv" / "lib").glob("python3*/site-packages"))
        if not found:
            raise InstallError(f"{self.key}: no site-packages under {self.root / 'venv'}")
        return found[0]

    def stamp(self) -> str:
        return hashlib.sha256("\n".join(self.requirements).encode()).hexdigest()[:16]

    def ensure(self, say: Callable[[str], None] | None = None) -> Path:
        """Install once (pip, from PyPI) and return the venv's python. Idempotent and concurrent-safe."""
        stamp_file = self.root / ".installed"
        if stamp_file.exists() and stamp_file.read_text().strip() == self.stamp() and self.python.exists():
            return self.python
        with locked(cache_root() / f"{self.key}.lock"):
            if stamp_file.exists() and stamp_file.read_text().strip() == self.stamp() and self.python.exists():
                return self.python
            if say:
                say(f"installing {', '.join(self.requirements)} into {self.root} (once)")
            self.root.mkdir(parents=True, exist_ok=True)
            log = self.root / "pip.log"
            started = time.monotonic()
            with log.open("w") as out:
                steps = [
                    [sys.executable, "-m", "venv", "--clear", str(self.root / "venv")],
                    [
                        str(self.root / "venv" / "bin" / "pip"),
                        "install",
                        "-q",
                        "--disable-pip-version-check",
                        *self.requirements,
                    ],
                ]
                for argv in steps:
                    done = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False, timeout=900)
                    if done.returncode != 0:
                        raise InstallError(f"{self.key}: `{' '.join(argv[:3])} …` failed (log: {log})")
            stamp_file.write_text(self.stamp() + "\n")
            if say:
                say(f"installed {self.key} in {time.monotonic() - started:.0f} s")
        return self.python
