"""The collector's per-event walk compiled with mypyc, used only when built from exactly these sources.

Decoding a beacon batch (`beacon.decode_batch`), sanitising its events field by field
(`sanitize.Sanitizer`) and building their rows (`rows`) is pure Python run for every event. mypyc
compiles those three modules, unchanged, to C extensions (bench/README.md, "Issue 17, third round
(2026-12-06 session 5)": about a fifth less CPU for decoding and sanitising).

`make venv` runs `build`, which compiles them into `.cache/native/<key>/trodden/collector/` (the
build cache the worktrees of one machine share) or, in a checkout without `.cache/`,
`.venv/native/<key>/…`; `key` is a digest of their sources and the interpreter's ABI.
Importing `trodden.collector` puts that folder first on the package's path (`activate`) only when
a build for the current sources exists: a source edited since the last build, a failed build, an
installed package without a checkout's `.venv`, or `TRODDEN_NATIVE=0` all import the pure-Python
modules, which behave the same (tests/collector/test_native.py compares the two).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path

MODULES = ("rows", "sanitize", "beacon")
# One mypyc group: the modules call each other natively; its runtime is `trodden.collector._hot__mypyc`.
GROUP = "trodden.collector._hot"
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
_COMPLETE = ".complete"  # written last: a half-written build is never used


def key() -> str:
    """The digest of the compiled modules' sources and of what the extensions are bound to."""
    digest = hashlib.sha256()
    digest.update(f"{sys.implementation.cache_tag} {sysconfig.get_config_var('EXT_SUFFIX')}".encode())
    for name in MODULES:
        digest.update(name.encode() + b"\0" + (HERE / f"{name}.py").read_bytes() + b"\0")
    return digest.hexdigest()[:20]


def _bases(root: Path) -> list[Path]:
    """Where builds live: the build cache the worktrees of one machine share (`.cache/`, when the
    checkout has one; builds are keyed by their sources, so one worktree's build serves every other
    with the same sources), else the checkout's own `.venv`."""
    cache = root / ".cache"
    return [cache / "native", root / ".venv" / "native"] if cache.is_dir() else [root / ".venv" / "native"]


def built(root: Path = ROOT) -> Path | None:
    """The finished build for the current sources, if there is one."""
    name = key()
    for base in _bases(root):
        if (base / name / _COMPLETE).is_file():
            return base / name
    return None


def activate(package_path: list[str]) -> bool:
    """Put the compiled modules first on `trodden.collector`'s path, when built for these sources."""
    if os.environ.get("TRODDEN_NATIVE", "1") == "0":
        return False
    try:
        where = built()
    except OSError:  # sources not readable as files (a zipped install): pure Python
        return False
    if where is None:
        return False
    package_path.insert(0, str(where / "trodden" / "collector"))
    return True


def build(root: Path = ROOT) -> Path | None:
    """Compile the modules unless a build for their current sources exists; None when the build
    failed (the pure-Python modules are used, and the reason is printed)."""
    done = built(root)
    if done is not None:
        return done
    target = _bases(root)[0] / key()
    try:
        from mypyc.build import mypycify
        from setuptools import setup
    except ImportError as exc:
        print(f"collector native build skipped ({exc}); the pure-Python modules are used", file=sys.stderr)
        return None
    with tempfile.TemporaryDirectory(prefix="trodden-native-") as tmp:
        stage = Path(tmp)
        package = stage / "trodden"
        # The installed layout (collector/ is trodden.collector), for mypy to type-check against.
        package.mkdir()
        for entry in (root / "trodden").iterdir():
            (package / entry.name).symlink_to(entry)
        (package / "collector").mkdir()
        for entry in HERE.iterdir():
            if entry.suffix == ".py" and entry.stem not in MODULES:
                (package / "collector" / entry.name).symlink_to(entry)
        for name in MODULES:
            shutil.copy(HERE / f"{name}.py", package / "collector" / f"{name}.py")
        target.parent.mkdir(parents=True, exist_ok=True)
        output = Path(tempfile.mkdtemp(prefix=f"{target.name}.", dir=target.parent))
        cwd = os.getcwd()
        try:
            os.chdir(stage)
            extensions = mypycify(
                ["--config-file", str(root / "pyproject.toml"), *(f"trodden/collector/{m}.py" for m in MODULES)],
                group_name=GROUP,
                opt_level="3",
            )
            setup(
                name="trodden-collector-native",
                ext_modules=extensions,
                script_args=["-q", "build_ext", "--build-lib", str(output), "--build-temp", str(stage / "tmp")],
            )
        except (Exception, SystemExit) as exc:  # a compiler or type error: keep pure Python
            print(f"collector native build failed ({exc}); the pure-Python modules are used", file=sys.stderr)
            shutil.rmtree(output, ignore_errors=True)
            return None
        finally:
            os.chdir(cwd)
    output.chmod(0o755)
    (output / _COMPLETE).write_text(f"{', '.join(MODULES)} compiled by mypyc\n")
    if target.parent.parent.name == ".venv":  # this checkout's own: earlier sources' builds go
        for old in target.parent.iterdir():  # (finished ones; not builds in progress: KEY.xxx)
            if old.name != target.name and "." not in old.name:
                shutil.rmtree(old, ignore_errors=True)
    try:
        output.rename(target)
    except OSError:  # built concurrently meanwhile (make lint and make test at once)
        shutil.rmtree(output, ignore_errors=True)
    return target


def main() -> None:
    """`make venv`'s step: build if needed, say which modules the collector uses."""
    built = build()
    print(f"collector native modules: {built or 'not built (pure Python)'}")
