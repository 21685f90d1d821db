"""All of synthesis' reading and writing of the store, in one place.

Sessions are read with server-side cursors (ordered by session and seq) so a large source streams
through in constant memory; selections go to `selections` / `selection_items`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from trodden.log import get_logger
from trodden.models.events import EVENT_ADAPTER, Session
from trodden.models.suite import HttpStep, Suite, SuiteCoverage
from trodden.store import Store
from trodden.store.suites import SuiteNotFound, load_suite
from trodden.synthesis.selection import Selection
from trodden.synthesis.steps import RawStep, SessionSteps, status_class

log = get_logger(__name__)

_FETCH = 5000
_LIGHT_DATA = "e.data - 'request_body' - 'response_body' - 'request_headers' - 'response_headers'"


def _filters(source: str, since: datetime | None, session_ids: Sequence[str] | None) -> tuple[str, list[Any]]:
    where = ["e.source = $1"]
    args: list[Any] = [source]
    if since is not None:
        args.append(since)
        where.append(
            f"e.session_id IN (SELECT DISTINCT session_id FROM events WHERE source = $1 AND ts >= ${len(args)})"
        )
    if session_ids is not None:
        args.append(list(session_ids))
        where.append(f"e.session_id = ANY(${len(args)}::text[])")
    return " AND ".join(where), args


async def iter_session_steps(
    store: Store, source: str, since: datetime | None = None
) -> AsyncIterator[tuple[str, list[RawStep]]]:
    """(session_id, raw steps) of every session of `source` (touched since `since`), bodies not read."""
    where, args = _filters(source, since, None)
    sql = (
        f"SELECT e.session_id, e.kind, e.url, {_LIGHT_DATA} AS data FROM events e WHERE {where}"
        " AND e.kind NOT IN ('span', 'log', 'vital') ORDER BY e.session_id, e.seq"
    )
    current: str | None = None
    steps = SessionSteps()
    async with store.pool.acquire() as conn, conn.transaction():
        async for row in conn.cursor(sql, *args, prefetch=_FETCH):
            sid = row["session_id"]
            if sid != current:
                if current is not None:
                    yield current, steps.finish()
                current, steps = sid, SessionSteps()
            steps.add(row["kind"], row["url"], row["data"])
    if current is not None:
        yield current, steps.finish()


def _event_doc(row: Any) -> dict[str, Any]:
    doc = dict(row["data"])
    doc.update(session_id=row["session_id"], seq=row["seq"], ts=row["ts"].timestamp() * 1000.0, kind=row["kind"])
    if row["url"] is not None:
        doc["url"] = row["url"]
    if row["trace_id"] is not None and row["kind"] in ("request", "span", "log"):
        doc["trace_id"] = row["trace_id"]
    return doc


async def iter_sessions(
    store: Store,
    source: str,
    *,
    since: datetime | None = None,
    session_ids: Sequence[str] | None = None,
    kinds: Sequence[str] = (
        "request",
        "page_view",
        "navigation",
        "click",
        "input",
        "change",
        "submit",
        "key",
        "scroll",
        "custom",
        "error",
    ),
) -> AsyncIterator[Session]:
    """Full sessions (events validated into the event model); events that fail validation are skipped."""
    where, args = _filters(source, since, session_ids)
    args.append(list(kinds))
    sql = (
        "SELECT e.session_id, e.seq, e.ts, e.kind, e.url, e.trace_id, e.data, s.user_id, s.attributes"
        " FROM events e LEFT JOIN sessions s ON s.source = e.source AND s.session_id = e.session_id"
        f" WHERE {where} AND e.kind = ANY(${len(args)}::text[]) ORDER BY e.session_id, e.seq"
    )
    current: Session | None = None
    skipped = 0
    async with store.pool.acquire() as conn, conn.transaction():
        async for row in conn.cursor(sql, *args, prefetch=_FETCH):
            if current is None or row["session_id"] != current.session_id:
                if current is not None:
                    yield current
                current = Session(
                    source=source,
                    session_id=row["session_id"],
                    user_id=row["user_id"],
                    attributes=row["attributes"] or {},
                )
            try:
                current.events.append(EVENT_ADAPTER.validate_python(_event_doc(row)))
            except ValidationError:
                skipped += 1
    if current is not None:
        yield current
    if skipped:
        log.warning("events skipped: not valid under the event model", source=source, skipped=skipped)


async def save_selection(
    store: Store, source: str, selection: Selection, params: dict[str, Any], name: str | None = None
) -> int:
    async with store.pool.acquire() as conn, conn.transaction():
        sel_id: int = await conn.fetchval(
            "INSERT INTO selections (source, name, params, stats) VALUES ($1, $2, $3, $4) RETURNING id",
            source,
            name,
            params,
            selection.stats.model_dump(exclude_none=True),
        )
        await conn.executemany(
            "INSERT INTO selection_items (selection_id, rank, session_id, signature, reasons)"
            " VALUES ($1, $2, $3, $4, $5)",
            [(sel_id, rank, s.session_id, s.signature, s.reasons) for rank, s in enumerate(selection.sessions, 1)],
        )
    return sel_id


class SelectionNotFound(LookupError):
    pass


async def load_selection(
    store: Store, source: str, selection_id: int | None = None
) -> tuple[int, list[tuple[str, str, list[str]]]]:
    """(id, [(session_id, signature, reasons)]) of a selection, or of the source's latest one."""
    if selection_id is None:
        selection_id = await store.pool.fetchval(
            "SELECT id FROM selections WHERE source = $1 ORDER BY id DESC LIMIT 1", source
        )
        if selection_id is None:
            raise SelectionNotFound(f"source {source!r} has no selection yet (run `trodden select --source {source}`)")
    else:
        found = await store.pool.fetchval("SELECT source FROM selections WHERE id = $1", selection_id)
        if found is None:
            raise SelectionNotFound(f"selection {selection_id} not found")
        if found != source:
            raise SelectionNotFound(f"selection {selection_id} belongs to source {found!r}, not {source!r}")
    rows = await store.pool.fetch(
        "SELECT session_id, signature, reasons FROM selection_items WHERE selection_id = $1 ORDER BY rank",
        selection_id,
    )
    return int(selection_id), [(r["session_id"], r["signature"], list(r["reasons"])) for r in rows]


async def latest_suite(store: Store, name: str) -> Suite | None:
    try:
        return await load_suite(store, name)
    except SuiteNotFound:
        return None


def suite_coverage(suite: Suite) -> SuiteCoverage:
    """What a suite covers, for the novel strategy: recorded at generation in `stats.coverage`,
    else derived from its HTTP steps."""
    if suite.stats.coverage is not None:
        return suite.stats.coverage
    steps: set[str] = set()
    transitions: set[tuple[str, str]] = set()
    route_statuses: set[tuple[str, int]] = set()
    for test in suite.tests:
        prev: str | None = None
        for step in test.steps:
            if not isinstance(step, HttpStep):
                continue
            status = step.expect.status or 0
            text = f"{step.endpoint} {status_class(status)}"
            steps.add(text)
            route_statuses.add((step.endpoint, status))
            if prev is not None and prev != text:
                transitions.add((prev, text))
            prev = text
    return SuiteCoverage(steps=sorted(steps), transitions=sorted(transitions), route_statuses=sorted(route_statuses))
