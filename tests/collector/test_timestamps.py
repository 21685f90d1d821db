"""Event timestamps: rows carry whole microseconds, rounded exactly as the datetimes of earlier
versions were, and PostgreSQL receives exactly those (the timestamp is part of the idempotency key:
a client's retry across an upgrade must not be stored twice)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
from hypothesis import example, given, settings
from hypothesis import strategies as st

from trodden.collector.rows import ms_to_micros
from trodden.collector.writer import configure_connection

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_MS = 32503680000000  # the event model's upper bound (year 3000)


def _as_datetime_did(ms: float) -> int:
    return (datetime.fromtimestamp(ms / 1000.0, tz=UTC) - EPOCH) // timedelta(microseconds=1)


@settings(max_examples=5_000, deadline=None)
@given(st.floats(min_value=0, max_value=MAX_MS, allow_nan=False) | st.integers(0, MAX_MS).map(float))
@example(1_700_000_000_123.4565)  # half a microsecond: the rounding mode decides
@example(1_700_000_000_123.4575)
@example(0.0005)
@example(999.9995)
@example(float(MAX_MS))
def test_micros_round_like_datetime(ms: float) -> None:
    assert ms_to_micros(ms) == _as_datetime_did(ms)
    assert EPOCH + timedelta(microseconds=ms_to_micros(ms)) == datetime.fromtimestamp(ms / 1000.0, tz=UTC)


async def test_postgres_stores_the_same_instant(dsn: str) -> None:
    stamps = [0.0, 1_700_000_000_123.4565, 1_700_000_000_000.999, 1_764_115_200_000.0, float(MAX_MS)]
    conn = await asyncpg.connect(dsn)
    plain = await asyncpg.connect(dsn)
    try:
        await configure_connection(conn)
        got = await conn.fetch(
            "SELECT t, extract(epoch FROM t)::numeric * 1000000 AS us FROM unnest($1::timestamptz[]) AS t",
            [ms_to_micros(ms) for ms in stamps],
        )
        assert [int(r["us"]) for r in got] == [ms_to_micros(ms) for ms in stamps]
        # What the earlier versions sent (a datetime per row) is the same instant.
        before = await plain.fetch(
            "SELECT extract(epoch FROM t)::numeric * 1000000 AS us FROM unnest($1::timestamptz[]) AS t",
            [datetime.fromtimestamp(ms / 1000.0, tz=UTC) for ms in stamps],
        )
        assert [int(r["us"]) for r in before] == [int(r["us"]) for r in got]
        # Read back through the writer's codec: datetimes again.
        assert got[1]["t"] == datetime.fromtimestamp(stamps[1] / 1000.0, tz=UTC)
    finally:
        await conn.close()
        await plain.close()
