"""`trodden demo`: the whole loop on the demo shop in one command (see docs/demo.md).

Starts a collector and the shop (v1 recorded, v1 and v2 as replay targets), runs the simulated
users, selects, generates and mines, replays against v1 (expect nothing) and against v2 (expect
every planted regression), prints what happened at each stage and which assertion caught which
planted regression, and leaves nothing running. Exit code 0 when every planted regression was
caught with no false alarm on v1, 1 otherwise, 2 for bad options.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from trodden.cliutil import dsn_option, json_option, print_json, run
from trodden.log import configure_logging
from trodden.settings import trodden_home
from trodden.shop.loop import LoopConfig, run_loop


def _console(as_json: bool) -> Console:
    console = Console(stderr=as_json, highlight=False)
    if not console.is_terminal:
        console.width = 150  # a log or `make` pipe has no width to wrap to; 80 columns shred the table
    return console


def _say(console: Console) -> Any:
    started = time.monotonic()

    def say(stage: str, message: str) -> None:
        console.print(f"[dim]{time.monotonic() - started:6.1f}s[/] [bold cyan]{stage:>9}[/] {message}")

    return say


def render(console: Console, summary: dict[str, Any]) -> None:
    t = summary.get("traffic") or {}
    if t:
        console.print(
            f"[bold]captured[/]  {t.get('sessions')} simulated sessions ({t.get('by_client')}), "
            f"{t.get('requests')} API requests; journeys {t.get('by_journey')}"
        )
    c = summary.get("captured") or {}
    if c:
        console.print(
            f"           in PostgreSQL: {c.get('sessions')} sessions, events {c.get('events')}, "
            f"{c.get('spans')} spans ({c.get('spans_linked_to_sessions')} linked to sessions)"
        )
    selection = summary.get("selection")
    if selection is not None:
        render_selection(console, selection)
    generation = summary.get("generation")
    if generation is not None:
        console.print(f"[bold]generated[/] {_short(generation)}")
    alarms = summary.get("false_alarms_per_v1_replay") or []
    if alarms:
        verdict = "[green]none[/]" if not any(alarms) else f"[red]{alarms}[/]"
        console.print(f"[bold]replay v1[/] false alarms per replay: {verdict}")
    table = Table(title="Planted regressions in shop v2", show_lines=False)
    for col in ("regression", "kind", "endpoint", "caught", "by assertion"):
        table.add_column(col)
    for p in summary.get("planted", []):
        by = p["caught_by"][0] if p["caught_by"] else None
        table.add_row(
            p["id"],
            p["kind"],
            p["endpoint"],
            "[green]yes[/]" if p["caught"] else "[red]no[/]",
            f"{by['kind']} {by['assertion']}: {by['description'] or ''}"[:90] if by else "",
        )
    console.print(table)
    console.print(
        f"[bold]caught {summary.get('caught')}/{summary.get('planted_total')}[/] planted regressions"
        + (
            f"; a status-code-only replay catches {summary['peer_caught']}"
            if summary.get("peer_caught") is not None
            else ""
        )
    )
    if summary.get("html_report"):
        console.print(f"HTML report: [link]{summary['html_report']}/index.html[/link]")
    for failure in summary.get("failures", []):
        console.print(f"[red]failed:[/] {failure}")
    console.print(f"took {summary.get('seconds')} s; logs and reports under {summary.get('run_dir')}")


def render_selection(console: Console, selection: Any) -> None:
    items = selected_sessions(selection)
    console.print(f"[bold]selected[/]  {len(items)} sessions (selection {selection.get('selection_id', '?')})")
    for item in items[:12]:
        if isinstance(item, dict):
            reasons = item.get("reasons") or []
            console.print(f"           {item.get('session_id', '?')}: {'; '.join(map(str, reasons))[:110]}")
    if len(items) > 12:
        console.print(f"           … and {len(items) - 12} more")


def selected_sessions(selection: Any) -> list[Any]:
    """The selected sessions of `trodden select --json` (a list under "sessions")."""
    if not isinstance(selection, dict):
        return []
    items = selection.get("sessions", selection.get("selected", []))
    return items if isinstance(items, list) else []


def _short(value: Any) -> str:
    if isinstance(value, dict):
        keys = (
            "suite",
            "revision",
            "tests",
            "http_tests",
            "browser_tests",
            "assertions",
            "assertions_by_kind",
            "sessions_mined",
        )
        picked = {k: value[k] for k in keys if k in value}
        return str(picked or {k: v for k, v in value.items() if not isinstance(v, (list, dict))})
    return str(value)[:200]


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


@click.command()
@click.option(
    "--users", type=click.IntRange(1, 5000), default=60, show_default=True, help="Simulated API-client sessions."
)
@click.option(
    "--browser-users",
    type=click.IntRange(0, 500),
    default=8,
    show_default=True,
    help="Simulated browser sessions (Chromium, captured by rum.js).",
)
@click.option(
    "--duration",
    type=click.FloatRange(5, 3600),
    default=90.0,
    show_default=True,
    help="Upper bound in seconds for the simulated traffic.",
)
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of the simulated population.")
@click.option(
    "--v1-replays",
    type=click.IntRange(1, 50),
    default=1,
    show_default=True,
    help="Replays of the unchanged v1 (each must report nothing).",
)
@click.option(
    "--peer/--no-peer", default=True, show_default=True, help="Also replay v2 judging status codes only, to compare."
)
@click.option("--keep-running", is_flag=True, help="Leave the shops and collector up at the end (Ctrl-C stops them).")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Where logs and reports go (default: $TRODDEN_HOME/demo/<time>).",
)
@dsn_option
@json_option
def demo(
    *,
    users: int,
    browser_users: int,
    duration: float,
    seed: int,
    v1_replays: int,
    peer: bool,
    keep_running: bool,
    out: Path | None,
    dsn: str | None,
    as_json: bool,
) -> None:
    """Run the whole loop on the demo shop: capture, select, generate, replay v1 and v2."""
    os.environ.setdefault("TRODDEN_LOG_LEVEL", "warning")  # the demo prints its own progress per stage
    configure_logging()
    console = _console(as_json)
    run_dir = out or trodden_home() / "demo" / time.strftime("%Y%m%d-%H%M%S")
    cfg = LoopConfig(
        run_dir=run_dir,
        api_users=users,
        browser_users=browser_users,
        duration_s=duration,
        seed=seed,
        dsn=dsn,
        v1_replays=v1_replays,
        status_only_peer=peer,
        keep_running=keep_running,
    )
    console.rule("Trodden demo")
    # SIGTERM (`timeout`, a CI runner stopping the job) must unwind like Ctrl-C does, so the
    # services' cleanup (finally blocks, the atexit hook) stops the collector, shops and browsers.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    result = run(run_loop(cfg, _say(console)))
    summary = result.summary()
    if as_json:
        print_json(summary)
    render(_console(as_json), summary)
    success = not result.failures and not any(result.false_alarms) and summary["caught"] == summary["planted_total"]
    raise SystemExit(0 if success else 1)
