"""OTLP/HTTP traces and logs (protobuf and JSON encodings) → sanitised `spans` and `logs` rows.

Decoded with `opentelemetry-proto`. OTLP's JSON encoding writes trace and span ids as hex (not
protobuf-JSON's base64), so ids are rewritten before `json_format` parses the document.
A span or log names its browser session with a `session.id` attribute (span or resource); spans
without one are linked later through the trace id the tag sent in `traceparent` (see writer).
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from trodden.collector.beacon import BodyError
from trodden.collector.rows import LogRow, SpanRow, WorkItem, ms_to_micros
from trodden.collector.sanitize import Sanitizer

_ID_FIELDS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")
_STATUS = {0: "unset", 1: "ok", 2: "error"}
_KINDS = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
_URL_ATTRS = {"http.url", "url.full", "http.target", "url.path", "url.query"}
SESSION_ATTRS = ("session.id", "session_id", "trodden.session_id")


def any_value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return attributes(value.kvlist_value.values)
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return getattr(value, which)


def attributes(kvs: Any) -> dict[str, Any]:
    return {kv.key: any_value(kv.value) for kv in kvs}


def _hex_ids_to_base64(node: Any) -> Any:
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k in _ID_FIELDS and isinstance(v, str) and v:
                try:
                    out[k] = base64.b64encode(bytes.fromhex(v)).decode()
                except ValueError as exc:
                    raise BodyError(f"{k} is not hex: {v[:40]!r}") from exc
            else:
                out[k] = _hex_ids_to_base64(v)
        return out
    if isinstance(node, list):
        return [_hex_ids_to_base64(v) for v in node]
    return node


def parse_request(body: bytes, content_type: str, message: Any) -> Any:
    """Parse an OTLP export request, protobuf unless the content type says JSON."""
    try:
        if "json" in content_type:
            json_format.ParseDict(_hex_ids_to_base64(orjson.loads(body)), message, ignore_unknown_fields=True)
        else:
            message.ParseFromString(body)
    except (DecodeError, json_format.ParseError, orjson.JSONDecodeError, TypeError, ValueError, RecursionError) as exc:
        raise BodyError(f"not an OTLP {type(message).__name__}: {str(exc)[:200]}") from exc
    return message


def _session_of(*attr_sets: dict[str, Any]) -> str | None:
    for attrs in attr_sets:
        for key in SESSION_ATTRS:
            value = attrs.get(key)
            if isinstance(value, str) and value:
                return value[:128]
    return None


def _sanitize_attributes(attrs: dict[str, Any], sanitizer: Sanitizer) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        if key in SESSION_ATTRS:
            out[key] = value
        elif isinstance(value, str) and key in _URL_ATTRS:
            out[key] = sanitizer.url(value)
        elif ".header." in key:
            header = key.rsplit(".header.", 1)[1]
            raw = value[0] if isinstance(value, list) and len(value) == 1 else value
            out[key] = sanitizer.headers({header: raw if isinstance(raw, str) else str(raw)})[header]
        else:
            out.update(sanitizer.json({key: value}, ()))
    return out


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def decode_traces(request: ExportTraceServiceRequest, source: str, sanitizer: Sanitizer) -> WorkItem:
    item = WorkItem()
    for rs in request.resource_spans:
        resource = attributes(rs.resource.attributes)
        service = resource.get("service.name")
        for ss in rs.scope_spans:
            for span in ss.spans:
                if len(span.trace_id) != 16 or len(span.span_id) != 8:
                    continue  # invalid ids: OTLP says drop the span
                attrs = attributes(span.attributes)
                method = attrs.get("http.request.method") or attrs.get("http.method")
                route = attrs.get("http.route")
                status = _int_or_none(attrs.get("http.response.status_code", attrs.get("http.status_code")))
                start_ms = span.start_time_unix_nano / 1e6
                duration = max(0.0, (span.end_time_unix_nano - span.start_time_unix_nano) / 1e6)
                clean = _sanitize_attributes(attrs, sanitizer)
                clean["span.kind"] = _KINDS.get(span.kind, "unspecified")
                row: SpanRow = (
                    source,
                    span.trace_id.hex(),
                    span.span_id.hex(),
                    span.parent_span_id.hex() if len(span.parent_span_id) == 8 else None,
                    _session_of(attrs, resource),
                    sanitizer.text(span.name)[:512],
                    str(service)[:256] if service is not None else None,
                    ms_to_micros(start_ms),
                    duration,
                    str(method)[:16] if method else None,
                    sanitizer.url(str(route)) if route else None,
                    status,
                    _STATUS.get(span.status.code, "unset"),
                    clean,
                )
                item.spans.append(row)
    return item


def decode_logs(request: ExportLogsServiceRequest, source: str, sanitizer: Sanitizer) -> WorkItem:
    item = WorkItem()
    for rl in request.resource_logs:
        resource = attributes(rl.resource.attributes)
        service = resource.get("service.name")
        for sl in rl.scope_logs:
            for record in sl.log_records:
                attrs = attributes(record.attributes)
                body = any_value(record.body) if record.HasField("body") else None
                ts_nano = record.time_unix_nano or record.observed_time_unix_nano
                trace_id = record.trace_id.hex() if len(record.trace_id) == 16 else None
                span_id = record.span_id.hex() if len(record.span_id) == 8 else None
                severity = record.severity_text or (str(record.severity_number) if record.severity_number else None)
                # Fingerprint of the raw record: an exporter's retry repeats it exactly.
                fingerprint = hashlib.sha256(record.SerializeToString(deterministic=True)).hexdigest()[:32]
                row: LogRow = (
                    source,
                    ms_to_micros(ts_nano / 1e6),
                    trace_id,
                    span_id,
                    _session_of(attrs, resource),
                    severity,
                    str(service)[:256] if service is not None else None,
                    sanitizer.json(body, ()),
                    _sanitize_attributes(attrs, sanitizer),
                    fingerprint,
                )
                item.logs.append(row)
    return item


def decode_traces_body(body: bytes, content_type: str, source: str, sanitizer: Sanitizer) -> WorkItem:
    return decode_traces(parse_request(body, content_type, ExportTraceServiceRequest()), source, sanitizer)


def decode_logs_body(body: bytes, content_type: str, source: str, sanitizer: Sanitizer) -> WorkItem:
    return decode_logs(parse_request(body, content_type, ExportLogsServiceRequest()), source, sanitizer)


__all__ = ["KeyValue", "decode_logs", "decode_logs_body", "decode_traces", "decode_traces_body", "parse_request"]
