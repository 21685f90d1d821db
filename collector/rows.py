"""What the collector writes: rows for `events`, `spans` and `logs`, and the per-request work item.

Plain tuples in the column order of the tables, because asyncpg's COPY takes tuples and the hot
path should not build objects twice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

# events: (source, session_id, seq, ts, kind, url, trace_id, data, user_id); user_id is the one the
# batch carried (rum.js: the user identified when it was sent), so a session's user is known from
# its events alone.
EVENT_COLUMNS = ("source", "session_id", "seq", "ts", "kind", "url", "trace_id", "data", "user_id")
# Timestamps in rows are `Micros`: microseconds since the Unix epoch, what the writer's connections
# encode for PostgreSQL with integer arithmetic (`writer.configure_connection`) instead of building a
# datetime per row that asyncpg takes apart again.
Micros = int
EventRow = tuple[str, str, int, Micros, str, str | None, str | None, dict[str, Any], str | None]
# a batch's session attributes: (source, session_id, first ts, last ts, attributes)
SessionMetaRow = tuple[str, str, Micros, Micros, dict[str, Any]]
SPAN_COLUMNS = (
    "source",
    "trace_id",
    "span_id",
    "parent_span_id",
    "session_id",
    "name",
    "service",
    "start_ts",
    "duration_ms",
    "http_method",
    "http_route",
    "http_status",
    "status_code",
    "attributes",
)
SpanRow = tuple[
    str,
    str,
    str,
    str | None,
    str | None,
    str,
    str | None,
    Micros,
    float,
    str | None,
    str | None,
    int | None,
    str,
    dict[str, Any],
]
LOG_COLUMNS = (
    "source",
    "ts",
    "trace_id",
    "span_id",
    "session_id",
    "severity",
    "service",
    "body",
    "attributes",
    "fingerprint",
)
LogRow = tuple[str, Micros, str | None, str | None, str | None, str | None, str | None, Any, dict[str, Any], str]


def ms_to_micros(ms: float) -> Micros:
    """Milliseconds since the epoch as whole microseconds, rounded exactly as
    `datetime.fromtimestamp(ms / 1000, UTC)` rounds them (CPython: the fraction of the seconds times
    10⁶, half to even), which is what earlier versions stored. The timestamp is part of the events'
    idempotency key, so a client's retry spanning an upgrade must map to the same value."""
    fraction, seconds = math.modf(ms / 1000.0)
    return int(seconds) * 1_000_000 + round(fraction * 1e6)


@dataclass
class Rejection:
    index: int
    seq: int | None
    reason: str
    batch: int = 0

    def as_json(self) -> dict[str, Any]:
        return {"batch": self.batch, "index": self.index, "seq": self.seq, "reason": self.reason}


@dataclass
class WorkItem:
    """Everything one request (or one file chunk) asks to store, written in one transaction."""

    events: list[EventRow] = field(default_factory=list)
    sessions: list[SessionMetaRow] = field(default_factory=list)
    spans: list[SpanRow] = field(default_factory=list)
    logs: list[LogRow] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.events) + len(self.spans) + len(self.logs) + 1

    def extend(self, other: WorkItem) -> None:
        self.events.extend(other.events)
        self.sessions.extend(other.sessions)
        self.spans.extend(other.spans)
        self.logs.extend(other.logs)


def session_spans(events: list[EventRow]) -> list[tuple[str, str, Micros, Micros]]:
    """(source, session_id, first ts, last ts) of each session in `events`."""
    span: dict[tuple[str, str], list[Micros]] = {}
    for row in events:
        ts = row[3]
        entry = span.get((row[0], row[1]))
        if entry is None:
            span[(row[0], row[1])] = [ts, ts]
        elif ts < entry[0]:
            entry[0] = ts
        elif ts > entry[1]:
            entry[1] = ts
    return [(k[0], k[1], v[0], v[1]) for k, v in span.items()]
