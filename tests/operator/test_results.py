"""Reading replay results and source facts from a real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from trodden.models.suite import SuiteCoverage, SuiteStats
from trodden.operator import results
from trodden.replay.results import Counts, Failure, RegressionSummary, RunSummary
from trodden.store import Store
from trodden.synthesis.selection import SelectionStats

RUN = "team-a/rr-1/abcdef01"


async def _seed_run(store: Store) -> None:
    """Two shards of a run as replay writes them (one still running)."""
    bad = Failure(
        source="assertion",
        assertion_id="a-status",
        kind="status",
        description="status is 2xx",
        expected="2xx",
        actual=500,
        step_id="s2",
        endpoint="GET /orders/{id}",
    )
    slow = Failure(
        source="assertion", assertion_id="a-lat", kind="latency", description="fast", endpoint="GET /cart", step_id="s1"
    )
    async with store.pool.acquire() as conn:
        for shard, status in (("0/2", "failed"), ("1/2", "running")):
            run_id = await conn.fetchval(
                "INSERT INTO replay_runs (suite, revision, target, shard, shard_count, run_name, finished_at, status)"
                " VALUES ('s', 1, 'http://t', $1, 2, $2, $3, $4) RETURNING id",
                shard,
                RUN,
                datetime.now(UTC) if status != "running" else None,
                status,
            )
            rows = [
                ("t-ok-" + shard, "passed", None, []),
                ("t-flaky-" + shard, "flaky", "timing", [slow.model_dump(mode="json")]),
            ]
            if shard == "0/2":
                rows.append(("t-bad", "failed", None, [bad.model_dump(mode="json")]))
            for test_id, outcome, cause, failures in rows:
                await conn.execute(
                    "INSERT INTO replay_results (run_id, test_id, outcome, attempts, duration_ms, flaky_cause,"
                    " failures) VALUES ($1, $2, $3, 1, 5, $4, $5)",
                    run_id,
                    test_id,
                    outcome,
                    cause,
                    failures,
                )


async def test_run_summary_counts_every_shard(store: Store) -> None:
    await _seed_run(store)
    summary = await results.replay_summary(store, RUN)
    assert (summary.counts.total, summary.counts.passed, summary.counts.failed, summary.counts.flaky) == (5, 2, 1, 2)
    assert [r.test for r in summary.regressions] == ["t-bad"]
    assert {tuple(f.endpoints) for f in summary.flaky} == {("GET /cart",)}
    status = results.status_from_summary(summary)
    assert (status["total"], status["passed"], status["failed"], status["flaky"]) == (5, 2, 1, 2)
    assert status["shardsDone"] == 1
    [reg] = status["regressions"]
    assert reg == {"test": "t-bad", "step": "s2", "assertion": "status is 2xx", "expected": "2xx", "actual": "500"}
    assert {f["route"] for f in status["flakyTests"]} == {"GET /cart"}
    assert (await results.replay_summary(store, "other")).counts.total == 0


async def test_status_is_bounded() -> None:
    huge = RunSummary(
        run_name="r",
        counts=Counts(total=50, failed=50),
        regressions=[RegressionSummary(test=f"t{i}", actual="x" * 5000) for i in range(50)],
    )
    status = results.status_from_summary(huge)
    assert len(status["regressions"]) == 10
    assert all(len(r["actual"]) <= 500 for r in status["regressions"])


async def test_uncovered_routes_and_source_counts(store: Store) -> None:
    async with store.pool.acquire() as conn:
        for i, (route, session) in enumerate(
            [("/orders/{id}", "s1"), ("/orders/{id}", None), ("/admin/export", None), ("/admin/export", None)]
        ):
            await conn.execute(
                "INSERT INTO spans (source, trace_id, span_id, session_id, name, start_ts, duration_ms, http_method,"
                " http_route) VALUES ('shop', $1, $2, $3, 'x', now(), 1, 'GET', $4)",
                f"{i:032x}",
                f"{i:016x}",
                session,
                route,
            )
        await conn.execute(
            "INSERT INTO sessions (source, session_id, first_ts, last_ts, event_count) VALUES"
            " ('shop', 's1', now(), '2025-01-02T03:04:05Z', 7), ('shop', 's2', now(), now() - interval '1 day', 3)"
        )
    assert await results.uncovered_routes(store, "shop") == ["GET /admin/export"]
    counts = await results.source_counts(store, "shop")
    assert counts["sessions"] == 2 and counts["events"] == 10
    assert (await results.source_counts(store, "nothing"))["lastEventTime"] is None


async def test_latest_selection_and_revision(store: Store) -> None:
    async with store.pool.acquire() as conn:
        stats = SelectionStats(
            sessions=9,
            steps=30,
            journeys=4,
            clusters=3,
            candidates=2,
            selected=2,
            strategies={"frequent:10": 2},
            routes=5,
            units_covered=7,
        )
        sid = await conn.fetchval(
            "INSERT INTO selections (source, name, params, stats) VALUES ('shop', 'checkout', '{}', $1) RETURNING id",
            stats.model_dump(exclude_none=True),
        )
        await conn.execute(
            "INSERT INTO selection_items VALUES ($1, 1, 's1', 'sig', '[]'), ($1, 2, 's2', 'sig2', '[]')", sid
        )
        await conn.execute("INSERT INTO suites (name, source) VALUES ('suite', 'shop')")
        await conn.execute(
            "INSERT INTO suite_revisions (suite, revision, ir, stats) VALUES ('suite', 1, $1, '{}'),"
            " ('suite', 2, $1, $2)",
            {"tests": [{}, {}]},
            SuiteStats(tests=3, assertions=9).model_dump(),
        )
    sel = await results.latest_selection(store, "shop", "checkout")
    assert sel is not None and (sel["id"], sel["selected"], sel["journeys"]) == (sid, 2, 4)
    rev = await results.latest_revision(store, "suite")
    assert rev == {"revision": 2, "tests": 3, "assertions": 9, "coverage": None}
    assert await results.latest_revision(store, "none") is None


def test_coverage_fits_the_status_field() -> None:
    """Synthesis records what a suite covers as lists (found by the loop in pods: the status PATCH was refused)."""
    covered = SuiteCoverage(
        steps=[f"GET /p/{i}" for i in range(300)], transitions=[("a", "b")] * 40, route_statuses=[("GET /p", 200)] * 12
    )
    assert results.coverage_text(covered) == "300 steps, 40 transitions, 12 route statuses"
    assert results.coverage_text(None) is None
    huge = SuiteCoverage(steps=["x"] * 10)
    assert results.coverage_text(huge, limit=10) == "10 steps,…"


def test_route_statuses_of_older_suites_read_back() -> None:
    """Suites stored before SuiteCoverage wrote "ROUTE → STATUS" strings."""
    old = SuiteCoverage.model_validate({"route_statuses": ["POST /cart/{id}/coupon → 409"]})
    assert old.route_statuses == [("POST /cart/{id}/coupon", 409)]
