"""Retention per source (`RumSource.spec.retentionDays`, `trodden collect --retention-days`).

A session is kept while its last event is younger than the retention, and deleted whole once it is
older (its row and its events: synthesis never sees a session cut short). Spans and logs of the
source older than the retention go by their own timestamps. Day partitions of `events` are shared
by every source in the database, so a partition is dropped only once it is past the cutoff and
empty (every source's retention has emptied it); that keeps the catalogue small. Deletion runs in
chunks of sessions, each its own transaction, so no lock is held for long; concurrent collectors
of the same source skip a run while another holds the source's advisory lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from trodden.collector import partitions
from trodden.log import get_logger

log = get_logger(__name__)

_RETENTION_LOCK = 0x7472_7274
CHUNK_SESSIONS = 5_000

_DELETE_SESSIONS = """
DELETE FROM sessions WHERE (source, session_id) IN (
    SELECT source, session_id FROM sessions WHERE source = $1 AND last_ts < $2 LIMIT $3
) RETURNING session_id
"""
# All of such a session's events are older than the cutoff (its last one is), which lets
# PostgreSQL leave the younger partitions out.
_DELETE_EVENTS = """
DELETE FROM events WHERE source = $1 AND ts < $2 AND session_id = ANY($3::text[])
"""
_DELETE_SPANS = "DELETE FROM spans WHERE source = $1 AND start_ts < $2"
_DELETE_LOGS = "DELETE FROM logs WHERE source = $1 AND ts < $2"


@dataclass
class RetentionReport:
    cutoff: datetime
    sessions: int = 0
    events: int = 0
    spans: int = 0
    logs: int = 0
    partitions_dropped: tuple[str, ...] = ()
    skipped: bool = False  # another process was applying this source's retention


async def apply_retention(
    conn: asyncpg.Connection, source: str, days: int, *, now: datetime | None = None
) -> RetentionReport:
    """Delete what of `source` is older than `days` days; see the module docstring."""
    if days < 1:
        raise ValueError("retention must be at least one day")
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    report = RetentionReport(cutoff)
    # Per schema and source: one tenant's collectors never hold up another's.
    if not await conn.fetchval(
        "SELECT pg_try_advisory_lock($1, hashtext(current_schema() || '/' || $2))", _RETENTION_LOCK, source
    ):
        report.skipped = True
        return report
    try:
        while True:
            async with conn.transaction():
                gone = [r["session_id"] for r in await conn.fetch(_DELETE_SESSIONS, source, cutoff, CHUNK_SESSIONS)]
                if gone:
                    report.events += _count(await conn.execute(_DELETE_EVENTS, source, cutoff, gone))
            report.sessions += len(gone)
            if len(gone) < CHUNK_SESSIONS:
                break
        report.spans = _count(await conn.execute(_DELETE_SPANS, source, cutoff))
        report.logs = _count(await conn.execute(_DELETE_LOGS, source, cutoff))
        report.partitions_dropped = tuple(await partitions.drop_empty_partitions_before(conn, cutoff.date()))
    finally:
        await conn.execute(
            "SELECT pg_advisory_unlock($1, hashtext(current_schema() || '/' || $2))", _RETENTION_LOCK, source
        )
    if report.sessions or report.spans or report.logs or report.partitions_dropped:
        log.info(
            "retention applied",
            source=source,
            cutoff=cutoff.isoformat(),
            sessions=report.sessions,
            events=report.events,
            spans=report.spans,
            logs=report.logs,
            partitions_dropped=list(report.partitions_dropped),
        )
    return report


def _count(status: str) -> int:
    """The row count of a command tag such as `DELETE 42`."""
    return int(status.rsplit(" ", 1)[-1])
