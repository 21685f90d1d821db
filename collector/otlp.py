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
from trodden.collector.sanitize import SanitizeError, Sanitizer

_ID_FIELDS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")
_STATUS = {0: "unset", 1: "ok", 2: "error"}
_KINDS = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
_URL_ATTRS = {"http.url", "url.full", "http.target", "url.path", "url.original", "http.route"}
_QUERY_ATTRS = {"url.query"}
_FRAGMENT_ATTRS = {"url.fragment"}
_BODY_ATTRS = {"http.request.body", "http.response.body", "http.request.body.content", "http.response.body.content"}
_USER_ATTRS = {"enduser.id", "user.id", "user_id", "enduser.pseudo.id"}
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


def _session_of(sanitizer: Sanitizer, *attr_sets: dict[str, Any]) -> str | None:
    """The session a span or log names, through the same identifier rule as the beacons' session ids
    (so they still meet: a session id holding a card number is the same pseudonym on both sides)."""
    for attrs in attr_sets:
        for key in SESSION_ATTRS:
            value = attrs.get(key)
            if isinstance(value, str) and value:
                return sanitizer.identifier(value)[:128]  # cut after: a cut value may hide what it held
    return None


def _sanitize_attributes(attrs: dict[str, Any], sanitizer: Sanitizer) -> dict[str, Any]:
    """Attributes by their semantic conventions: URLs parsed as URLs, a query as a query, headers as
    headers, bodies as bodies, identifiers as identifiers, anything else by the JSON rules."""
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        if ".header." in key:
            header = key.rsplit(".header.", 1)[1]
            raw = value[0] if isinstance(value, list) and len(value) == 1 else value
            if isinstance(raw, list):  # one value per occurrence of the header (semantic conventions)
                cleaned_list = [sanitizer.headers({header: v if isinstance(v, str) else str(v)}) for v in raw]
                out[sanitizer.text(key)] = [next(iter(c.values())) for c in cleaned_list if c]
                continue
            cleaned = sanitizer.headers({header: raw if isinstance(raw, str) else str(raw)})
            if cleaned:
                out[sanitizer.text(key)] = next(iter(cleaned.values()))
        elif not isinstance(value, str):
            out.update(sanitizer.json({key: value}, ()))
        elif key in SESSION_ATTRS:
            out[key] = sanitizer.identifier(value)
        elif key in _USER_ATTRS:
            out[key] = sanitizer.user_id(value)
        elif key in _URL_ATTRS:
            out[key] = sanitizer.url(value)
        elif key in _QUERY_ATTRS:
            out[key] = sanitizer.query(value)
        elif key in _FRAGMENT_ATTRS:
            out[key] = sanitizer.fragment(value)
        elif key in _BODY_ATTRS:
            out[key] = sanitizer.body_text(value, typed=key.startswith("http.request"))
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
                session = _session_of(sanitizer, attrs, resource)
                tokens = sanitizer.begin(session or span.trace_id.hex(), None)
                try:
                    clean = _sanitize_attributes(attrs, sanitizer)
                    name = sanitizer.text(span.name)[:512]
                finally:
                    session_taint = sanitizer.end(tokens)
                if session_taint is not None:
                    clean, name = session_taint.walk(clean), session_taint.apply(name)
                clean["span.kind"] = _KINDS.get(span.kind, "unspecified")
                row: SpanRow = (
                    source,
                    span.trace_id.hex(),
                    span.span_id.hex(),
                    span.parent_span_id.hex() if len(span.parent_span_id) == 8 else None,
                    session,
                    name,
                    sanitizer.text(str(service))[:256] if service is not None else None,
                    ms_to_micros(start_ms),
                    duration,
                    sanitizer.text(str(method))[:16] if method else None,
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
                session = _session_of(sanitizer, attrs, resource)
                tokens = sanitizer.begin(session or trace_id or fingerprint, None)
                try:
                    clean_body = sanitizer.body(body) if isinstance(body, str) else sanitizer.json(body, ())
                    clean = _sanitize_attributes(attrs, sanitizer)
                finally:
                    session_taint = sanitizer.end(tokens)
                if session_taint is not None:
                    clean_body, clean = session_taint.walk(clean_body), session_taint.walk(clean)
                row: LogRow = (
                    source,
                    ms_to_micros(ts_nano / 1e6),
                    trace_id,
                    span_id,
                    session,
                    sanitizer.text(severity) if severity else None,
                    sanitizer.text(str(service))[:256] if service is not None else None,
                    clean_body,
                    clean,
                    fingerprint,
                )
                item.logs.append(row)
    return item


def _refusing(decode: Any, request: Any, source: str, sanitizer: Sanitizer) -> WorkItem:
    try:
        item: WorkItem = decode(request, source, sanitizer)
    except (SanitizeError, RecursionError) as exc:  # an OTLP export is one unit: refused whole
        raise BodyError(f"unacceptable OTLP data: {exc or 'nested too deeply'}") from exc
    return item


def decode_traces_body(body: bytes, content_type: str, source: str, sanitizer: Sanitizer) -> WorkItem:
    return _refusing(decode_traces, parse_request(body, content_type, ExportTraceServiceRequest()), source, sanitizer)


def decode_logs_body(body: bytes, content_type: str, source: str, sanitizer: Sanitizer) -> WorkItem:
    return _refusing(decode_logs, parse_request(body, content_type, ExportLogsServiceRequest()), source, sanitizer)


__all__ = ["KeyValue", "decode_logs", "decode_logs_body", "decode_traces", "decode_traces_body", "parse_request"]
