"""Retention per source: whole sessions older than the source's retention go (their events too),
spans and logs by their own timestamps, other sources and younger data stay, and day partitions are
dropped only once empty for every source. Also run by the collector on its own, hourly."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from trodden.collector.partitions import ensure_partition
from trodden.collector.retention import apply_retention
from trodden.store import Store

from .conftest import SOURCE, StartCollector, batch

NOW = datetime(2024, 6, 30, 12, tzinfo=UTC)


def _ms(when: datetime) -> float:
    return when.timestamp() * 1000


async def _insert(store: Store, source: str, session: str, days_ago: list[float]) -> None:
    await store.pool.execute(
        "INSERT INTO events (source, session_id, seq, ts, kind, data)"
        " SELECT $1, $2, i, $3::timestamptz - make_interval(secs => d * 86400), 'click', '{}'"
        " FROM unnest($4::float8[]) WITH ORDINALITY AS t(d, i)",
        source,
        session,
        NOW,
        days_ago,
    )


async def _telemetry(store: Store, source: str, trace: str, days_ago: float) -> None:
    when = NOW - timedelta(days=days_ago)
    await store.pool.execute(
        "INSERT INTO spans (source, trace_id, span_id, name, start_ts, duration_ms) VALUES ($1, $2, 'x', 'GET', $3, 1)",
        source,
        trace,
        when,
    )
    await store.pool.execute(
        "INSERT INTO logs (source, ts, trace_id, fingerprint) VALUES ($1, $2, $3, $3)", source, when, trace
    )


async def test_retention_deletes_whole_old_sessions_of_one_source(store: Store) -> None:
    async with store.pool.acquire() as conn:
        for days_ago in (20, 10):  # day partitions of an old and a kept day
            await ensure_partition(conn, (NOW - timedelta(days=days_ago)).date())
    await _insert(store, "shop", "old", [20.2, 20.1])  # last event 20 days ago: goes
    await _insert(store, "shop", "spanning", [15, 13])  # started before the cutoff, ended after: stays whole
    await _insert(store, "shop", "young", [10, 1])
    await _insert(store, "other", "old", [20.3])  # another source with the same session id: stays
    await _telemetry(store, "shop", "t-old", 20)
    await _telemetry(store, "shop", "t-young", 2)
    await _telemetry(store, "other", "t-other", 20)

    async with store.pool.acquire() as conn:
        report = await apply_retention(conn, "shop", 14, now=NOW)
    assert (report.sessions, report.events, report.spans, report.logs) == (1, 2, 1, 1)
    sessions = await store.pool.fetch("SELECT source, session_id, event_count FROM sessions ORDER BY 1, 2")
    assert [(r["source"], r["session_id"], r["event_count"]) for r in sessions] == [
        ("other", "old", 1),
        ("shop", "spanning", 2),
        ("shop", "young", 2),
    ]
    kept = await store.pool.fetch("SELECT source, session_id, count(*) AS n FROM events GROUP BY 1, 2 ORDER BY 1, 2")
    assert [(r["source"], r["session_id"], r["n"]) for r in kept] == [
        ("other", "old", 1),
        ("shop", "spanning", 2),
        ("shop", "young", 2),
    ]
    assert [r["trace_id"] for r in await store.pool.fetch("SELECT trace_id FROM spans ORDER BY 1")] == [
        "t-other",
        "t-young",
    ]
    assert await store.pool.fetchval("SELECT count(*) FROM logs") == 2
    # The old day's partition still holds the other source's row: it stays until that is gone too.
    old_day = f"events_{(NOW - timedelta(days=20)).date():%Y%m%d}"
    assert report.partitions_dropped == ()
    assert await store.pool.fetchval("SELECT to_regclass($1) IS NOT NULL", old_day)

    async with store.pool.acquire() as conn:
        other = await apply_retention(conn, "other", 14, now=NOW)
        again = await apply_retention(conn, "shop", 14, now=NOW)
    assert other.partitions_dropped == (old_day,)
    assert await store.pool.fetchval("SELECT to_regclass($1) IS NULL", old_day)
    assert (again.sessions, again.events, again.spans, again.logs, again.partitions_dropped) == (0, 0, 0, 0, ())
    assert await store.pool.fetchval("SELECT count(*) FROM events") == 4  # the kept day's partition is untouched


async def test_the_collector_applies_its_retention(start_collector: StartCollector) -> None:
    collector = await start_collector(retention_days=7, retention_every=0.2)
    old = _ms(datetime.now(UTC) - timedelta(days=30))
    new = _ms(datetime.now(UTC) - timedelta(minutes=5))
    for sid, ts in (("ancient", old), ("recent", new)):
        status, body, _ = await collector.post("/v1/rum", batch(sid, 3, ts=ts))
        assert status == 200, body
    pool = collector.store.pool
    for _ in range(300):  # runs every 0.2 s here
        rows = await pool.fetch("SELECT DISTINCT session_id FROM events WHERE source = $1", SOURCE)
        if [r["session_id"] for r in rows] == ["recent"]:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError(f"old session still stored: {rows}")
    assert [r["session_id"] for r in await pool.fetch("SELECT session_id FROM sessions")] == ["recent"]


async def test_one_collector_of_a_source_applies_it_at_a_time(store: Store) -> None:
    await _insert(store, "shop", "old", [30])
    async with store.pool.acquire() as holder, store.pool.acquire() as conn:
        # What a run of another collector of this source holds while it works.
        await holder.execute("SELECT pg_advisory_lock($1, hashtext(current_schema() || '/shop'))", 0x7472_7274)
        assert (await apply_retention(conn, "shop", 14, now=NOW)).skipped
        assert not (await apply_retention(conn, "other", 14, now=NOW)).skipped  # other sources are free
        await holder.execute("SELECT pg_advisory_unlock($1, hashtext(current_schema() || '/shop'))", 0x7472_7274)
        report = await apply_retention(conn, "shop", 14, now=NOW)
    assert not report.skipped and report.sessions == 1
