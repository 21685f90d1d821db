"""The rich summary printed at the end of `trodden replay`."""

from __future__ import annotations

import sys
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table
from rich.text import Text

from trodden.replay.results import RunReport

_LIMIT = 90


def _short(value: Any, limit: int = _LIMIT) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def print_groups(report: RunReport, console: Console, max_rows: int = 30) -> None:
    """The regressions grouped by likely cause, with what each explains and the rule that silences it."""
    groups = report.groups
    table = Table(
        title=f"Likely causes: {len(groups)} group(s) explain {len(report.regressions)} finding(s)",
        show_lines=False,
        header_style="bold",
        expand=False,
    )
    for column in ("cause", "tests", "findings", "expected → actual", "to silence it, if intended"):
        table.add_column(column, overflow="fold")
    for group in groups[:max_rows]:
        kinds = ", ".join(f"{k} ×{n}" for k, n in group.kinds.items())
        table.add_row(
            f"{group.title}\n[dim]{kinds}[/]",
            str(group.tests),
            str(group.findings),
            f"{_short(group.example.expected, 30)} → {_short(group.example.actual, 30)}",
            "\n".join(f'--ignore "{r}"' for r in group.ignore) or "-",
        )
    console.print(table)
    if len(groups) > max_rows:
        console.print(f"  … and {len(groups) - max_rows} more groups (see the JSON or HTML report)")


def print_summary(report: RunReport, console: Console | None = None, max_rows: int = 30) -> None:
    # Off a terminal (CI logs) rich would wrap at 80 columns; a log line can be wider.
    console = console or Console(width=None if sys.stdout.isatty() else 160)
    c = report.counts
    if report.has_regressions:
        verdict = Text(f"✗ {c.failed + c.error} test(s) regressed", style="bold red")
    elif report.nothing_verified:
        verdict = Text(f"✗ {report.nothing_verified}", style="bold red")
    else:
        verdict = Text("✓ no regressions", style="bold green")
    head = Text.assemble(
        verdict,
        f"   suite {report.suite}@{report.revision} → {report.target}",
        f"  (baseline {report.baseline})" if report.baseline else "",
        f"  shard {report.shard}",
    )
    console.print(head)
    console.print(
        f"  {c.total} tests: [green]{c.passed} passed[/], [red]{c.failed} failed[/], "
        f"[yellow]{c.flaky} flaky[/], {c.skipped} skipped, {c.error} errors"
    )
    if report.has_regressions:
        print_groups(report, console, max_rows)
        table = Table(title="Regressions", show_lines=False, header_style="bold", expand=False)
        for column in ("test", "step", "assertion", "expected", "actual"):
            table.add_column(column, overflow="fold")
        rows = 0
        for result in report.results:
            if result.outcome not in ("failed", "error"):
                continue
            if not result.failures:
                table.add_row(result.test_id, "-", "error", "-", _short(result.reason or ""))
                rows += 1
            for failure in result.failures:
                if rows >= max_rows:
                    break
                table.add_row(
                    result.test_id,
                    failure.step_id or "-",
                    f"{failure.assertion_id}\n[dim]{_short(failure.description, 60)}[/]",
                    _short(failure.expected, 40),
                    _short(failure.actual, 40),
                )
                rows += 1
        console.print(table)
        if len(report.regressions) > rows:
            console.print(f"  … and {len(report.regressions) - rows} more (see the JSON or HTML report)")
    flaky = [r for r in report.results if r.outcome == "flaky"]
    if flaky:
        console.print("[yellow]Flaky[/]: " + ", ".join(f"{r.test_id} ({r.flaky_cause})" for r in flaky[:10]))
    skipped = [r for r in report.results if r.outcome == "skipped"]
    if skipped:
        console.print(f"[dim]Skipped {len(skipped)}: {skipped[0].reason}[/]")
    if report.report_dir:
        console.print(f"  HTML report: {report.report_dir}/index.html")
