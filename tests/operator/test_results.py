"""Reading replay results and source facts from a real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from trodden.operator import results

from trodden.store import Store

RUN = "team-a/rr-1/abcdef01"


async def _seed_run(store: Store) -> None:
    async with store.pool.acquire() as conn:
        for shard, finished in (("0/2", True), ("1/2", False)):
            run_id = await conn.fetchval(
                "INSERT INTO replay_runs (suite, revision, target, shard, run_name, finished_at, status)"
                " VALUES ('s', 1, 'http://t', $1, $2, $3, 'done') RETURNING id",
                shard, RUN, datetime.now(UTC) if finished else None)
            rows = [("t-ok-" + shard, "passed", None, []), ("t-flaky-" + shard, "flaky", "timing",
                     [{"endpoint": "GET /cart", "assertion_id": "status"}])]
            if shard == "0/2":
                rows.append(("t-bad", "failed", None, [{"step": "GET /orders/{id}", "assertion": "status is 2xx",
                                                        "expected": 200, "actual": 500}]))
            for test_id, outcome, cause, failures in rows:
                await conn.execute(
                    "INSERT INTO replay_results (run_id, test_id, outcome, attempts, duration_ms, flaky_cause,"
                    " failures) VALUES ($1, $2, $3, 1, 5, $4, $5)", run_id, test_id, outcome, cause, failures)


async def test_run_summary_counts_every_shard(store: Store) -> None:
    await _seed_run(store)
    own = results.normalize(await results.read_run_summary(store, RUN))
    summary = await results.replay_summary(store, RUN)  # the replay component's reader, normalised
    for s in (own, summary):
        assert (s["total"], s["passed"], s["failed"], s["flaky"]) == (5, 2, 1, 2)
        assert [r["test"] for r in s["regressions"]] == ["t-bad"]
        assert {tuple(f["routes"]) for f in s["flaky_tests"]} == {("GET /cart",)}
    assert own["shards_done"] == 1
    status = results.status_from_summary(own)
    assert (status["total"], status["passed"], status["failed"], status["flaky"]) == (5, 2, 1, 2)
    [reg] = status["regressions"]
    assert reg == {"test": "t-bad", "step": "GET /orders/{id}", "assertion": "status is 2xx", "expected": "200",
                   "actual": "500"}
    assert {f["route"] for f in status["flakyTests"]} == {"GET /cart"}
    assert (await results.replay_summary(store, "other"))["total"] == 0


async def test_status_is_bounded() -> None:
    huge = {"counts": {"failed": 50}, "regressions": [{"test": f"t{i}", "actual": "x" * 5000} for i in range(50)]}
    status = results.status_from_summary(results.normalize(huge))
    assert len(status["regressions"]) == 10
    assert all(len(r["actual"]) <= 500 for r in status["regressions"])


async def test_uncovered_routes_and_source_counts(store: Store) -> None:
    async with store.pool.acquire() as conn:
        for i, (route, session) in enumerate([("/orders/{id}", "s1"), ("/orders/{id}", None),
                                              ("/admin/export", None), ("/admin/export", None)]):
            await conn.execute(
                "INSERT INTO spans (source, trace_id, span_id, session_id, name, start_ts, duration_ms, http_method,"
                " http_route) VALUES ('shop', $1, $2, $3, 'x', now(), 1, 'GET', $4)",
                f"{i:032x}", f"{i:016x}", session, route)
        await conn.execute(
            "INSERT INTO sessions (source, session_id, first_ts, last_ts, event_count) VALUES"
            " ('shop', 's1', now(), '2025-01-02T03:04:05Z', 7), ('shop', 's2', now(), now() - interval '1 day', 3)")
    assert await results.uncovered_routes(store, "shop") == ["GET /admin/export"]
    counts = await results.source_counts(store, "shop")
    assert counts["sessions"] == 2 and counts["events"] == 10
    assert (await results.source_counts(store, "nothing"))["lastEventTime"] is None


async def test_latest_selection_and_revision(store: Store) -> None:
    async with store.pool.acquire() as conn:
        sid = await conn.fetchval("INSERT INTO selections (source, name, params, stats) VALUES"
                                  " ('shop', 'checkout', '{}', '{\"journeys\": 4}') RETURNING id")
        await conn.execute("INSERT INTO selection_items VALUES ($1, 1, 's1', 'sig', '[]'), ($1, 2, 's2', 'sig2', '[]')",
                           sid)
        await conn.execute("INSERT INTO suites (name, source) VALUES ('suite', 'shop')")
        await conn.execute("INSERT INTO suite_revisions (suite, revision, ir, stats) VALUES ('suite', 1, $1, '{}'),"
                           " ('suite', 2, $1, $2)", {"tests": [{}, {}]}, {"tests": 3, "assertions": 9})
    sel = await results.latest_selection(store, "shop", "checkout")
    assert sel is not None and (sel["id"], sel["selected"], sel["journeys"]) == (sid, 2, 4)
    rev = await results.latest_revision(store, "suite")
    assert rev == {"revision": 2, "tests": 3, "assertions": 9, "coverage": None}
    assert await results.latest_revision(store, "none") is None


def test_coverage_fits_the_status_field() -> None:
    """Synthesis records what a suite covers as lists (found by the loop in pods: the status PATCH was refused)."""
    covered = {"steps": [f"GET /p/{i}" for i in range(300)], "transitions": [["a", "b"]] * 40,
               "route_statuses": ["GET /p 200"] * 12}
    text = results.coverage_text(covered)
    assert text == "300 steps, 40 transitions, 12 route statuses"
    assert results.coverage_text(0.8312) == "83%"
    assert results.coverage_text(None) is None
    long = results.coverage_text({f"kind_{i}": [1] * i for i in range(20)})
    assert long is not None and len(long) == 64 and long.endswith("…")
