"""Daily partitions of `events`, created on demand.

`events` is range-partitioned by day with a default partition. Attaching a day's partition fails
while the default partition holds rows of that day, so creating one moves those rows first, with
the default partition locked, in one transaction. Only days near today get their own partition
(yesterday and earlier rows from file imports, or clients with wrong clocks, stay in the default
partition): hostile timestamps must not create thousands of tables.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import asyncpg

from trodden.log import get_logger

log = get_logger(__name__)

_PARTITION_LOCK = 0x7472_6F65
PAST_DAYS = 2
FUTURE_DAYS = 1


def partition_name(day: date) -> str:
    return f"events_{day:%Y%m%d}"


def wanted(day: date, today: date | None = None) -> bool:
    today = today or datetime.now(UTC).date()
    return today - timedelta(days=PAST_DAYS) <= day <= today + timedelta(days=FUTURE_DAYS)


async def ensure_partition(conn: asyncpg.Connection, day: date) -> bool:
    """Create the partition for `day` if missing (moving that day's rows out of the default one).

    Returns True when it was created now. Replicas race on this; an advisory lock serialises them.
    """
    name = partition_name(day)
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    end = start + timedelta(days=1)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _PARTITION_LOCK)
        exists = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", name)
        if exists:
            return False
        await conn.execute("LOCK TABLE events_default IN ACCESS EXCLUSIVE MODE")
        await conn.execute(f'CREATE TABLE "{name}" (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)')
        moved = await conn.fetchval(
            f"WITH moved AS (DELETE FROM events_default WHERE ts >= $1 AND ts < $2 RETURNING *),"
            f' ins AS (INSERT INTO "{name}" SELECT * FROM moved RETURNING 1) SELECT count(*) FROM ins',
            start,
            end,
        )
        await conn.execute(
            f'ALTER TABLE events ATTACH PARTITION "{name}"'
            f" FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
        )
    log.info("events partition created", partition=name, moved_rows=moved or 0)
    return True


async def ensure_partitions_around(conn: asyncpg.Connection, today: date | None = None) -> None:
    today = today or datetime.now(UTC).date()
    for offset in range(0, FUTURE_DAYS + 1):
        await ensure_partition(conn, today + timedelta(days=offset))


async def drop_partitions_before(conn: asyncpg.Connection, day: date) -> list[str]:
    """Retention: drop the daily partitions of days before `day` (and delete such rows from the
    default partition). Returns the partitions dropped. Sessions rows are left to their owners."""
    names = await conn.fetch(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = 'events'::regclass AND c.relname ~ '^events_[0-9]{8}$' ORDER BY 1"
    )
    dropped = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _PARTITION_LOCK)
        for row in names:
            name = str(row["relname"])
            if datetime.strptime(name[len("events_") :], "%Y%m%d").date() < day:
                await conn.execute(f'DROP TABLE "{name}"')
                dropped.append(name)
        await conn.execute(
            "DELETE FROM events_default WHERE ts < $1", datetime(day.year, day.month, day.day, tzinfo=UTC)
        )
    if dropped:
        log.info("events partitions dropped", partitions=dropped)
    return dropped
