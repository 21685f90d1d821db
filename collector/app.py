"""The collector's HTTP server (aiohttp).

`build_app(store, source=..., ingest_key=...)` returns the application; `trodden collect` runs it.
Every ingest endpoint answers only after the data is committed (see `writer`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hmac
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from aiohttp import web

from trodden.collector.beacon import BodyError, DecodedBeacons, decode_batches, parse_batches
from trodden.collector.configfiles import WatchedDocument
from trodden.collector.freetext import FreeTextCounter, FreeTextStore
from trodden.collector.metrics import EVENTS, REQUEST_SECONDS, REQUESTS
from trodden.collector.otlp import decode_logs_body, decode_traces_body
from trodden.collector.retention import apply_retention
from trodden.collector.rows import WorkItem
from trodden.collector.sanitize import Sanitizer
from trodden.collector.writer import BadData, DatabaseUnavailable, QueueFull, Writer
from trodden.log import get_logger
from trodden.metrics import expose_metrics
from trodden.models.instrumentation import InstrumentationConfig
from trodden.models.sanitization import SanitizationConfig
from trodden.store import Store

log = get_logger(__name__)

MAX_BODY_BYTES = 5 * 1024 * 1024
# Bodies larger than this are decoded and sanitised in a worker thread, one at a time, so that
# however much work a hostile body asks for, the event loop keeps answering health checks and the
# small requests of everyone else (a rum.js batch is a few KB; ~1 ms of work per 64 KB).
OFFLOAD_BYTES = 64 * 1024
RETRY_AFTER_FULL = "1"
RETRY_AFTER_DOWN = "2"
_CORS_HEADERS = {
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, Content-Encoding, traceparent",
    "Access-Control-Max-Age": "600",
}


def rum_js() -> bytes:
    return (resources.files("trodden.collector") / "static" / "rum.js").read_bytes()


class CollectorState:
    """What the handlers share: the source, its key, the sanitiser and the watched config files."""

    def __init__(
        self,
        store: Store,
        *,
        source: str,
        ingest_key: str,
        pseudonym_key: bytes,
        instrumentation_file: str | Path | None,
        sanitization_file: str | Path | None,
        allowed_origins: list[str] | None,
    ) -> None:
        self.store = store
        self.source = source
        self.ingest_key = ingest_key.encode()
        self.pseudonym_key = pseudonym_key
        self.instrumentation = WatchedDocument(instrumentation_file, InstrumentationConfig, InstrumentationConfig)
        self.sanitization = WatchedDocument(sanitization_file, SanitizationConfig, SanitizationConfig)
        self.allowed_origins = allowed_origins
        self._sanitizer_for: SanitizationConfig | None = None
        self._sanitizer: Sanitizer | None = None
        self.script = rum_js()
        self.script_gz = gzip.compress(self.script, 9)
        self.heavy = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trodden-decode")
        # One free-text counter across configuration reloads, shared through the database.
        self.free_text = FreeTextCounter(pseudonym_key, self.sanitization.current().free_text_min_users)
        self.free_text_store = FreeTextStore(store.dsn, source, self.free_text)

    async def decode(self, body: bytes, work: Callable[[bytes], Any]) -> Any:
        """`work(body)`, inline for a small body, in the decode thread for a large one."""
        if len(body) <= OFFLOAD_BYTES:
            return work(body)
        return await asyncio.get_running_loop().run_in_executor(self.heavy, work, body)

    def sanitizer(self) -> Sanitizer:
        config = self.sanitization.current()
        if self._sanitizer is None or config is not self._sanitizer_for:
            self._sanitizer = Sanitizer(self.pseudonym_key, config, free_text=self.free_text)
            self._sanitizer_for = config
        return self._sanitizer

    def config_document(self) -> dict[str, Any]:
        """The instrumentation config, with the sanitisation rules' selectors added to the masks."""
        doc = self.instrumentation.current().model_dump(mode="json")
        selectors = [r.match for r in self.sanitization.current().rules if r.kind == "selector"]
        masks = doc["capture"]["mask_selectors"]
        masks.extend(s for s in selectors if s not in masks)
        return doc

    def authorized(self, request: web.Request) -> bool:
        supplied = request.query.get("key")
        if supplied is None:
            auth = request.headers.get("Authorization", "")
            scheme, _, token = auth.partition(" ")
            supplied = token.strip() if scheme.lower() == "bearer" else None
        return supplied is not None and hmac.compare_digest(supplied.encode(), self.ingest_key)

    def cors_origin(self, request: web.Request) -> str | None:
        origin = request.headers.get("Origin")
        if origin is None:
            return None
        if self.allowed_origins is None or origin in self.allowed_origins or "*" in self.allowed_origins:
            return origin
        return None


_BEACONS_ACCEPTED = EVENTS.labels("beacon", "accepted")
_BEACONS_REJECTED = EVENTS.labels("beacon", "rejected")
WRITER_KEY = web.AppKey("writer", Writer)
STATE_KEY = web.AppKey("state", CollectorState)


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(payload), content_type="application/json", headers=headers)


def _error(status: int, reason: str, headers: dict[str, str] | None = None) -> web.Response:
    return _json(status, {"error": reason}, headers)


Handler = Callable[[web.Request], Awaitable[web.Response]]


def _serve(handler: Handler, *, public: bool = False, endpoint: str | None = None) -> Handler:
    """CORS, authentication, the never-a-500 rule and, for an ingest `endpoint`, its request metrics,
    around one route's handler. A wrapper per route rather than an aiohttp middleware: an application
    without middlewares is spared building a handler chain on every request."""
    if endpoint is not None:
        latency = REQUEST_SECONDS.labels(endpoint)  # bound once: a labelled child lookup costs more than counting
    counters: dict[int, Any] = {}

    async def serve(request: web.Request) -> web.Response:
        started = time.perf_counter()
        state = request.app[STATE_KEY]
        if not public and not state.authorized(request):
            response = _error(401, "missing or wrong ingest key (Authorization: Bearer KEY or ?key=KEY)")
        else:
            try:
                response = await handler(request)
            except BodyError as exc:
                response = _error(400, str(exc))
            except web.HTTPRequestEntityTooLarge:
                response = _error(413, f"body larger than {MAX_BODY_BYTES} bytes")
            except web.HTTPException as exc:
                if exc.status >= 500:
                    raise
                response = _error(exc.status, exc.reason)
            except (zlib.error, EOFError, UnicodeError) as exc:
                response = _error(400, f"unreadable body: {exc}")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the server must answer; log what escaped for a fix
                log.exception("unexpected error", path=request.path)
                response = _error(500, f"internal error: {type(exc).__name__}")
        origin = state.cors_origin(request)
        if origin is not None:
            response.headers.update(_cors_headers(origin))
        if endpoint is not None:
            counter = counters.get(response.status)
            if counter is None:
                counter = counters[response.status] = REQUESTS.labels(endpoint, str(response.status))
            counter.inc()
            latency.observe(time.perf_counter() - started)
        return response

    return serve


def _cors_headers(origin: str) -> dict[str, str]:
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin", **_CORS_HEADERS}


async def handle_preflight(_request: web.Request) -> web.Response:
    """CORS preflight: `_serve` adds the allowed origin's headers."""
    return web.Response(status=204)


async def _read_body(request: web.Request) -> bytes:
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise
    except Exception as exc:  # a broken gzip stream or a truncated body: the client's fault, not ours
        raise BodyError(f"unreadable body: {str(exc)[:200]}") from exc
    # aiohttp inflates Content-Encoding: gzip itself; a gzip body sent without the header is accepted too.
    if body[:2] == b"\x1f\x8b":
        try:
            body = _gunzip_capped(body)
        except (OSError, EOFError, zlib.error) as exc:
            raise BodyError(f"bad gzip body: {exc}") from exc
    # PostgreSQL cannot store NUL in text or jsonb; keep the event, lose the character.
    return body.replace(b"\\u0000", b"\\ufffd")


def _gunzip_capped(body: bytes) -> bytes:
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = decompressor.decompress(body, MAX_BODY_BYTES + 1)
    if len(out) > MAX_BODY_BYTES:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY_BYTES, actual_size=len(out))
    if not decompressor.eof:
        raise EOFError("truncated gzip stream")
    return out


async def _commit(writer: Writer, item: WorkItem) -> web.Response | None:
    """Queue and wait for the commit; a response when it could not be done."""
    try:
        future = writer.submit(item)
    except QueueFull:
        return _error(429, "collector busy: queue full, retry later", {"Retry-After": RETRY_AFTER_FULL})
    except DatabaseUnavailable as exc:
        return _error(503, f"storage unavailable: {exc}", {"Retry-After": RETRY_AFTER_DOWN})
    try:
        # Not shielded: were this handler cancelled, the writer still writes the item and only finds
        # nobody waiting for its result.
        await future
    except DatabaseUnavailable as exc:
        return _error(503, f"storage unavailable: {exc}", {"Retry-After": RETRY_AFTER_DOWN})
    except BadData as exc:
        return _error(400, f"refused by the database: {exc}")
    return None


def _rum_decoder(source: str, sanitizer: Sanitizer) -> Callable[[bytes], DecodedBeacons]:
    def decode(body: bytes) -> DecodedBeacons:
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise BodyError(f"body is not JSON: {exc}") from exc
        return decode_batches(parse_batches(doc), source, sanitizer)

    return decode


async def handle_rum(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    body = await _read_body(request)
    decoded: DecodedBeacons = await state.decode(body, _rum_decoder(state.source, state.sanitizer()))
    rejected = [r.as_json() for r in decoded.rejected]
    if decoded.rejected:
        _BEACONS_REJECTED.inc(len(decoded.rejected))
    if decoded.accepted == 0:
        if rejected:
            return _json(400, {"error": "no valid event in the body", "accepted": 0, "rejected": rejected})
        return _json(200, {"accepted": 0, "rejected": []})
    failed = await _commit(request.app[WRITER_KEY], decoded.item)
    if failed is not None:
        return failed
    _BEACONS_ACCEPTED.inc(decoded.accepted)
    return _json(207 if rejected else 200, {"accepted": decoded.accepted, "rejected": rejected})


def _otlp_handler(
    kind: str, decode: Callable[[bytes, str, str, Sanitizer], WorkItem]
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        state = request.app[STATE_KEY]
        content_type = request.content_type or "application/x-protobuf"
        body = await _read_body(request)
        sanitizer = state.sanitizer()
        item: WorkItem = await state.decode(body, lambda b: decode(b, content_type, state.source, sanitizer))
        failed = await _commit(request.app[WRITER_KEY], item)
        if failed is not None:
            return failed
        EVENTS.labels(kind, "accepted").inc(len(item.spans) + len(item.logs))
        # An empty Export*ServiceResponse: zero bytes in protobuf, {} in JSON.
        if "json" in content_type:
            return _json(200, {})
        return web.Response(status=200, body=b"", content_type="application/x-protobuf")

    return handle


async def handle_config(request: web.Request) -> web.Response:
    doc = request.app[STATE_KEY].config_document()
    return _json(200, doc, {"Cache-Control": "max-age=60"})


async def handle_rum_js(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    headers = {"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"}
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return web.Response(body=state.script_gz, content_type="application/javascript", headers=headers)
    return web.Response(body=state.script, content_type="application/javascript", headers=headers)


async def handle_healthz(_request: web.Request) -> web.Response:
    return _json(200, {"status": "ok"})


async def handle_readyz(request: web.Request) -> web.Response:
    """Ready when the writer is connected and the pool answers: no traffic while the DB is down."""
    state = request.app[STATE_KEY]
    writer = request.app[WRITER_KEY]
    if not writer.healthy:
        return _json(503, {"status": "database unreachable", "queue_depth": writer.depth})
    try:
        await asyncio.wait_for(state.store.pool.fetchval("SELECT 1"), 2)
    except Exception as exc:  # any failure to reach the database means "not ready"
        return _json(503, {"status": f"database unreachable: {type(exc).__name__}", "queue_depth": writer.depth})
    return _json(200, {"status": "ready", "queue_depth": writer.depth})


def _retention_task(
    store: Store, source: str, days: int, every: float
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A background task applying the source's retention now and then every `every` seconds; a
    failed run is logged and the next one tries again."""

    async def run_periodically() -> None:
        while True:
            try:
                # A connection of its own: a run can take a while, the pool serves requests.
                conn = await asyncpg.connect(store.dsn, timeout=10)
                try:
                    await apply_retention(conn, source, days)
                finally:
                    await conn.close()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database may be down; retention waits for the next run
                log.warning("retention run failed", source=source, error=str(exc))
            await asyncio.sleep(every)

    async def context(_app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(run_periodically(), name=f"trodden-retention-{source}")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return context


def build_app(
    store: Store,
    *,
    source: str,
    ingest_key: str,
    pseudonym_key: bytes,
    instrumentation_file: str | Path | None = None,
    sanitization_file: str | Path | None = None,
    allowed_origins: list[str] | None = None,
    max_queue_rows: int = 50_000,
    max_body_bytes: int = MAX_BODY_BYTES,
    retry_window: float = 10.0,
    retention_days: int | None = None,
    retention_every: float = 3600.0,
) -> web.Application:
    """The collector application for one source. The writer starts with the app and, on shutdown,
    flushes everything accepted before the app's cleanup completes. With `retention_days`, the
    source's data older than that is deleted every `retention_every` seconds (`retention`)."""
    state = CollectorState(
        store,
        source=source,
        ingest_key=ingest_key,
        pseudonym_key=pseudonym_key,
        instrumentation_file=instrumentation_file,
        sanitization_file=sanitization_file,
        allowed_origins=allowed_origins,
    )
    app = web.Application(client_max_size=max_body_bytes)
    app[STATE_KEY] = state
    writer = Writer(store.dsn, max_queue_rows=max_queue_rows, retry_window=retry_window)
    app[WRITER_KEY] = writer
    free_text_lane: list[asyncio.Task[None]] = []  # free-text counts to and from the database, off the request path

    async def start_writer(_app: web.Application) -> None:
        await writer.start()
        free_text_lane[:] = [asyncio.create_task(state.free_text_store.run(), name=f"trodden-free-text-{source}")]

    async def stop_writer(_app: web.Application) -> None:
        for task in free_text_lane:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await writer.close()
        state.heavy.shutdown(wait=False, cancel_futures=True)
        log.info("collector stopped; accepted data flushed")

    app.on_startup.append(start_writer)
    app.on_cleanup.append(stop_writer)
    if retention_days is not None:
        app.cleanup_ctx.append(_retention_task(store, source, retention_days, retention_every))
    app.router.add_post("/v1/rum", _serve(handle_rum, endpoint="rum"))
    app.router.add_post("/v1/traces", _serve(_otlp_handler("span", decode_traces_body), endpoint="traces"))
    app.router.add_post("/v1/logs", _serve(_otlp_handler("log", decode_logs_body), endpoint="logs"))
    app.router.add_get("/v1/config", _serve(handle_config))
    app.router.add_get("/rum.js", _serve(handle_rum_js, public=True))
    app.router.add_get("/healthz", _serve(handle_healthz, public=True))
    app.router.add_get("/readyz", _serve(handle_readyz, public=True))
    app.router.add_route("OPTIONS", "/{tail:.*}", _serve(handle_preflight, public=True))
    expose_metrics(app)
    return app
