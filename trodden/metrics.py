"""prometheus-client set up once: one registry, helpers to expose it from aiohttp apps and jobs.

Components declare their own metrics with the `trodden_` prefix on `REGISTRY`.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST as CONTENT_TYPE_LATEST
from prometheus_client import REGISTRY as REGISTRY
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, start_http_server

__all__ = [
    "CONTENT_TYPE_LATEST",
    "REGISTRY",
    "Counter",
    "Gauge",
    "Histogram",
    "expose_metrics",
    "render_metrics",
    "serve_metrics",
]


def render_metrics(registry: CollectorRegistry = REGISTRY) -> bytes:
    return generate_latest(registry)


def serve_metrics(port: int, addr: str = "0.0.0.0") -> None:
    """For batch jobs and the operator: a background thread serving /metrics."""
    start_http_server(port, addr=addr, registry=REGISTRY)


def expose_metrics(app: object) -> None:
    """Add `GET /metrics` to an aiohttp application."""
    from aiohttp import web

    assert isinstance(app, web.Application)

    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(body=render_metrics(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/metrics", metrics)
