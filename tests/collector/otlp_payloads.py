"""OTLP/JSON export bodies for the collector's tests: the envelopes once, the tests say what is in them."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

START_NS = "1700000000000000000"


def kv(key: str, value: str) -> dict[str, Any]:
    """A string attribute."""
    return {"key": key, "value": {"stringValue": value}}


def span(name: str, attributes: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A 1 ms span of a new trace."""
    return {
        "traceId": os.urandom(16).hex(),
        "spanId": os.urandom(8).hex(),
        "name": name,
        "startTimeUnixNano": START_NS,
        "endTimeUnixNano": "1700000000001000000",
        "attributes": list(attributes),
    }


def log_record(body: dict[str, Any], attributes: Sequence[dict[str, Any]] = (), **fields: Any) -> dict[str, Any]:
    """A log record; `body` is an OTLP AnyValue (`{"stringValue": …}`, `{"kvlistValue": …}`)."""
    record: dict[str, Any] = {"timeUnixNano": START_NS, **fields, "body": body}
    if attributes:
        record["attributes"] = list(attributes)
    return record


def traces(spans: Sequence[dict[str, Any]], resource: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """An ExportTraceServiceRequest: one resource, one scope."""
    return {
        "resourceSpans": [
            {"resource": {"attributes": list(resource)}, "scopeSpans": [{"scope": {"name": "s"}, "spans": list(spans)}]}
        ]
    }


def logs(records: Sequence[dict[str, Any]], resource: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """An ExportLogsServiceRequest: one resource, one scope."""
    return {
        "resourceLogs": [{"resource": {"attributes": list(resource)}, "scopeLogs": [{"logRecords": list(records)}]}]
    }
