"""Backend telemetry over OTLP/HTTP (protobuf from the real SDK exporter, and JSON), and how spans
and logs find their browser session."""

from __future__ import annotations

import asyncio
import os

import orjson
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from .conftest import KEY, RunningCollector


def _tracer(collector: RunningCollector) -> tuple[TracerProvider, object]:
    exporter = OTLPSpanExporter(endpoint=f"{collector.url}/v1/traces", headers={"Authorization": f"Bearer {KEY}"})
    provider = TracerProvider(resource=Resource.create({"service.name": "shop-api"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, provider.get_tracer("test")


def _server_span(tracer: object, traceparent: str, attributes: dict[str, object]) -> None:
    """What an instrumented backend does with the tag's traceparent header."""
    ctx = TraceContextTextMapPropagator().extract({"traceparent": traceparent})
    with tracer.start_as_current_span("GET /api/cart/{id}", context=ctx, kind=SpanKind.SERVER, attributes=attributes):  # type: ignore[attr-defined]
        pass


def _request_event(seq: int, trace_id: str) -> dict[str, object]:
    return {
        "kind": "request",
        "seq": seq,
        "ts": 1_700_000_000_000 + seq,
        "method": "GET",
        "request_url": "http://127.0.0.1/api/cart/7",
        "status": 200,
        "duration_ms": 12.5,
        "trace_id": trace_id,
        "span_id": os.urandom(8).hex(),
    }


async def test_protobuf_spans_link_to_the_session_through_traceparent(collector: RunningCollector) -> None:
    early, late = os.urandom(16).hex(), os.urandom(16).hex()
    provider, tracer = _tracer(collector)
    # One span arrives before the browser's beacon, one after: both end up linked.
    await asyncio.to_thread(
        _server_span,
        tracer,
        f"00-{early}-{os.urandom(8).hex()}-01",
        {
            "http.request.method": "GET",
            "http.route": "/api/cart/{id}",
            "http.response.status_code": 200,
            "url.full": "http://127.0.0.1/api/cart/7?email=jane.doe@example.org",
            "http.request.header.authorization": ("Bearer s3cr3t-t0ken-value",),
        },
    )
    status, body, _ = await collector.post(
        "/v1/rum", {"session_id": "browser-1", "events": [_request_event(0, early), _request_event(1, late)]}
    )
    assert status == 200, body
    await asyncio.to_thread(_server_span, tracer, f"00-{late}-{os.urandom(8).hex()}-01", {"http.method": "GET"})
    await asyncio.to_thread(provider.shutdown)
    rows = await collector.store.pool.fetch("SELECT * FROM spans ORDER BY start_ts")
    assert [r["trace_id"] for r in rows] == [early, late]
    assert all(r["session_id"] == "browser-1" for r in rows)
    first = rows[0]
    assert first["service"] == "shop-api"
    assert (first["http_method"], first["http_route"], first["http_status"]) == ("GET", "/api/cart/{id}", 200)
    assert first["attributes"]["span.kind"] == "server"
    text = orjson.dumps(dict(first["attributes"])).decode()
    assert "jane.doe@example.org" not in text and "s3cr3t-t0ken-value" not in text
    assert "Bearer " in text


async def test_session_id_attribute_links_directly(collector: RunningCollector) -> None:
    provider, tracer = _tracer(collector)
    await asyncio.to_thread(
        _server_span, tracer, f"00-{os.urandom(16).hex()}-{os.urandom(8).hex()}-01", {"session.id": "browser-9"}
    )
    await asyncio.to_thread(provider.shutdown)
    assert await collector.store.pool.fetchval("SELECT session_id FROM spans") == "browser-9"


async def test_json_spans_and_retries(collector: RunningCollector) -> None:
    trace_id, span_id = os.urandom(16).hex(), os.urandom(8).hex()
    doc = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "api"}}]},
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": trace_id,
                                "spanId": span_id,
                                "name": "POST /login",
                                "kind": 2,
                                "startTimeUnixNano": "1700000000000000000",
                                "endTimeUnixNano": "1700000000250000000",
                                "attributes": [
                                    {"key": "http.status_code", "value": {"intValue": "401"}},
                                    {"key": "session.id", "value": {"stringValue": "s-json"}},
                                ],
                                "status": {"code": 2},
                            }
                        ]
                    }
                ],
            }
        ]
    }
    for _ in range(2):
        status, body, _ = await collector.post("/v1/traces", doc, headers={"Content-Type": "application/json"})
        assert status == 200 and body == {}
    row = await collector.store.pool.fetchrow("SELECT * FROM spans")
    assert (row["trace_id"], row["span_id"], row["session_id"]) == (trace_id, span_id, "s-json")
    assert row["duration_ms"] == 250.0 and row["http_status"] == 401 and row["status_code"] == "error"
    assert await collector.store.pool.fetchval("SELECT count(*) FROM spans") == 1


async def test_logs_protobuf_and_json(collector: RunningCollector) -> None:
    trace_id = os.urandom(16)
    request = ExportLogsServiceRequest(
        resource_logs=[
            ResourceLogs(
                scope_logs=[
                    ScopeLogs(
                        log_records=[
                            LogRecord(
                                time_unix_nano=1_700_000_000_000_000_000,
                                severity_text="ERROR",
                                trace_id=trace_id,
                                span_id=os.urandom(8),
                                body=AnyValue(string_value="payment failed for card 4111 1111 1111 1111"),
                                attributes=[KeyValue(key="user.email", value=AnyValue(string_value="max@example.com"))],
                            )
                        ]
                    )
                ]
            )
        ]
    )
    status, _, resp = await collector.post(
        "/v1/logs", request.SerializeToString(), headers={"Content-Type": "application/x-protobuf"}
    )
    assert status == 200 and resp.headers["Content-Type"].startswith("application/x-protobuf")
    await collector.post("/v1/rum", {"session_id": "logs-1", "events": [_request_event(0, trace_id.hex())]})
    row = await collector.store.pool.fetchrow("SELECT * FROM logs")
    assert row["session_id"] == "logs-1" and row["severity"] == "ERROR"
    assert "4111 1111 1111 1111" not in row["body"] and row["body"].startswith("payment failed for card 4")
    assert "max@example.com" not in orjson.dumps(dict(row["attributes"])).decode()
    doc = {
        "resourceLogs": [
            {
                "scopeLogs": [
                    {
                        "logRecords": [
                            {
                                "timeUnixNano": "1700000000000000000",
                                "body": {"stringValue": "hello"},
                                "attributes": [{"key": "session.id", "value": {"stringValue": "s2"}}],
                            }
                        ]
                    }
                ]
            }
        ]
    }
    status, _, _ = await collector.post("/v1/logs", doc, headers={"Content-Type": "application/json"})
    assert status == 200
    assert await collector.store.pool.fetchval("SELECT count(*) FROM logs WHERE session_id = 's2'") == 1


async def test_bad_otlp_bodies_get_400(collector: RunningCollector) -> None:
    for body, ctype in (
        (b"\xff\xfe garbage", "application/x-protobuf"),
        (b"{nope", "application/json"),
        (orjson.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}), "application/json"),
        (orjson.dumps({"resourceSpans": "x"}), "application/json"),
    ):
        status, payload, _ = await collector.post("/v1/traces", body, headers={"Content-Type": ctype})
        assert status == 400, (body, payload)
        assert payload["error"]
