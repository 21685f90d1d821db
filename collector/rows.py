"""What the collector writes: rows for `events`, `spans` and `logs`, and the per-request work item.

Plain tuples in the column order of the tables, because asyncpg's COPY takes tuples and the hot
path should not build objects twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# events: (source, session_id, seq, ts, kind, url, trace_id, data)
EVENT_COLUMNS = ("source", "session_id", "seq", "ts", "kind", "url", "trace_id", "data")
EventRow = tuple[str, str, int, datetime, str, str | None, str | None, dict[str, Any]]
# sessions metadata: (source, session_id, user_id, attributes)
SESSION_COLUMNS = ("source", "session_id", "user_id", "attributes")
SessionMetaRow = tuple[str, str, str | None, dict[str, Any]]
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
    datetime,
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
LogRow = tuple[str, datetime, str | None, str | None, str | None, str | None, str | None, Any, dict[str, Any], str]


def ms_to_datetime(ms: float) -> datetime:
    return datetime.fromtimestamp(ms / 1000.0, tz=UTC)


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
