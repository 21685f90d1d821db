"""Replay results in the store (`replay_runs`, one row per shard run; `replay_results`, one per
test) and `summarize_run`, which the operator calls to turn a ReplayRun's shards into its status."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import orjson

from trodden.replay.grouping import group_findings
from trodden.replay.results import (
    AssertionRef,
    CauseSummary,
    Failure,
    FlakySummary,
    RegressionSummary,
    RunReport,
    RunSummary,
    TestResult,
    nothing_verified_reason,
)
from trodden.store import Store

TOP_REGRESSIONS = 10
TOP_FLAKY = 20
TEXT_LIMIT = 300


async def start_run(store: Store, report: RunReport, shard_count: int) -> int:
    run_id = await store.pool.fetchval(
        "INSERT INTO replay_runs (suite, revision, target, baseline, shard, run_name, shard_count, report)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        report.suite,
        report.revision,
        report.target,
        report.baseline,
        report.shard,
        report.run_name,
        shard_count,
        report.report_dir,
    )
    return int(run_id)


async def finish_run(store: Store, report: RunReport) -> None:
    assert report.run_id is not None
    rows = [
        (
            report.run_id,
            r.test_id,
            r.outcome,
            r.attempts,
            r.duration_ms,
            r.flaky_cause,
            [f.model_dump(mode="json") for f in r.failures],
            r.name,
            r.type,
            r.session_id,
            r.reason,
            [s.model_dump(mode="json") for s in r.steps],
            r.endpoints,
        )
        for r in report.results
    ]
    status = "failed" if report.has_regressions else "passed"  # nothing verified: judged over all shards
    async with store.pool.acquire() as conn, conn.transaction():
        await conn.executemany(
            "INSERT INTO replay_results (run_id, test_id, outcome, attempts, duration_ms, flaky_cause, failures,"
            " name, type, session_id, reason, steps, endpoints)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            rows,
        )
        await conn.execute(
            "UPDATE replay_runs SET finished_at = now(), status = $2, summary = $3, report = $4 WHERE id = $1",
            report.run_id,
            status,
            report.counts.model_dump(),
            report.report_dir,
        )


async def fail_run(store: Store, run_id: int) -> None:
    """The shard crashed or was interrupted: mark it so the operator does not wait for it."""
    await store.pool.execute(
        "UPDATE replay_runs SET finished_at = now(), status = 'error' WHERE id = $1 AND finished_at IS NULL", run_id
    )


def _clip(value: Any, limit: int = TEXT_LIMIT) -> Any:
    """Values in a CR status must stay small: long strings and big structures become text cut
    to `limit` characters."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if not isinstance(value, str):
        value = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _route_of(failure: dict[str, Any]) -> str | None:
    if failure.get("endpoint"):
        return str(failure["endpoint"])
    url = failure.get("url")
    return f"PAGE {urlsplit(url).path or '/'}" if url else None


async def summarize_run(store: Store, run_name: str) -> RunSummary:
    """The state of ReplayRun `run_name` over its shards (the latest run row of each shard).
    Shape documented in docs/replay.md ("summarize_run")."""
    runs = await store.pool.fetch(
        "SELECT DISTINCT ON (shard) id, suite, revision, target, baseline, shard, shard_count, status, report,"
        " started_at, finished_at FROM replay_runs WHERE run_name = $1 ORDER BY shard, id DESC",
        run_name,
    )
    summary = RunSummary(run_name=run_name)
    if not runs:
        return summary
    first = runs[0]
    summary.suite, summary.revision, summary.target, summary.baseline = (
        first["suite"],
        first["revision"],
        first["target"],
        first["baseline"],
    )
    shards = summary.shards
    shards.expected = max(r["shard_count"] for r in runs)
    shards.finished = sum(1 for r in runs if r["status"] in ("passed", "failed"))
    shards.running = sum(1 for r in runs if r["status"] == "running")
    shards.errored = sum(1 for r in runs if r["status"] == "error")
    summary.reports = sorted({r["report"] for r in runs if r["report"]})
    summary.report = summary.reports[0] if summary.reports else None

    rows = await store.pool.fetch(
        "SELECT test_id, name, type, session_id, outcome, flaky_cause, failures, reason FROM replay_results"
        " WHERE run_id = ANY($1::bigint[]) ORDER BY test_id",
        [r["id"] for r in runs],
    )
    counts = summary.counts
    regressed_results: list[TestResult] = []
    regressed: set[str] = set()
    flaky_routes: set[str] = set()
    skip_reasons: list[str | None] = []
    for row in rows:
        if row["outcome"] == "skipped":
            skip_reasons.append(row["reason"])
        counts.total += 1
        setattr(counts, row["outcome"], getattr(counts, row["outcome"]) + 1)
        failures: list[dict[str, Any]] = row["failures"] or []
        if row["outcome"] in ("failed", "error"):
            regressed_results.append(
                TestResult(
                    test_id=row["test_id"],
                    name=row["name"] or row["test_id"],
                    type=row["type"] or "http",
                    session_id=row["session_id"] or "",
                    outcome=row["outcome"],
                    failures=[Failure.model_validate(f) for f in failures],
                )
            )
            summary.regressions_total += max(1, len(failures))
            for failure in failures:
                route = _route_of(failure)
                if route:
                    regressed.add(route)
                if len(summary.regressions) < TOP_REGRESSIONS:
                    summary.regressions.append(_regression_entry(row, failure))
            if not failures and len(summary.regressions) < TOP_REGRESSIONS:
                summary.regressions.append(
                    RegressionSummary(
                        test=row["test_id"],
                        test_name=row["name"],
                        session_id=row["session_id"],
                        assertion=AssertionRef(id="exec:error", kind="error", description=_clip(row["reason"])),
                        actual=_clip(row["reason"]),
                    )
                )
        elif row["outcome"] == "flaky":
            routes = sorted({r for r in (_route_of(f) for f in failures) if r})
            flaky_routes.update(routes)
            if len(summary.flaky) < TOP_FLAKY:
                summary.flaky.append(
                    FlakySummary(
                        test=row["test_id"],
                        test_name=row["name"],
                        cause=row["flaky_cause"] or "unknown",
                        endpoints=routes,
                    )
                )
    summary.top_regressions = [
        CauseSummary(
            cause=_clip(g.title),
            tests=g.tests,
            findings=g.findings,
            kinds=g.kinds,
            expected=_clip(g.example.expected),
            actual=_clip(g.example.actual),
            ignore=[_clip(str(r)) for r in g.ignore],
        )
        for g in group_findings(regressed_results)[:TOP_REGRESSIONS]
    ]
    summary.regressed_endpoints = sorted(regressed)
    summary.flaky_endpoints = sorted(flaky_routes)
    if shards.finished + shards.errored < shards.expected or shards.running:
        summary.outcome = "running"
    elif shards.errored or counts.failed or counts.error:
        summary.outcome = "failed"
    elif (reason := nothing_verified_reason(counts, skip_reasons)) is not None:
        summary.outcome = "failed"  # a gate that verified nothing never passes
        summary.reason = reason
    else:
        summary.outcome = "passed"
    return summary


def _regression_entry(row: Any, failure: dict[str, Any]) -> RegressionSummary:
    return RegressionSummary(
        test=row["test_id"],
        test_name=row["name"],
        session_id=row["session_id"],
        step=failure.get("step_id"),
        endpoint=failure.get("endpoint"),
        assertion=AssertionRef(
            id=failure.get("assertion_id"), kind=failure.get("kind"), description=_clip(failure.get("description"))
        ),
        field=failure.get("field"),
        expected=_clip(failure.get("expected")),
        actual=_clip(failure.get("actual")),
    )
