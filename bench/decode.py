"""The collector's decode-and-sanitise cost per event, this checkout against a git revision, in one run.

    .venv/bin/python bench/decode.py [--against REV] [--batches 2000] [--runs 3] [--instructions]

`bench/ingest.py` measures the whole collector over HTTP against raw COPY; on a shared machine its
rates move with the load. This bench isolates the part issue 17 changed (validating and sanitising
beacon batches, `decode_batches`) and compares it with the code of another revision (default
70e5ceb, before issue 17) in the same conditions: the revision is exported with `git archive` into
a temporary folder, and each run is a fresh process (this checkout's, then the revision's, in
alternation) that decodes the bench's own batches (bench/ingest.py's `make_templates`: clicks,
inputs, fetches with headers and JSON bodies, page views, custom events; each batch a new session)
after a warm-up of 500 batches, and reports CPU time per event (`time.process_time`). Prints each
run, the minimum per side (the least disturbed by other work) and the ratio this/revision.

`--instructions` counts instructions instead of CPU time (`valgrind --tool=callgrind`, which does
not depend on the machine's load): each side decodes 600 and then 1 600 batches after the warm-up,
and the difference (1 000 batches, 25 000 events) divided by the events is the instructions per
event, imports and warm-up cancelled out. Slow (a few minutes), but one run is enough.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The package layout of pyproject.toml's package-dir, rebuilt for the exported revision.
_PACKAGES = {"collector": "collector", "synthesis": "synthesis", "replay": "replay-runner", "operator": "operator"}

CHILD = r"""
import importlib.util, orjson, os, sys, time
spec = importlib.util.spec_from_file_location("bench_ingest", sys.argv[1])
bench = importlib.util.module_from_spec(spec); spec.loader.exec_module(bench)
from trodden.collector.beacon import decode_batches
from trodden.collector.sanitize import Sanitizer
import trodden.collector.sanitize as where
n = int(sys.argv[2])
bodies = bench.bodies_like(bench.make_templates(20, 25), n + 500, "d")
sanitizer = Sanitizer(b"k" * 32)
for body in bodies[:500]:
    decode_batches([orjson.loads(body)], "bench", sanitizer)
docs = [orjson.loads(body) for body in bodies[500:]]
started = time.process_time()
events = sum(decode_batches([doc], "bench", sanitizer).accepted for doc in docs)
print(f"{(time.process_time() - started) / events * 1e6:.3f} {events} {where.__file__}")
"""


def export(rev: str, into: Path) -> Path:
    """The revision's sources, importable as `trodden` (PYTHONPATH=<returned folder>)."""
    src = into / "src"
    src.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    site = into / "site" / "trodden"
    site.mkdir(parents=True)
    for entry in (src / "trodden").iterdir():
        (site / entry.name).symlink_to(entry)
    for name, folder in _PACKAGES.items():
        if (src / folder).is_dir():
            (site / name).symlink_to(src / folder)
    return into / "site"


def run(pythonpath: str | None, batches: int, *, callgrind: bool = False) -> tuple[float, str, int, int]:
    """(CPU µs per event, the sanitiser's file, events, instructions executed (with `callgrind`, else 0))."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    command = [sys.executable, "-c", CHILD, str(ROOT / "bench" / "ingest.py"), str(batches)]
    if callgrind:
        command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *command]
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=env, cwd=tempfile.gettempdir())
    out = done.stdout.split()
    instructions = 0
    if callgrind:
        found = re.search(r"Collected\s*:\s*(\d+)", done.stderr)
        if found is None:
            raise SystemExit(f"callgrind printed no instruction count: {done.stderr[-500:]}")
        instructions = int(found.group(1))
    return float(out[0]), out[2], int(out[1]), instructions


def instructions_per_event(pythonpath: str | None) -> tuple[float, str]:
    """Instructions per event of decoding 1 000 batches (1 600 minus 600, so imports and warm-up cancel)."""
    _, where, few_events, few = run(pythonpath, 600, callgrind=True)
    _, _, many_events, many = run(pythonpath, 1600, callgrind=True)
    return (many - few) / (many_events - few_events), where


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--against", default="70e5ceb", help="the git revision to compare with")
    parser.add_argument("--batches", type=int, default=2000, help="measured batches of 25 events per run")
    parser.add_argument("--runs", type=int, default=3, help="runs per side, alternating")
    parser.add_argument(
        "--instructions", action="store_true", help="count instructions per event with callgrind (load-independent)"
    )
    args = parser.parse_args()
    if not re.fullmatch(r"[\w./^~-]+", args.against):
        raise SystemExit("--against: a git revision")
    tmp = Path(tempfile.mkdtemp(prefix="trodden-decode-bench-"))
    try:
        other = str(export(args.against, tmp))
        if args.instructions:
            if shutil.which("valgrind") is None:
                raise SystemExit("--instructions needs valgrind (apt-get install valgrind)")
            here_i, _ = instructions_per_event(None)
            there_i, where = instructions_per_event(other)
            assert where.startswith(str(tmp)), where  # the revision's code really ran
            print(
                f"decode+sanitise instructions per event (callgrind, 25 000 events): this checkout"
                f" {here_i / 1000:.1f} k, {args.against} {there_i / 1000:.1f} k; ratio {here_i / there_i:.3f}"
            )
            return
        load_before = os.getloadavg()[0]
        mine: list[float] = []
        theirs: list[float] = []
        for r in range(args.runs):
            here, *_ = run(None, args.batches)
            there, where, *_ = run(other, args.batches)
            assert where.startswith(str(tmp)), where  # the revision's code really ran
            mine.append(here)
            theirs.append(there)
            print(f"run {r + 1}: this checkout {here:.2f} µs/event, {args.against} {there:.2f} µs/event")
        print(
            f"decode+sanitise CPU per event (min of {args.runs}): this checkout {min(mine):.2f} µs,"
            f" {args.against} {min(theirs):.2f} µs; ratio {min(mine) / min(theirs):.2f}"
            f" (load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after)"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
