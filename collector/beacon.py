"""Beacon batches (what rum.js posts, one line of a JSON Lines file) → validated, sanitised rows.

Each event is validated on its own, so one bad event is refused with a reason and the rest of the
batch is kept. Validation happens on what the client sent (the reason names the client's field);
sanitisation happens on what passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from trodden.collector.rows import EventRow, Rejection, WorkItem, ms_to_micros, session_spans
from trodden.collector.sanitize import SanitizeError, Sanitizer
from trodden.collector.validation import EVENT_DICT, EVENT_DICTS
from trodden.models.events import BeaconBatch

MAX_EVENTS = 5000  # BeaconBatch.events' max_length
# Stored as columns of `events`, not inside its `data`.
COLUMN_FIELDS = frozenset(("session_id", "seq", "ts", "kind", "url"))
_TRACED_KINDS = ("request", "log")


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


def _envelope(doc: Any) -> tuple[BeaconBatch, list[dict[str, Any]]]:
    """The batch's own fields validated, and its events as sent (validated one list at a time later);
    validating the events as `dict[str, Any]` inside the model would copy every one of them."""
    raws = doc.get("events") if isinstance(doc, dict) else None
    if isinstance(raws, list) and len(raws) <= MAX_EVENTS and all(e.__class__ is dict for e in raws):
        return BeaconBatch.model_validate({**doc, "events": []}), raws
    batch = BeaconBatch.model_validate(doc)  # raises with the reason
    return batch, batch.events


def decode_batches(docs: list[Any], source: str, sanitizer: Sanitizer) -> DecodedBeacons:
    item = WorkItem()
    rejected: list[Rejection] = []
    accepted = 0
    single = len(docs) == 1
    for b, doc in enumerate(docs):
        try:
            batch, raws = _envelope(doc)
        except ValidationError as exc:
            if single:
                raise BodyError(f"invalid beacon batch: {error_reason(exc)}") from exc
            count = len(doc.get("events", [])) if isinstance(doc, dict) and isinstance(doc.get("events"), list) else 0
            rejected.append(
                Rejection(index=-1, seq=None, reason=f"invalid batch: {error_reason(exc)} ({count} events)", batch=b)
            )
            continue
        accepted += decode_batch(batch, raws, source, sanitizer=sanitizer, item=item, rejected=rejected, batch_index=b)
    return DecodedBeacons(item, rejected, accepted)


def _validated(
    raws: list[dict[str, Any]], rejected: list[Rejection], batch_index: int
) -> tuple[list[dict[str, Any]], list[int] | None]:
    """The valid events as checked, typed dicts, and their indexes in `raws` (None: all of them);
    the others go to `rejected` with the first reason.

    One validation call for the whole list is about three times cheaper than one per event; only a
    batch with errors pays for sorting them out.
    """
    try:
        valid: list[dict[str, Any]] = EVENT_DICTS.validate_python(raws)
        return valid, None
    except ValidationError as exc:
        errors: dict[int, list[Any]] = {}
        for err in exc.errors(include_url=False):
            loc = err["loc"]
            if loc and isinstance(loc[0], int):
                errors.setdefault(loc[0], []).append(err)
    valid = []
    indexes = []
    for i, raw in enumerate(raws):
        if i in errors:
            first = errors[i][0]
            where = ".".join(str(p) for p in first["loc"][1:])
            more = f" (+{len(errors[i]) - 1} more)" if len(errors[i]) > 1 else ""
            seq = raw.get("seq")
            seq_value = seq if isinstance(seq, int) and not isinstance(seq, bool) else None
            rejected.append(Rejection(i, seq_value, f"{where}: {first['msg']}{more}", batch_index))
        else:
            valid.append(EVENT_DICT.validate_python(raw))
            indexes.append(i)
    return valid, indexes


def decode_batch(
    batch: BeaconBatch,
    raws: list[dict[str, Any]],
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
    for raw in raws:
        raw.setdefault("session_id", batch.session_id)
    sanitize, url, url_parts, identifier = sanitizer.event, sanitizer.url, sanitizer.url_parts, sanitizer.identifier
    user_id = sanitizer.user_id(batch.user_id)
    valid, indexes = _validated(raws, rejected, batch_index)
    tokens = sanitizer.begin(batch.session_id, batch.user_id)
    last_sid: str | None = None
    last_clean = ""
    try:
        for n, event in enumerate(valid):
            kind, page = event["kind"], event.get("url")
            try:
                raw_sid = event["session_id"]
                if raw_sid is not last_sid:  # a batch's events share the batch's session id
                    last_sid, last_clean = raw_sid, identifier(raw_sid)
                session_id = last_clean
                data = sanitize(event, COLUMN_FIELDS)
                page_url = None
                if page is not None:
                    page_url, secrets, typed = url_parts(page)
                    if secrets or typed:
                        page_url = url(page)  # secrets by position: followed through the session
            except (SanitizeError, RecursionError) as exc:  # refused alone; the batch goes on
                seq = event.get("seq")
                reason = str(exc) if isinstance(exc, SanitizeError) else "nested too deeply"
                rejected.append(Rejection(n if indexes is None else indexes[n], seq, reason, batch_index))
                continue
            row: EventRow = (
                source,
                session_id,
                event["seq"],
                ms_to_micros(event["ts"]),
                kind,
                page_url,
                data.get("trace_id") if kind in _TRACED_KINDS else None,
                data,
                user_id,
            )
            events.append(row)
        attributes = None
        if batch.attributes and len(events) > before:
            try:
                attributes = sanitizer.json(batch.attributes, (), 0, True)
            except (SanitizeError, RecursionError) as exc:
                rejected.append(Rejection(-1, None, f"attributes: {exc}", batch_index))
    finally:
        session_taint = sanitizer.end(tokens)
    if session_taint is not None:  # secrets seen in this session, wherever else they recur
        apply, walk = session_taint.apply, session_taint.walk
        for i in range(before, len(events)):
            r = events[i]
            events[i] = (r[0], r[1], r[2], r[3], r[4], None if r[5] is None else apply(r[5]), r[6], walk(r[7]), r[8])
        if attributes is not None:
            attributes = walk(attributes)
    if attributes is not None:
        item.sessions.extend((*span, attributes) for span in session_spans(events[before:]))
    return len(events) - before
