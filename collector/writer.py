"""The writer: a bounded in-memory queue drained by one task that batches many requests into one
transaction of COPYs.

Nothing is acknowledged before it is committed: `submit()` returns a future that resolves after
the transaction holding the item commits. New events are COPied straight into `events`, and one
statement updates their sessions and trace links; a client's retry of a batch (the key is source,
session, seq, ts) makes the COPY fail, and the flush is redone through temporary tables with
`INSERT … SELECT … ON CONFLICT DO NOTHING`, so it adds nothing and session counters count only the
rows actually inserted, in the same transaction. When PostgreSQL is unreachable the writer keeps
what it holds and reconnects with backoff; items waiting longer than `retry_window` seconds are failed with
`DatabaseUnavailable` (their clients get 503 and retry), and new work is refused until the
database is back. A flush that fails for any other reason (PostgreSQL refusing a row, a value the
codecs cannot encode) is split so only the offending item fails.
"""

from __future__ import annotations

import asyncio
import collections
import operator
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import orjson

from trodden.collector import partitions
from trodden.collector.metrics import FLUSH_SECONDS, FLUSHED_ROWS, QUEUE_DEPTH
from trodden.collector.rows import (
    EVENT_COLUMNS,
    LOG_COLUMNS,
    SPAN_COLUMNS,
    Micros,
    WorkItem,
)
from trodden.log import get_logger

log = get_logger(__name__)


class QueueFull(Exception):
    """The queue holds as much as it may; the client should retry later (429)."""


class DatabaseUnavailable(Exception):
    """PostgreSQL is unreachable; nothing of this item was stored (503)."""


class BadData(Exception):
    """PostgreSQL refused this item's data (400)."""


_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    ConnectionError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,  # e.g. a connection torn down in the middle of a COPY
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,
    asyncpg.InsufficientResourcesError,
)

_TEMP_TABLES = """
CREATE TEMP TABLE IF NOT EXISTS ev_in (LIKE events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS sp_in (LIKE spans INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS lg_in (LIKE logs INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;
"""
# Session counters and the trace links of spans and logs that arrived before these events are kept
# by the trigger on `events` (migration 0003): whatever inserts events updates them in the same
# transaction, counting only the rows actually inserted.
_INSERT_EVENTS = "INSERT INTO events SELECT * FROM ev_in ON CONFLICT DO NOTHING"
# The attributes the batches gave their sessions (HAR import, custom clients; rum.js sends none),
# after their events, merged per session beforehand (a statement may touch a row once), in key
# order like the trigger, so concurrent writers lock session rows in the same order. The timestamps
# only matter where a session has no row yet.
_SESSION_ATTRIBUTES = """
INSERT INTO sessions AS s (source, session_id, first_ts, last_ts, attributes)
SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::jsonb[])
ON CONFLICT (source, session_id) DO UPDATE SET attributes = s.attributes || excluded.attributes
"""
_INSERT_SPANS = "INSERT INTO spans SELECT * FROM sp_in ON CONFLICT DO NOTHING"
_INSERT_LOGS = "INSERT INTO logs SELECT * FROM lg_in ON CONFLICT DO NOTHING"
# Spans and logs arriving after the browser's beacon meet their session through the trace id.
_LINK_NEW_SPANS = """
UPDATE spans s SET session_id = e.session_id
FROM sp_in n JOIN events e ON e.source = n.source AND e.trace_id = n.trace_id
WHERE s.source = n.source AND s.trace_id = n.trace_id AND s.span_id = n.span_id AND s.session_id IS NULL
"""
_LINK_NEW_LOGS = """
UPDATE logs l SET session_id = e.session_id
FROM lg_in n JOIN events e ON e.source = n.source AND e.trace_id = n.trace_id
WHERE l.source = n.source AND l.fingerprint = n.fingerprint AND l.session_id IS NULL
"""


def _session_attributes_args(item: WorkItem) -> list[Any]:
    """`_SESSION_ATTRIBUTES`'s parameters: per session, its first and last timestamp in the item and
    the attributes of its batches merged, later batches winning."""
    merged: dict[tuple[str, str], list[Any]] = {}
    for source, session_id, first, last, attributes in item.sessions:
        entry = merged.get((source, session_id))
        if entry is None:
            merged[(source, session_id)] = [first, last, dict(attributes)]
        else:
            entry[0], entry[1] = min(entry[0], first), max(entry[1], last)
            entry[2].update(attributes)
    keys = sorted(merged)
    values = [merged[k] for k in keys]
    return [[k[0] for k in keys], [k[1] for k in keys], *([v[i] for v in values] for i in range(3))]


_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # PostgreSQL's own epoch
_PG_EPOCH_MICROS = 946_684_800_000_000  # the same, in Unix microseconds
_MICROSECOND = timedelta(microseconds=1)
_UNIX_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def _timestamptz_encode(value: Micros | datetime) -> tuple[int]:
    """Rows carry `Micros`; a datetime (partition bounds) is welcome too."""
    if isinstance(value, datetime):
        return ((value - _PG_EPOCH) // _MICROSECOND,)
    return (value - _PG_EPOCH_MICROS,)


def _timestamptz_decode(value: tuple[int]) -> datetime:
    return _PG_EPOCH + timedelta(microseconds=value[0])


_TS = operator.itemgetter(3)  # an event row's timestamp


def _day(us: Micros) -> date:
    return date.fromordinal(_UNIX_EPOCH_ORDINAL + us // 86_400_000_000)


async def configure_connection(conn: asyncpg.Connection) -> None:
    """The codecs the writer's rows need: jsonb as its binary form (a version byte and orjson's
    text), timestamptz from `Micros` by integer arithmetic (asyncpg's "tuple" format)."""
    await conn.set_type_codec(
        "jsonb", encoder=_jsonb_binary, decoder=_jsonb_unbinary, schema="pg_catalog", format="binary"
    )
    await conn.set_type_codec("json", encoder=orjson.dumps, decoder=orjson.loads, schema="pg_catalog", format="binary")
    await conn.set_type_codec(
        "timestamptz", encoder=_timestamptz_encode, decoder=_timestamptz_decode, schema="pg_catalog", format="tuple"
    )


def _jsonb_binary(value: Any) -> bytes:
    try:  # JSON-born data has string keys; allowing others makes every dump slower
        return b"\x01" + orjson.dumps(value)
    except orjson.JSONEncodeError:
        return b"\x01" + orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def _jsonb_unbinary(data: bytes) -> Any:
    return orjson.loads(data[1:])


@dataclass
class _Pending:
    item: WorkItem
    future: asyncio.Future[None]
    since: float = field(default_factory=time.monotonic)


@dataclass
class _Lane:
    """One connection flushing batches. The writer has one by default: while a flush commits, what
    arrives waits for the next one, so flushes grow with the load, and PostgreSQL's cost per flush
    (the trigger's statements, the commit) is spread over more rows. Three lanes, overlapping their
    commits, split the same work into smaller flushes: 5-15 % more CPU per event for the collector
    and PostgreSQL together, and a lower rate (bench/README.md)."""

    name: str
    conn: asyncpg.Connection | None = None
    partition_days: set[date] = field(default_factory=set)

    @property
    def connected(self) -> bool:
        return self.conn is not None and not self.conn.is_closed()

    def drop(self) -> None:
        if self.conn is not None:
            self.conn.terminate()
            self.conn = None


class Writer:
    def __init__(
        self,
        dsn: str,
        *,
        max_queue_rows: int = 50_000,
        max_flush_rows: int = 20_000,
        retry_window: float = 10.0,
        lanes: int = 1,
    ) -> None:
        self.dsn = dsn
        self.max_queue_rows = max_queue_rows
        self.max_flush_rows = max_flush_rows
        self.retry_window = retry_window
        self._pending: collections.deque[_Pending] = collections.deque()
        self._rows = 0
        self._wake = asyncio.Event()
        self._closing = False
        self._lanes = [_Lane(f"lane-{i}") for i in range(max(1, lanes))]
        self._tasks: list[asyncio.Task[None]] = []
        self.healthy = True

    @property
    def depth(self) -> int:
        """Rows waiting to be written (the `trodden_collector_queue_depth` gauge)."""
        return self._rows

    async def start(self) -> None:
        # Read when scraped instead of set on every request: two locked updates fewer per request.
        QUEUE_DEPTH.set_function(lambda: self._rows)
        for lane in self._lanes:
            try:
                await self._connect(lane)
            except _CONNECTION_ERRORS as exc:
                self.healthy = False
                log.warning("database unreachable at start; retrying in the background", error=str(exc))
                break
        self._tasks = [asyncio.create_task(self._run(lane), name=f"trodden-writer-{lane.name}") for lane in self._lanes]

    def submit(self, item: WorkItem) -> asyncio.Future[None]:
        """Queue an item; the future resolves once it is committed."""
        if self._closing:
            raise DatabaseUnavailable("collector is shutting down")
        if not self.healthy:
            raise DatabaseUnavailable("database unreachable")
        if self._rows + item.size > self.max_queue_rows and self._rows > 0:
            raise QueueFull(f"queue holds {self._rows} rows")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append(_Pending(item, future))
        self._rows += item.size
        self._wake.set()
        return future

    async def write(self, item: WorkItem) -> None:
        """Submit and wait, waiting for room instead of failing when the queue is full (file import)."""
        while True:
            try:
                future = self.submit(item)
                break
            except QueueFull:
                await asyncio.sleep(0.05)
        await future

    async def close(self, drain_seconds: float = 30.0) -> None:
        """Flush what was accepted, then stop."""
        self._closing = True
        self._wake.set()
        if self._tasks:
            _finished, running = await asyncio.wait(self._tasks, timeout=drain_seconds)
            if running:
                log.error("writer did not drain in time", pending_rows=self._rows)
                for task in running:
                    task.cancel()
        for pending in self._pending:
            if not pending.future.done():
                pending.future.set_exception(DatabaseUnavailable("collector stopped before the database came back"))
        self._pending.clear()
        for lane in self._lanes:
            if lane.conn is not None:
                try:
                    await asyncio.wait_for(lane.conn.close(), 5)
                except (OSError, TimeoutError, asyncpg.InterfaceError, asyncpg.PostgresError):
                    lane.conn.terminate()
                lane.conn = None

    # -- the loop ---------------------------------------------------------------------------------
    async def _connect(self, lane: _Lane) -> asyncpg.Connection:
        conn = await asyncpg.connect(self.dsn, timeout=5)
        await configure_connection(conn)
        await conn.execute(_TEMP_TABLES)
        try:
            await partitions.ensure_partitions_around(conn)
        except asyncpg.PostgresError as exc:  # partitions are an optimisation, never a reason to stop
            log.warning("could not create partitions", error=str(exc))
        lane.conn = conn
        lane.partition_days.clear()
        self.healthy = True
        return conn

    async def _run(self, lane: _Lane) -> None:
        backoff = 0.1
        while True:
            if not self.healthy or not lane.connected:
                self._expire(time.monotonic())
                if self._closing and not self._pending:
                    return
                try:
                    await self._connect(lane)
                    log.info("database reachable", lane=lane.name)
                    backoff = 0.1
                except _CONNECTION_ERRORS as exc:
                    self.healthy = False
                    log.debug("reconnect failed", error=str(exc))
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 2.0)
                    continue
            if not self._pending:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = self._take()
            try:
                await self._flush_batch(lane, batch)
            except _CONNECTION_ERRORS as exc:
                log.warning(
                    "database unreachable; holding the batch", error=str(exc), rows=sum(p.item.size for p in batch)
                )
                self.healthy = False
                self._requeue(batch)
                lane.drop()
            except asyncpg.TransactionRollbackError as exc:  # a deadlock with another lane: try again
                log.info("flush rolled back; retrying", error=str(exc))
                self._requeue(batch)
            except Exception as exc:  # a bug must fail its requests, never stop the writer
                if not lane.connected:
                    log.warning("connection lost; holding the batch", error=repr(exc))
                    self.healthy = False
                    self._requeue(batch)
                    lane.drop()
                    continue
                log.exception("writer flush failed")
                for pending in batch:
                    self._done(pending, exc)

    async def _ensure_partitions(self, lane: _Lane, conn: asyncpg.Connection, item: WorkItem) -> None:
        """The daily partitions of the item's days exist (a new day at midnight, or a client's clock),
        and tomorrow's ahead of it. Most flushes hold one day this lane has seen: two comparisons."""
        stamps = list(map(_TS, item.events))
        first, last = _day(min(stamps)), _day(max(stamps))
        if first == last and first in lane.partition_days:
            return
        days = {_day(us) for us in stamps} - lane.partition_days
        if days:
            tomorrow = datetime.now(UTC).date() + timedelta(days=1)
            for day in sorted(days | {tomorrow}):
                if partitions.wanted(day):
                    await partitions.ensure_partition(conn, day)
                lane.partition_days.add(day)

    async def _flush_deduplicating(self, conn: asyncpg.Connection, item: WorkItem) -> None:
        """One transaction through temporary tables with ON CONFLICT DO NOTHING: a retried row adds
        nothing and session counters count only the rows that were new. Spans and logs go this way."""
        async with conn.transaction():
            if item.events:
                await conn.copy_records_to_table("ev_in", records=item.events, columns=EVENT_COLUMNS)
                await conn.execute(_INSERT_EVENTS)
                if item.sessions:
                    await conn.execute(_SESSION_ATTRIBUTES, *_session_attributes_args(item))
            if item.spans:
                await conn.copy_records_to_table("sp_in", records=item.spans, columns=SPAN_COLUMNS)
                await conn.execute(_INSERT_SPANS)
                await conn.execute(_LINK_NEW_SPANS)
            if item.logs:
                await conn.copy_records_to_table("lg_in", records=item.logs, columns=LOG_COLUMNS)
                await conn.execute(_INSERT_LOGS)
                await conn.execute(_LINK_NEW_LOGS)

    def _take(self) -> list[_Pending]:
        batch: list[_Pending] = []
        rows = 0
        while self._pending and (not batch or rows + self._pending[0].item.size <= self.max_flush_rows):
            pending = self._pending.popleft()
            batch.append(pending)
            rows += pending.item.size
        return batch

    def _requeue(self, batch: list[_Pending]) -> None:
        self._pending.extendleft(reversed(batch))

    def _expire(self, now: float) -> None:
        """Fail items that waited too long for the database: their clients retry (not acknowledged)."""
        keep: collections.deque[_Pending] = collections.deque()
        for pending in self._pending:
            if now - pending.since > self.retry_window or self._closing:
                self._done(pending, DatabaseUnavailable("database unreachable"))
            else:
                keep.append(pending)
        self._pending = keep

    def _done(self, pending: _Pending, error: BaseException | None) -> None:
        self._rows -= pending.item.size
        if pending.future.done():
            return
        if error is None:
            pending.future.set_result(None)
        else:
            pending.future.set_exception(error)

    async def _flush_batch(self, lane: _Lane, batch: list[_Pending]) -> None:
        merged = WorkItem()
        for pending in batch:
            merged.extend(pending.item)
        try:
            await self._flush(lane, merged)
        except Exception as exc:  # whatever it is (PostgreSQL's refusal, a row the codecs cannot encode)
            if isinstance(exc, (*_CONNECTION_ERRORS, asyncpg.TransactionRollbackError)) or not lane.connected:
                raise
            if len(batch) == 1:
                log.warning("item refused", error=repr(exc)[:300])
                reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
                self._done(batch[0], BadData(reason))
                return
            # One item holds data PostgreSQL refuses: write the others one by one.
            for pending in batch:
                await self._flush_batch(lane, [pending])
            return
        for pending in batch:
            self._done(pending, None)

    async def _flush(self, lane: _Lane, item: WorkItem) -> None:
        conn = lane.conn
        if conn is None:
            raise ConnectionError("no connection")
        if item.events:
            await self._ensure_partitions(lane, conn, item)
        started = time.perf_counter()
        if item.events and not item.spans and not item.logs:
            # The common case: new events only, COPied straight into `events` (its trigger keeps the
            # sessions and trace links). Without session attributes that is one statement in autocommit.
            try:
                if item.sessions:
                    async with conn.transaction():
                        await conn.copy_records_to_table("events", records=item.events, columns=EVENT_COLUMNS)
                        await conn.execute(_SESSION_ATTRIBUTES, *_session_attributes_args(item))
                else:
                    await conn.copy_records_to_table("events", records=item.events, columns=EVENT_COLUMNS)
            except asyncpg.UniqueViolationError:  # a retried batch: rolled back, nothing of it stored
                await self._flush_deduplicating(conn, item)
        else:
            await self._flush_deduplicating(conn, item)
        FLUSH_SECONDS.observe(time.perf_counter() - started)
        FLUSHED_ROWS.inc(len(item.events) + len(item.spans) + len(item.logs))
