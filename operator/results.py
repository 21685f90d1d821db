"""What the operator reads from the store: replay results, source counts, selections, suites.

`replay_summary` uses the replay component's `summarize_run` (`trodden.replay.persist`) when it is
installed and falls back to reading `replay_runs` / `replay_results` directly; either way `normalize`
gives one canonical shape, which `status_from_summary` bounds into the ReplayRun status and
`feedback.apply_feedback` reads.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from trodden.operator.specs import FlakyTest, Regression

from trodden.store import Store

MAX_LISTED = 10
MAX_TEXT = 500


def _text(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


async def read_run_summary(store: Store, run_name: str) -> dict[str, Any]:
    """Counts, top regressions (expected vs actual) and flaky tests of every shard of a run."""
    runs = await store.pool.fetch(
        "SELECT id, shard, status, finished_at, summary FROM replay_runs WHERE run_name = $1", run_name
    )
    if not runs:
        return {"run_name": run_name, "shards": 0, "shards_done": 0, "counts": {"total": 0}, "regressions": [],
                "flaky": []}
    ids = [r["id"] for r in runs]
    counts = {
        r["outcome"]: r["n"]
        for r in await store.pool.fetch(
            "SELECT outcome, count(*) AS n FROM replay_results WHERE run_id = ANY($1::bigint[]) GROUP BY outcome", ids
        )
    }
    failed_rows = await store.pool.fetch(
        "SELECT test_id, failures FROM replay_results WHERE run_id = ANY($1::bigint[]) AND outcome IN"
        " ('failed', 'error') ORDER BY test_id LIMIT $2", ids, MAX_LISTED,
    )
    regressions: list[dict[str, Any]] = []
    for row in failed_rows:
        failures = row["failures"] or [{}]
        first = failures[0] if isinstance(failures, list) and failures else {}
        first = first if isinstance(first, dict) else {"message": first}
        regressions.append({
            "test": row["test_id"],
            "step": first.get("step") or first.get("route") or "",
            "endpoint": first.get("endpoint") or first.get("route") or first.get("step") or "",
            "assertion": first.get("assertion") or first.get("message") or "",
            "expected": first.get("expected"),
            "actual": first.get("actual"),
        })
    flaky_rows = await store.pool.fetch(
        "SELECT test_id, flaky_cause, failures FROM replay_results WHERE run_id = ANY($1::bigint[])"
        " AND outcome = 'flaky' ORDER BY test_id LIMIT $2", ids, MAX_LISTED,
    )
    flaky = []
    for row in flaky_rows:
        failures = row["failures"] or []
        first = failures[0] if isinstance(failures, list) and failures and isinstance(failures[0], dict) else {}
        route = first.get("endpoint") or first.get("route") or first.get("step")
        flaky.append({"test": row["test_id"], "cause": row["flaky_cause"] or "", "endpoints": [route] if route else []})
    return {
        "run_name": run_name,
        "shards": len(runs),
        "shards_done": sum(1 for r in runs if r["finished_at"] is not None),
        "counts": {**counts, "total": sum(counts.values())},
        "regressions": regressions,
        "flaky": flaky,
    }


def _replay_component() -> Callable[[Store, str], Awaitable[dict[str, Any]]] | None:
    try:
        from trodden.replay.persist import summarize_run
    except ImportError:
        return None
    return summarize_run


async def replay_summary(store: Store, run_name: str) -> dict[str, Any]:
    """The run's summary in the canonical shape of `normalize` (from whichever reader is installed)."""
    summarize = _replay_component()
    raw = await summarize(store, run_name) if summarize is not None else await read_run_summary(store, run_name)
    return normalize(raw)


def _assertion_text(value: Any) -> str:
    if isinstance(value, dict):
        return _text(value.get("description") or value.get("id") or value.get("kind"))
    return _text(value)


def normalize(summary: dict[str, Any]) -> dict[str, Any]:
    """One shape for the status and the feedback, from the replay component's `summarize_run` (counts
    under `counts`, `flaky` with `endpoints`, assertion objects) or this module's own reader."""
    counts = summary.get("counts") or {}
    shards = summary.get("shards")
    regressions = []
    for r in summary.get("regressions") or []:
        route = r.get("endpoint") or r.get("route") or r.get("step")
        regressions.append({
            "test": _text(r.get("test") or r.get("test_id")),
            "step": _text(r.get("step") or r.get("endpoint") or ""),
            "route": str(route) if route else "",
            "assertion": _assertion_text(r.get("assertion")),
            "expected": _text(r.get("expected")),
            "actual": _text(r.get("actual")),
        })
    flaky = []
    for f in summary.get("flaky") or summary.get("flaky_tests") or []:
        routes = [str(x) for x in f.get("endpoints") or []] or ([str(f["route"])] if f.get("route") else [])
        flaky.append({"test": _text(f.get("test") or f.get("test_id")), "cause": _text(f.get("cause")),
                      "routes": routes})
    total = counts.get("total")
    if total is None:
        total = sum(int(v) for v in counts.values())
    return {
        "total": int(total or 0),
        "passed": int(counts.get("passed") or 0),
        "failed": int(counts.get("failed") or 0) + int(counts.get("error") or 0),
        "flaky": int(counts.get("flaky") or 0),
        "shards_done": int(shards.get("finished") or 0) if isinstance(shards, dict) else int(
            summary.get("shards_done") or 0),
        "report": summary.get("report"),
        "regressions": regressions,
        "flaky_tests": flaky,
    }


def status_from_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """The ReplayRun status fields (camelCase, bounded) from a canonical summary."""
    regressions = [
        Regression(test=r["test"][:256], step=r["step"], assertion=r["assertion"], expected=r["expected"],
                   actual=r["actual"]).wire()
        for r in summary["regressions"][:MAX_LISTED]
    ]
    flaky = [
        FlakyTest(test=f["test"][:256], route=_text(", ".join(f["routes"])), cause=f["cause"][:256]).wire()
        for f in summary["flaky_tests"][:MAX_LISTED]
    ]
    status = {
        "total": summary["total"],
        "passed": summary["passed"],
        "failed": summary["failed"],
        "flaky": summary["flaky"],
        "shardsDone": summary["shards_done"],
        "regressions": regressions,
        "flakyTests": flaky,
    }
    if summary.get("report"):
        status["report"] = _text(summary["report"])
    return status


async def uncovered_routes(store: Store, source: str) -> list[str]:
    """Routes seen in backend spans that no browser session reached (no span on them was linked)."""
    rows = await store.pool.fetch(
        "SELECT http_method, http_route FROM spans WHERE source = $1 AND http_route IS NOT NULL"
        " GROUP BY http_method, http_route HAVING bool_and(session_id IS NULL)"
        " ORDER BY http_route, http_method LIMIT 200", source,
    )
    return [f"{(r['http_method'] or 'GET').upper()} {r['http_route']}" for r in rows]


async def source_counts(store: Store, source: str) -> dict[str, Any]:
    row = await store.pool.fetchrow(
        "SELECT count(*) AS sessions, coalesce(sum(event_count), 0) AS events, max(last_ts) AS last"
        " FROM sessions WHERE source = $1", source,
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
        source, name,
    )
    if row is None:
        return None
    stats = row["stats"] or {}
    return {
        "id": int(row["id"]),
        "selected": int(row["selected"]),
        "journeys": int(stats.get("journeys") or 0) if isinstance(stats, dict) else 0,
        "created_at": row["created_at"].replace(microsecond=0).isoformat().replace("+00:00", "Z"),
    }


async def latest_revision(store: Store, suite: str) -> dict[str, Any] | None:
    row = await store.pool.fetchrow(
        "SELECT revision, stats, ir FROM suite_revisions WHERE suite = $1 ORDER BY revision DESC LIMIT 1", suite
    )
    if row is None:
        return None
    stats = row["stats"] if isinstance(row["stats"], dict) else {}
    ir = row["ir"] if isinstance(row["ir"], dict) else {}
    tests = stats.get("tests", len(ir.get("tests") or []))
    assertions = stats.get("assertions", len(ir.get("assertions") or []))
    return {"revision": int(row["revision"]), "tests": int(tests), "assertions": int(assertions),
            "coverage": coverage_text(stats.get("coverage"))}


def coverage_text(coverage: Any, limit: int = 64) -> str | None:
    """The suite's coverage as the short text `status.coverage` holds (at most 64 characters).

    Synthesis records either a ratio or what the suite's sessions cover (lists of steps,
    transitions and route statuses, read by the `novel` strategy): the status shows the counts."""
    if coverage is None:
        return None
    if isinstance(coverage, bool):
        text = str(coverage)
    elif isinstance(coverage, int | float):
        text = f"{coverage:.0%}" if 0 <= coverage <= 1 else str(coverage)
    elif isinstance(coverage, dict):
        text = ", ".join(f"{len(v) if isinstance(v, list | dict) else v} {k.replace('_', ' ')}"
                         for k, v in coverage.items())
    else:
        text = str(coverage)
    return text if len(text) <= limit else text[: limit - 1] + "…"
