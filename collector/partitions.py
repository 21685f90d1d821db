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

_PARTITION_LOCK = 0x7472_6F65  # taken per schema (with hashtext(current_schema())): tenants never wait for each other
PAST_DAYS = 2
FUTURE_DAYS = 1


def partition_name(day: date) -> str:
    return f"events_{day:%Y%m%d}"


def _partition_day(name: str) -> date:
    """The day of a partition named by `partition_name`."""
    return datetime.strptime(name[len("events_") :], "%Y%m%d").date()


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
        await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))", _PARTITION_LOCK)
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


async def drop_empty_partitions_before(conn: asyncpg.Connection, day: date) -> list[str]:
    """The daily partitions of days before `day` that hold no rows, dropped (retention per source
    has emptied them; see `trodden.collector.retention`). Returns their names.

    Dropping a partition locks `events` itself, so writers wait meanwhile: the parent is locked
    before the partition (the order inserts take, so no deadlock), emptiness is checked again under
    the lock (a client with a wrong clock may have written there), and both are bounded in time; a
    partition that cannot be dropped quickly is left for the next run."""
    dropped = []
    for name in await _day_partitions(conn):
        if _partition_day(name) >= day:
            continue
        if not await conn.fetchval(f'SELECT NOT EXISTS (SELECT 1 FROM "{name}")'):
            continue
        try:
            async with conn.transaction():
                await conn.execute("SET LOCAL lock_timeout = '2s'; SET LOCAL statement_timeout = '5s'")
                await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))", _PARTITION_LOCK)
                await conn.execute("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
                if await conn.fetchval(f'SELECT NOT EXISTS (SELECT 1 FROM "{name}")'):
                    await conn.execute(f'DROP TABLE "{name}"')
                    dropped.append(name)
        except (asyncpg.LockNotAvailableError, asyncpg.QueryCanceledError) as exc:
            log.info("empty events partition left for the next run", partition=name, reason=str(exc))
    if dropped:
        log.info("empty events partitions dropped", partitions=dropped)
    return dropped


async def _day_partitions(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = 'events'::regclass AND c.relname ~ '^events_[0-9]{8}$' ORDER BY 1"
    )
    return [str(r["relname"]) for r in rows]


async def drop_partitions_before(conn: asyncpg.Connection, day: date) -> list[str]:
    """Drop the daily partitions of days before `day` whatever they hold, for every source (and
    delete such rows from the default partition). Returns the partitions dropped. Sessions rows are
    left as they are: for a database with one source, or a wipe; retention per source is
    `trodden.collector.retention`."""
    names = await _day_partitions(conn)
    dropped = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))", _PARTITION_LOCK)
        for name in names:
            if _partition_day(name) < day:
                await conn.execute(f'DROP TABLE "{name}"')
                dropped.append(name)
        await conn.execute(
            "DELETE FROM events_default WHERE ts < $1", datetime(day.year, day.month, day.day, tzinfo=UTC)
        )
    if dropped:
        log.info("events partitions dropped", partitions=dropped)
    return dropped
