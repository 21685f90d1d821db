"""How well Trodden catches regressions: the whole loop on the demo shop, measured.

Prints planted regressions caught / planted (target: all), false alarms over ten replays of the
unchanged v1 (target: zero), the suite's size against the sessions it came from, and — the peer,
in the same run — how many planted regressions a status-code-only replay of the same tests
catches (what a HAR-style replayer checks), with the ratio.

    .venv/bin/python bench/detection.py [--users 80] [--browser-users 10] [--replays 10]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from trodden.demo import selected_sessions
from trodden.shop.loop import LoopConfig, LoopResult, run_loop
from trodden.shop.regressions import PLANTED


def suite_size(generation: Any) -> str:
    if isinstance(generation, dict):
        return (
            f"{generation.get('tests')} tests ({generation.get('http_tests')} HTTP, "
            f"{generation.get('browser_tests')} browser), {generation.get('assertions')} mined assertions "
            f"from {generation.get('sessions_mined')} sessions"
        )
    return "?"


def report(result: LoopResult) -> int:
    s = result.summary()
    caught, total = s["caught"], s["planted_total"]
    peer = s["peer_caught"]
    alarms = result.false_alarms
    print(f"sessions simulated      : {s['traffic'].get('sessions')} ({s['traffic'].get('by_client')})")
    print(f"sessions captured       : {s['captured'].get('sessions')}")
    selected = s["selection"]
    n_selected = len(selected_sessions(selected))
    print(f"sessions selected       : {n_selected}")
    print(f"suite                   : {suite_size(s['generation'])}")
    print(f"v1 replays              : {len(alarms)}, false alarms {sum(alarms)} (per replay {alarms}) target 0")
    print(f"planted caught          : {caught}/{total} (target {total}/{total})")
    for p in s["planted"]:
        by = p["caught_by"][0] if p["caught_by"] else None
        how = f"{by['kind']} {by['assertion']}" if by else "-"
        peer_mark = "" if p["peer_caught"] is None else ("  peer: yes" if p["peer_caught"] else "  peer: no")
        print(f"  {'✓' if p['caught'] else '✗'} {p['id']:<28} {how}{peer_mark}")
    if peer is not None:
        ratio = f"{caught / peer:.2f}" if peer else "inf (peer caught none)"
        print(f"status-only peer caught : {peer}/{total}")
        print(f"ratio Trodden / peer    : {ratio}")
    for failure in s["failures"]:
        print(f"FAILED: {failure}")
    print(f"wall time               : {s['seconds']} s")
    return 0 if (not s["failures"] and caught == total and not any(alarms)) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=80)
    parser.add_argument("--browser-users", type=int, default=10)
    parser.add_argument("--duration", type=float, default=180)
    parser.add_argument("--replays", type=int, default=10, help="replays of the unchanged v1")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    run_dir = Path(tempfile.mkdtemp(prefix="trodden-detection-"))
    cfg = LoopConfig(
        run_dir=run_dir,
        api_users=args.users,
        browser_users=args.browser_users,
        duration_s=args.duration,
        seed=args.seed,
        v1_replays=args.replays,
        status_only_peer=True,
    )
    started = time.monotonic()
    result = asyncio.run(
        run_loop(cfg, lambda stage, msg: print(f"[{time.monotonic() - started:6.1f}s] {stage}: {msg}", file=sys.stderr))
    )
    print(f"planted regressions in the list: {len(PLANTED)}; run directory {run_dir}")
    return report(result)


if __name__ == "__main__":
    sys.exit(main())
