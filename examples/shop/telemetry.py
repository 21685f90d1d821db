"""OpenTelemetry for the shop: one SERVER span per request, exported over OTLP/HTTP (protobuf) to
the collector's /v1/traces with the ingest key, carrying `session.id` when the request names the
browser session (header `X-Trodden-Session`, which the shop's pages and API clients send)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

SESSION_HEADER = "X-Trodden-Session"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def tracer_provider(endpoint: str, ingest_key: str, service_name: str, version: int) -> TracerProvider:
    """A provider of its own (not the global one), so two shops in one process keep apart."""
    provider = TracerProvider(resource=Resource.create({"service.name": service_name, "service.version": str(version)}))
    exporter = OTLPSpanExporter(
        endpoint=endpoint.rstrip("/") + "/v1/traces", headers={"Authorization": f"Bearer {ingest_key}"}, timeout=5
    )
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=1000))
    return provider


def tracing_middleware(tracer: Tracer) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    propagator = TraceContextTextMapPropagator()

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/static/") or request.path in ("/healthz", "/metrics"):
            return await handler(request)
        parent: Context = propagator.extract(dict(request.headers))
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else request.path
        with tracer.start_as_current_span(f"{request.method} {route}", context=parent, kind=SpanKind.SERVER) as span:
            span.set_attribute("http.request.method", request.method)
            span.set_attribute("http.method", request.method)
            span.set_attribute("http.route", route)
            span.set_attribute("url.path", request.path)
            span.set_attribute("http.target", request.path_qs)
            session_id = request.headers.get(SESSION_HEADER)
            if session_id:
                span.set_attribute("session.id", session_id)
            response = await handler(request)
            span.set_attribute("http.response.status_code", response.status)
            span.set_attribute("http.status_code", response.status)
            if response.status >= 500:
                span.set_status(Status(StatusCode.ERROR))
            return response

    return middleware
