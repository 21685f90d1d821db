"""The HTML report: one self-contained page (plus screenshots) a person opens after a red run.

Per regression: the step, the assertion, expected versus actual as a line diff, the session the
test came from, and the screenshot of browser steps. Rendered with jinja2 from
`templates/report.html.j2`.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import orjson

from trodden.replay.results import Failure, RunReport, TestResult

_MAX_LINES = 60
SHOWN_PER_TEST = 3  # findings shown per test card; the rest fold away
OPEN_CARDS = 15  # test cards shown open; the rest fold away


@dataclass
class DiffLine:
    tag: str  # "same" | "expected" | "actual"
    text: str


def pretty(value: Any) -> str:
    if isinstance(value, str):
        return value
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS | orjson.OPT_SORT_KEYS).decode()


def diff_lines(expected: Any, actual: Any) -> list[DiffLine]:
    """Expected versus actual, line by line (multi-line values are pretty JSON)."""
    left, right = pretty(expected).splitlines() or [""], pretty(actual).splitlines() or [""]
    out: list[DiffLine] = []
    if not set(left) & set(right):  # nothing in common: expected block, then actual block
        out = [DiffLine("expected", t) for t in left] + [DiffLine("actual", t) for t in right]
        left = right = []
    for line in difflib.ndiff(left, right):
        code, text = line[:1], line[2:]
        if code == "?":
            continue
        out.append(DiffLine({"-": "expected", "+": "actual"}.get(code, "same"), text))
    if len(out) > _MAX_LINES:
        out = [*out[:_MAX_LINES], DiffLine("same", f"… {len(out) - _MAX_LINES} more lines")]
    return out


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("trodden.replay", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pretty"] = pretty
    env.filters["ms"] = lambda v: f"{v / 1000.0:.2f} s" if v >= 1000 else f"{v:.0f} ms"
    return env


def _failure_view(failure: Failure) -> dict[str, Any]:
    return {"f": failure, "diff": diff_lines(failure.expected, failure.actual)}


def render_html(report: RunReport) -> str:
    failed = [r for r in report.results if r.outcome in ("failed", "error")]
    flaky = [r for r in report.results if r.outcome == "flaky"]
    skipped = [r for r in report.results if r.outcome == "skipped"]

    def view(result: TestResult) -> dict[str, Any]:
        return {"r": result, "failures": [_failure_view(f) for f in result.failures]}

    template = _environment().get_template("report.html.j2")
    return template.render(
        report=report,
        counts=report.counts,
        failed=[view(r) for r in failed],
        flaky=[view(r) for r in flaky],
        skipped=skipped,
        results=report.results,
        groups=report.groups,
        shown_per_test=SHOWN_PER_TEST,
        open_cards=OPEN_CARDS,
    )


def write_html(report: RunReport, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "index.html"
    path.write_text(render_html(report), encoding="utf-8")
    return path
