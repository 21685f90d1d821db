"""What the operator reads from the store: replay results, source counts, selections, suites.

Each comes as its producer's typed model: a ReplayRun's summary is replay's `RunSummary`
(`trodden.replay.persist.summarize_run`), which `status_from_summary` bounds into the ReplayRun
status and `feedback.apply_feedback` reads; a selection's stats are `SelectionStats`; a suite
revision's are the IR's `SuiteStats`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from trodden.models.suite import SuiteCoverage, SuiteStats
from trodden.operator.specs import FlakyTest, Regression, TopRegression
from trodden.replay.persist import summarize_run
from trodden.replay.results import RunSummary
from trodden.store import Store
from trodden.synthesis.selection import SelectionStats

MAX_LISTED = 10
MAX_TEXT = 500


def _text(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


async def replay_summary(store: Store, run_name: str) -> RunSummary:
    """The run's summary over its shards (replay's own reader)."""
    return await summarize_run(store, run_name)


def status_from_summary(summary: RunSummary) -> dict[str, Any]:
    """The ReplayRun status fields (camelCase, bounded) from a run's summary."""
    regressions = [
        Regression(
            test=_text(r.test)[:256],
            step=_text(r.step or r.endpoint or ""),
            assertion=_text(r.assertion.description or r.assertion.id or r.assertion.kind),
            expected=_text(r.expected),
            actual=_text(r.actual),
        ).wire()
        for r in summary.regressions[:MAX_LISTED]
    ]
    flaky = [
        FlakyTest(test=_text(f.test)[:256], route=_text(", ".join(f.endpoints)), cause=_text(f.cause)[:256]).wire()
        for f in summary.flaky[:MAX_LISTED]
    ]
    top = [
        TopRegression(
            cause=_text(g.cause),
            tests=g.tests,
            findings=g.findings,
            expected=_text(g.expected),
            actual=_text(g.actual),
            ignore=[_text(r) for r in g.ignore[:8]],
        ).wire()
        for g in summary.top_regressions[:MAX_LISTED]
    ]
    counts = summary.counts
    status: dict[str, Any] = {
        "total": counts.total,
        "passed": counts.passed,
        "failed": counts.failed + counts.error,
        "flaky": counts.flaky,
        "shardsDone": summary.shards.finished,
        "regressions": regressions,
        "topRegressions": top,
        "flakyTests": flaky,
    }
    if summary.report:
        status["report"] = _text(summary.report)
    return status


async def uncovered_routes(store: Store, source: str) -> list[str]:
    """Routes seen in backend spans that no browser session reached (no span on them was linked)."""
    rows = await store.pool.fetch(
        "SELECT http_method, http_route FROM spans WHERE source = $1 AND http_route IS NOT NULL"
        " GROUP BY http_method, http_route HAVING bool_and(session_id IS NULL)"
        " ORDER BY http_route, http_method LIMIT 200",
        source,
    )
    return [f"{(r['http_method'] or 'GET').upper()} {r['http_route']}" for r in rows]


async def source_counts(store: Store, source: str) -> dict[str, Any]:
    row = await store.pool.fetchrow(
        "SELECT count(*) AS sessions, coalesce(sum(event_count), 0) AS events, max(last_ts) AS last"
        " FROM sessions WHERE source = $1",
        source,
    )
    assert row is not None
    last: datetime | None = row["last"]
    return {
        "sessions": int(row["sessions"]),
        "events": int(row["events"]),
        "lastEventTime": last.replace(microsecond=0).isoformat().replace("+00:00", "Z") if last else None,
    }


async def latest_selection(store: Store, source: str, name: str) -> dict[str, Any] | None:
    row = await store.pool.fetchrow(
        "SELECT s.id, s.created_at, s.stats, (SELECT count(*) FROM selection_items i WHERE i.selection_id = s.id)"
        " AS selected FROM selections s WHERE s.source = $1 AND s.name = $2 ORDER BY s.id DESC LIMIT 1",
        source,
        name,
    )
    if row is None:
        return None
    stats = SelectionStats.model_validate(row["stats"])
    return {
        "id": int(row["id"]),
        "selected": int(row["selected"]),
        "journeys": stats.journeys,
        "created_at": row["created_at"].replace(microsecond=0).isoformat().replace("+00:00", "Z"),
    }


async def latest_revision(store: Store, suite: str) -> dict[str, Any] | None:
    row = await store.pool.fetchrow(
        "SELECT revision, stats FROM suite_revisions WHERE suite = $1 ORDER BY revision DESC LIMIT 1", suite
    )
    if row is None:
        return None
    stats = SuiteStats.model_validate(row["stats"])
    return {
        "revision": int(row["revision"]),
        "tests": stats.tests,
        "assertions": stats.assertions,
        "coverage": coverage_text(stats.coverage),
    }


def coverage_text(coverage: SuiteCoverage | None, limit: int = 64) -> str | None:
    """What a suite's sessions cover, as the short text `status.coverage` holds (at most 64
    characters): the counts of steps, transitions and route statuses."""
    if coverage is None:
        return None
    text = (
        f"{len(coverage.steps)} steps, {len(coverage.transitions)} transitions, "
        f"{len(coverage.route_statuses)} route statuses"
    )
    return text if len(text) <= limit else text[: limit - 1] + "…"
