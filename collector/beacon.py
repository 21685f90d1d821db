"""Beacon batches (what rum.js posts, one line of a JSON Lines file) → validated, sanitised rows.

Each event is validated on its own, so one bad event is refused with a reason and the rest of the
batch is kept. Validation happens on what the client sent (the reason names the client's field);
sanitisation happens on what passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from trodden.collector.rows import EventRow, Rejection, WorkItem, ms_to_datetime
from trodden.collector.sanitize import Sanitizer

from trodden.models.events import EVENT_ADAPTER, BeaconBatch

_COLUMN_FIELDS = frozenset(("session_id", "seq", "ts", "kind", "url"))


class BodyError(ValueError):
    """The body as a whole is unusable (HTTP 400, CLI exit 2)."""


def error_reason(exc: ValidationError) -> str:
    """One line naming the first wrong field: `events.3.seq: Input should be greater than or equal to 0`."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = ".".join(str(p) for p in first["loc"])
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{loc}: {first['msg']}{more}" if loc else f"{first['msg']}{more}"


@dataclass
class DecodedBeacons:
    item: WorkItem
    rejected: list[Rejection]
    accepted: int


def parse_batches(doc: Any) -> list[Any]:
    """A batch or a JSON array of batches."""
    if isinstance(doc, dict):
        return [doc]
    if isinstance(doc, list) and doc:
        return doc
    raise BodyError("expected a beacon batch object or a non-empty array of them")


def decode_batches(docs: list[Any], source: str, sanitizer: Sanitizer) -> DecodedBeacons:
    item = WorkItem()
    rejected: list[Rejection] = []
    accepted = 0
    single = len(docs) == 1
    for b, doc in enumerate(docs):
        try:
            batch = BeaconBatch.model_validate(doc)
        except ValidationError as exc:
            if single:
                raise BodyError(f"invalid beacon batch: {error_reason(exc)}") from exc
            count = len(doc.get("events", [])) if isinstance(doc, dict) and isinstance(doc.get("events"), list) else 0
            rejected.append(
                Rejection(index=-1, seq=None, reason=f"invalid batch: {error_reason(exc)} ({count} events)", batch=b)
            )
            continue
        accepted += decode_batch(batch, source, sanitizer=sanitizer, item=item, rejected=rejected, batch_index=b)
    return DecodedBeacons(item, rejected, accepted)


def decode_batch(
    batch: BeaconBatch,
    source: str,
    *,
    sanitizer: Sanitizer,
    item: WorkItem,
    rejected: list[Rejection],
    batch_index: int = 0,
) -> int:
    """Validate and sanitise one batch's events into `item`; returns how many were accepted."""
    events = item.events
    before = len(events)
    sessions_seen: set[str] = set()
    for i, raw in enumerate(batch.events):
        raw.setdefault("session_id", batch.session_id)
        try:
            event = EVENT_ADAPTER.validate_python(raw)
        except ValidationError as exc:
            seq = raw.get("seq")
            rejected.append(
                Rejection(
                    i,
                    seq if isinstance(seq, int) and not isinstance(seq, bool) else None,
                    error_reason(exc),
                    batch_index,
                )
            )
            continue
        clean = sanitizer.event(raw)
        data = {k: v for k, v in clean.items() if k not in _COLUMN_FIELDS}
        trace_id = data.get("trace_id") if event.kind in ("request", "log") else None
        row: EventRow = (
            source,
            event.session_id,
            event.seq,
            ms_to_datetime(event.ts),
            event.kind,
            clean.get("url"),
            trace_id,
            data,
        )
        events.append(row)
        sessions_seen.add(event.session_id)
    if batch.user_id is not None or batch.attributes:
        user_id = sanitizer.user_id(batch.user_id)
        attributes = sanitizer.json(batch.attributes, ()) if batch.attributes else {}
        for sid in sessions_seen:
            item.sessions.append((source, sid, user_id, attributes))
    return len(events) - before
