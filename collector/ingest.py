"""`trodden ingest`: HAR, OTLP JSON and JSON Lines of beacons, recognised by content.

Files go through the same decoders, sanitiser and writer as live traffic, so an imported session
is stored exactly like a captured one (and importing a file twice adds nothing).
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from trodden.collector.beacon import BodyError, decode_batches
from trodden.collector.freetext import FreeTextStore
from trodden.collector.har import har_batches, is_har
from trodden.collector.keys import pseudonym_key
from trodden.collector.otlp import decode_logs, decode_traces, parse_request
from trodden.collector.rows import WorkItem
from trodden.collector.sanitize import Sanitizer
from trodden.collector.writer import BadData, Writer
from trodden.log import get_logger
from trodden.store import Store

log = get_logger(__name__)
CHUNK_ROWS = 5000


class UnrecognisedFile(ValueError):
    """Not a format `ingest` knows, or unreadable: the one-line reason is the message."""


@dataclass
class FileReport:
    path: str
    format: str = "unknown"
    sessions: int = 0
    events: int = 0
    spans: int = 0
    logs: int = 0
    refused: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Decoded:
    format: str
    items: list[WorkItem]
    sessions: set[str]
    refused: list[dict[str, Any]]


def _otlp_item(doc: dict[str, Any], source: str, sanitizer: Sanitizer) -> WorkItem:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    item = WorkItem()
    raw = orjson.dumps(doc)
    if "resourceSpans" in doc or "resource_spans" in doc:
        spans_doc = {k: v for k, v in doc.items() if k in ("resourceSpans", "resource_spans")}
        item.extend(
            decode_traces(
                parse_request(orjson.dumps(spans_doc), "application/json", ExportTraceServiceRequest()),
                source,
                sanitizer,
            )
        )
    if "resourceLogs" in doc or "resource_logs" in doc:
        logs_doc = {k: v for k, v in doc.items() if k in ("resourceLogs", "resource_logs")}
        item.extend(
            decode_logs(
                parse_request(orjson.dumps(logs_doc), "application/json", ExportLogsServiceRequest()), source, sanitizer
            )
        )
    del raw
    return item


def _is_otlp(doc: Any) -> bool:
    return isinstance(doc, dict) and any(
        k in doc for k in ("resourceSpans", "resourceLogs", "resource_spans", "resource_logs")
    )


def _is_batch(doc: Any) -> bool:
    return isinstance(doc, dict) and "events" in doc and "session_id" in doc


def decode_file(data: bytes, source: str, sanitizer: Sanitizer) -> Decoded:
    """Recognise and decode a file's content; raises UnrecognisedFile."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise UnrecognisedFile(f"bad gzip: {exc}") from exc
    data = data.replace(b"\\u0000", b"\\ufffd")
    try:
        docs: list[Any] = [orjson.loads(data)]
        whole = True
    except orjson.JSONDecodeError:
        whole = False
        docs = []
        for n, line in enumerate(data.splitlines(), 1):
            if not line.strip():
                continue
            try:
                docs.append(orjson.loads(line))
            except orjson.JSONDecodeError as exc:
                raise UnrecognisedFile(f"neither JSON nor JSON Lines (line {n}: {exc})") from exc
        if not docs:
            raise UnrecognisedFile("empty file") from None
    if whole and isinstance(docs[0], list) and docs[0] and all(_is_batch(d) for d in docs[0]):
        docs = docs[0]
    first = docs[0]
    digest = hashlib.sha256(data).hexdigest()
    if whole and is_har(first):
        try:
            batches = har_batches(first, digest)
        except (TypeError, AttributeError, ValueError, KeyError) as exc:
            raise UnrecognisedFile(f"malformed HAR: {type(exc).__name__}: {exc}") from exc
        return _beacons("har", batches, source, sanitizer)
    if all(_is_otlp(d) for d in docs):
        items = [_otlp_item(d, source, sanitizer) for d in docs]
        sessions = {r[4] for i in items for r in i.spans if r[4]} | {r[4] for i in items for r in i.logs if r[4]}
        return Decoded("otlp-json", items, sessions, [])
    if all(_is_batch(d) for d in docs):
        return _beacons("beacons" if whole else "jsonl", docs, source, sanitizer)
    raise UnrecognisedFile("not HAR, OTLP JSON (resourceSpans/resourceLogs) or beacon batches (JSON Lines)")


def _beacons(fmt: str, batches: list[Any], source: str, sanitizer: Sanitizer) -> Decoded:
    items: list[WorkItem] = []
    refused: list[dict[str, Any]] = []
    sessions: set[str] = set()
    for start in range(0, len(batches), 50):
        try:
            decoded = decode_batches(batches[start : start + 50], source, sanitizer)
        except BodyError as exc:  # a single invalid batch in this slice
            refused.append({"batch": start, "index": -1, "seq": None, "reason": str(exc)})
            continue
        for r in decoded.rejected:
            r.batch += start
            refused.append(r.as_json())
        sessions.update(row[1] for row in decoded.item.events)
        items.append(decoded.item)
    return Decoded(fmt, items, sessions, refused)


async def ingest_bytes(writer: Writer, path: str, data: bytes, source: str, sanitizer: Sanitizer) -> FileReport:
    report = FileReport(path=path)
    try:
        decoded = await asyncio.to_thread(decode_file, data, source, sanitizer)
    except (UnrecognisedFile, BodyError) as exc:
        report.error = str(exc)
        return report
    except RecursionError:
        report.error = "nested too deeply to read"
        return report
    except Exception as exc:  # whatever a hostile file does, the other files are still imported
        log.warning("file could not be decoded", path=path, error=repr(exc))
        report.error = f"cannot decode: {type(exc).__name__}: {str(exc)[:200]}"
        return report
    report.format = decoded.format
    report.sessions = len(decoded.sessions)
    report.refused = decoded.refused
    for item in decoded.items:
        report.events += len(item.events)
        report.spans += len(item.spans)
        report.logs += len(item.logs)
        for chunk in _chunks(item):
            try:
                await writer.write(chunk)
            except BadData as exc:
                report.error = f"refused by the database: {exc}"
                return report
    return report


def _chunks(item: WorkItem) -> list[WorkItem]:
    if item.size <= CHUNK_ROWS:
        return [item]
    out = []
    for i in range(0, max(len(item.events), len(item.spans), len(item.logs)), CHUNK_ROWS):
        chunk = WorkItem(
            item.events[i : i + CHUNK_ROWS], [], item.spans[i : i + CHUNK_ROWS], item.logs[i : i + CHUNK_ROWS]
        )
        out.append(chunk)
    out[-1].sessions = item.sessions  # session metadata after all their events exist
    return out


async def ingest_files(
    store: Store, source: str, paths: list[str | Path], *, sanitizer: Sanitizer | None = None
) -> list[FileReport]:
    """Ingest files into `source`; one report per file (unreadable ones carry `error`)."""
    if sanitizer is None:
        sanitizer = Sanitizer(await pseudonym_key(store, source))
    # Free-text counts come from, and go back to, the database the collectors share.
    counts = FreeTextStore(store.dsn, source, sanitizer.free_text) if sanitizer.free_text is not None else None
    if counts is not None:
        async with store.pool.acquire() as conn:
            await counts.load(conn)
    writer = Writer(store.dsn, max_queue_rows=4 * CHUNK_ROWS)
    await writer.start()
    reports = []
    try:
        for path in paths:
            try:
                data = await asyncio.to_thread(Path(path).read_bytes)
            except OSError as exc:
                reports.append(FileReport(path=str(path), error=f"cannot read: {exc.strerror}"))
                continue
            reports.append(await ingest_bytes(writer, str(path), data, source, sanitizer))
            if counts is not None:
                async with store.pool.acquire() as conn:
                    await counts.sync(conn)
    finally:
        await writer.close()
    return reports
