"""The shop's aiohttp application: `create_app(ShopVersion.of(2), ...)`.

Visitors are identified by the `sid` cookie (browsers) or the `X-Session-Token` header (API
clients, which start with `POST /api/sessions`); an unknown cookie starts a new visit, an unknown
token is refused with 401 (a client must not silently lose its cart).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from trodden.log import get_logger
from trodden.metrics import Counter, expose_metrics
from trodden.shop import api, pages
from trodden.shop.regressions import ShopVersion
from trodden.shop.state import ShopState

log = get_logger(__name__)
STATIC = Path(__file__).parent / "static"
COOKIE = "sid"
TOKEN_HEADER = "X-Session-Token"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

REQUESTS = Counter("trodden_shop_requests_total", "Requests served by the demo shop", ["version", "status_class"])


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """API errors become JSON with a reason; nothing leaks a traceback."""
    try:
        return await handler(request)
    except api.ApiError as exc:
        return exc.response()
    except web.HTTPException as exc:
        if request.path.startswith("/api/") and exc.status >= 400:
            return api.ok({"error": {"code": exc.reason.lower().replace(" ", "_"), "message": exc.reason}}, exc.status)
        raise
    except Exception:
        log.exception("shop handler failed", path=request.path)
        return api.ok({"error": {"code": "internal", "message": "internal error"}}, status=500)


@web.middleware
async def visits(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith("/static/") or request.path in ("/healthz", "/metrics", "/__reset"):
        return await handler(request)
    state = request.app[api.STATE_KEY]
    token = request.headers.get(TOKEN_HEADER)
    new_cookie = False
    if token:
        visit = state.visits.get(token)
        if visit is None:
            return api.ok({"error": {"code": "invalid_session", "message": "unknown session token"}}, status=401)
    else:
        visit = state.visits.get(request.cookies.get(COOKIE, ""))
        if visit is None:
            visit = state.new_visit()
            new_cookie = True
    request[api.VISIT_KEY] = visit
    response = await handler(request)
    if new_cookie:
        response.set_cookie(COOKIE, visit.token, httponly=True, samesite="Lax", path="/")
    return response


def counting(version: ShopVersion) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        REQUESTS.labels(str(version.number), f"{response.status // 100}xx").inc()
        return response

    return middleware


async def reset(request: web.Request) -> web.Response:
    """Back to the initial state (tests, the demo and the benchmark call it between replays)."""
    request.app[api.STATE_KEY].reset()
    return web.Response(status=204)


async def healthz(request: web.Request) -> web.Response:
    return api.ok({"status": "ok", "version": request.app[api.VERSION_KEY].number})


def create_app(
    version: ShopVersion | None = None,
    *,
    collector_url: str | None = None,
    ingest_key: str | None = None,
    otlp_endpoint: str | None = None,
    service_name: str = "shop",
) -> web.Application:
    """The shop. With `collector_url` + `ingest_key` its pages include the rum.js tag; with
    `otlp_endpoint` (default: the collector) its spans go there over OTLP/HTTP."""
    version = version or ShopVersion.of(1)
    middlewares: list[Any] = [counting(version)]
    provider = None
    otlp = otlp_endpoint or collector_url
    if otlp and ingest_key:
        from trodden.shop.telemetry import tracer_provider, tracing_middleware

        provider = tracer_provider(otlp, ingest_key, service_name, version.number)
        middlewares.append(tracing_middleware(provider.get_tracer("trodden.shop")))
    middlewares += [errors, visits]
    app = web.Application(middlewares=middlewares)
    app[api.STATE_KEY] = ShopState()
    app[api.VERSION_KEY] = version
    app[pages.ENV_KEY] = pages.environment()
    app[pages.TAG_KEY] = (
        {"src": collector_url.rstrip("/") + "/rum.js", "key": ingest_key} if collector_url and ingest_key else {}
    )
    api.add_routes(app)
    pages.add_routes(app)
    app.router.add_post("/__reset", reset)
    app.router.add_get("/healthz", healthz)
    app.router.add_static("/static/", STATIC)
    expose_metrics(app)
    if provider is not None:

        async def flush_spans(_app: web.Application) -> None:
            provider.shutdown()

        app.on_cleanup.append(flush_spans)
    return app
