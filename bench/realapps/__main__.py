"""Trodden on applications nobody here wrote: per app, planted regressions caught, false alarms over
control replays, and what a status-only replay of the same suite catches (bench/realapps/README.md).

    python -m bench.realapps [--app NAME ...] [--plants a,b] [--controls 3] [--reuse-recording]
                             [--sessions N] [--browser-sessions N] [--seed 7] [--no-peer]
                             [--out DIR] [--json FILE] [--dsn DSN]

Exit 0 when every app met the issue's bar (≥ 85 % caught, 0 false alarms over the controls, ≥ 3 times
what the peer caught), 1 when one did not, 2 for bad options.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

import orjson

from .apps import APPS, make_app
from .harness import RunOptions, run_app
from .report import print_app, print_table
from .results import AppResult, RunResult

TARGET_CAUGHT = 0.85
TARGET_RATIO = 3.0


def meets_bar(a: AppResult) -> bool:
    peer = a.peer_caught
    return (
        not a.failures
        and a.planted > 0
        and a.caught / a.planted >= TARGET_CAUGHT
        and a.false_alarms == 0
        and peer is not None
        and a.caught > 0
        and a.caught >= TARGET_RATIO * peer
    )


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.realapps", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--app", action="append", choices=sorted(APPS), help="an application (repeatable; default: all)"
    )
    parser.add_argument("--plants", help="comma-separated plant ids to enable (one app only; default: all)")
    parser.add_argument("--controls", type=int, default=3, help="replays of an unchanged deployment (default 3)")
    parser.add_argument(
        "--reuse-recording",
        action="store_true",
        help="re-post the cached corpus instead of simulating users (recorded once if missing)",
    )
    parser.add_argument("--sessions", type=int, help="API client sessions (default: the app's)")
    parser.add_argument("--browser-sessions", type=int, help="browser sessions (default: the app's)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--single-baseline",
        dest="secondary_baseline",
        action="store_false",
        help="replay the baseline twice on one deployment (default: a second deployment, "
        "replay's --secondary-baseline)",
    )
    parser.add_argument("--no-peer", dest="peer", action="store_false", help="skip the status-only replay")
    parser.add_argument("--out", type=Path, help="run directory (default: $TRODDEN_HOME/realapps/<time>)")
    parser.add_argument("--json", type=Path, help="also write the result document here")
    parser.add_argument("--dsn", help="PostgreSQL DSN (default: $TRODDEN_DSN, else the embedded server)")
    args = parser.parse_args(argv)
    if args.plants and (not args.app or len(args.app) != 1):
        parser.error("--plants needs exactly one --app")
    if args.plants:
        known = {p.id for p in APPS[args.app[0]].plants}
        unknown = sorted(set(args.plants.split(",")) - known - {""})
        if unknown:
            parser.error(f"{args.app[0]} has no plant {', '.join(unknown)} (its plants: {', '.join(sorted(known))})")
    if args.controls < 0:
        parser.error("--controls must be ≥ 0")
    return args


async def run(args: argparse.Namespace) -> RunResult:
    home = Path(os.environ.get("TRODDEN_HOME") or Path.home() / ".local/share/trodden")
    out = args.out or home / "realapps" / time.strftime("%Y%m%d-%H%M%S")
    result = RunResult(
        started_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        options={k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
    )
    started = time.monotonic()
    for name in args.app or list(APPS):
        app_dir = out / name
        app = make_app(name, app_dir)
        plants = tuple(p for p in args.plants.split(",") if p) if args.plants else None
        opts = RunOptions(
            run_dir=app_dir,
            seed=args.seed,
            sessions=args.sessions,
            browser_sessions=args.browser_sessions,
            plants=plants,
            controls=args.controls,
            reuse_recording=args.reuse_recording,
            peer=args.peer,
            dsn=args.dsn,
            secondary_baseline=args.secondary_baseline,
        )

        def say(stage: str, message: str, name: str = name) -> None:
            print(f"[{time.monotonic() - started:7.1f}s] {name} {stage}: {message}", file=sys.stderr, flush=True)

        app_result = await run_app(app, opts, say)
        result.apps.append(app_result)
        print_app(app_result)
        print()
    result.seconds = round(time.monotonic() - started, 1)
    document = orjson.dumps(result.document(), option=orjson.OPT_INDENT_2)
    out.mkdir(parents=True, exist_ok=True)
    (out / "result.json").write_bytes(document)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_bytes(document)
    print_table(result)
    print(f"\nresult: {out / 'result.json'} ({result.seconds:.0f} s)")
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    result = asyncio.run(run(args))
    return 0 if all(meets_bar(a) for a in result.apps) else 1


if __name__ == "__main__":
    sys.exit(main())
