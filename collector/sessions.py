"""Reading stored sessions back as `trodden.models.events.Session` (for synthesis, demo, tests)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from trodden.models.events import EVENT_ADAPTER, Session
from trodden.store import Store


def event_from_row(row: Any) -> Any:
    """An `events` row as the pydantic event it was captured as."""
    doc = dict(row["data"])
    doc.update(session_id=row["session_id"], seq=row["seq"], ts=row["ts"].timestamp() * 1000.0, kind=row["kind"])
    if row["url"] is not None:
        doc["url"] = row["url"]
    return EVENT_ADAPTER.validate_python(doc)


async def load_sessions(
    store: Store,
    source: str,
    since: datetime | None = None,
    *,
    until: datetime | None = None,
    session_ids: list[str] | None = None,
    limit: int | None = None,
) -> list[Session]:
    """Sessions of `source` active after `since` (by last event), with their events in seq order."""
    async with store.pool.acquire() as conn:
        heads = await conn.fetch(
            "SELECT session_id, user_id, attributes FROM sessions WHERE source = $1"
            " AND ($2::timestamptz IS NULL OR last_ts >= $2) AND ($3::timestamptz IS NULL OR first_ts < $3)"
            " AND ($4::text[] IS NULL OR session_id = ANY($4)) ORDER BY first_ts, session_id LIMIT $5",
            source,
            since,
            until,
            session_ids,
            limit,
        )
        ids = [h["session_id"] for h in heads]
        rows = await conn.fetch(
            "SELECT session_id, seq, ts, kind, url, data FROM events WHERE source = $1 AND session_id = ANY($2)"
            " ORDER BY session_id, seq, ts",
            source,
            ids,
        )
    events: dict[str, list[Any]] = {sid: [] for sid in ids}
    for row in rows:
        events[row["session_id"]].append(event_from_row(row))
    return [
        Session(
            source=source,
            session_id=h["session_id"],
            user_id=h["user_id"],
            attributes=h["attributes"] or {},
            events=events[h["session_id"]],
        )
        for h in heads
    ]


async def load_spans(store: Store, source: str, session_id: str) -> list[dict[str, Any]]:
    """Backend spans linked to a session (by `session.id` or the tag's traceparent), by start time."""
    rows = await store.pool.fetch(
        "SELECT trace_id, span_id, parent_span_id, name, service, start_ts, duration_ms, http_method, http_route,"
        " http_status, status_code, attributes FROM spans WHERE source = $1 AND session_id = $2 ORDER BY start_ts",
        source,
        session_id,
    )
    return [dict(r) for r in rows]
