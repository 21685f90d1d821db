"""What an API client reports about itself: its requests and custom events, as a beacon batch.

Browsers are captured by rum.js; a native client (our "mobile app") cannot run the tag, so it does
what a mobile RUM SDK does: it records each request it made (method, URL, status, timing, selected
headers and JSON bodies) and posts them to the collector's /v1/rum as one session. It also names the
session on every request (`X-Trodden-Session`) and sends a W3C `traceparent`, so the shop's OTLP
spans link to the same session. See docs/decisions.md ("Demo: how API clients' sessions are captured").
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

RECORDED_REQUEST_HEADERS = ("content-type", "x-session-token")
RECORDED_RESPONSE_HEADERS = ("content-type", "location")


@dataclass
class Recorder:
    session_id: str
    user_id: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    # Which headers the client reports (lower case): an SDK is configured per application.
    request_header_names: tuple[str, ...] = RECORDED_REQUEST_HEADERS
    response_header_names: tuple[str, ...] = RECORDED_RESPONSE_HEADERS

    def _next(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = {
            "kind": kind,
            "session_id": self.session_id,
            "seq": len(self.events),
            "ts": time.time() * 1000,
            **fields,
        }
        self.events.append(event)
        return event

    def request(
        self,
        method: str,
        url: str,
        *,
        status: int,
        duration_ms: float,
        request_headers: dict[str, str],
        response_headers: dict[str, str],
        request_body: Any,
        response_body: Any,
        trace_id: str,
        span_id: str,
    ) -> None:
        self._next(
            "request",
            initiator="fetch",
            method=method,
            request_url=url,
            status=status,
            duration_ms=round(duration_ms, 3),
            request_headers={k: v for k, v in request_headers.items() if k.lower() in self.request_header_names},
            response_headers={
                k.lower(): v for k, v in response_headers.items() if k.lower() in self.response_header_names
            },
            request_body=request_body,
            response_body=response_body,
            trace_id=trace_id,
            span_id=span_id,
        )

    def custom(self, name: str, properties: dict[str, Any]) -> None:
        self._next("custom", name=name, properties=properties)

    def batch(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "user_id": self.user_id,
            "attributes": self.attributes,
            "events": self.events,
        }


def new_trace() -> tuple[str, str, str]:
    """(trace id, span id, traceparent header) for one outgoing request."""
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, span_id, f"00-{trace_id}-{span_id}-01"


async def send_batch(http: aiohttp.ClientSession, collector_url: str, ingest_key: str, recorder: Recorder) -> int:
    """Post the session to the collector; returns the HTTP status (the caller counts failures)."""
    async with http.post(
        collector_url.rstrip("/") + "/v1/rum",
        json=recorder.batch(),
        headers={"Authorization": f"Bearer {ingest_key}"},
        timeout=aiohttp.ClientTimeout(total=15),
    ) as response:
        await response.read()
        return response.status
