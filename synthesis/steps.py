"""Which events are journey steps, and their raw (untemplated) form.

A raw step is a plain tuple so a million sessions fit in memory and hash fast:
`(kind, verb, key, status, duration_ms)` where kind is one of
- "http":  verb = method, key = request path, status = HTTP status (0 = failed), duration
- "page":  verb = "view", key = page path (with its fragment route: `trodden.pages`), status = the
           document's status where the tag saw it (0 unknown, SPA navigations), duration = the
           document load or, for an SPA navigation, the time it took to settle
- "ui":    verb = action (click, input, ...), key = stable target ("test_id=add-to-cart")
- "event": verb = "custom", key = event name
- "error": verb = error type, key = ""
Static assets, the collector's own beacons (`/v1/*`) and telemetry kinds (span, log, vital) are
not steps.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from trodden.models.events import (
    CustomEvent,
    ErrorEvent,
    Navigation,
    NetworkRequest,
    PageView,
    Target,
    UiEvent,
)
from trodden.pages import page_path

RawStep = tuple[str, str, str, int, float]

STATIC_SUFFIXES = (
    ".js",
    ".mjs",
    ".css",
    ".map",
    ".png",
    ".jpg",
    ".jpeg",
    ".gif",
    ".svg",
    ".webp",
    ".avif",
    ".ico",
    ".woff",
    ".woff2",
    ".ttf",
    ".otf",
    ".eot",
    ".mp4",
    ".webm",
    ".mp3",
    ".wasm",
)
UI_KINDS = frozenset({"click", "input", "change", "submit", "key", "scroll"})


def url_path(url: str | None) -> str:
    if not url:
        return "/"
    try:
        path = urlsplit(url).path
    except ValueError:
        return "/"
    return path or "/"


def is_static_asset(path: str) -> bool:
    return path.lower().endswith(STATIC_SUFFIXES)


def is_collector_path(path: str) -> bool:
    """The collector's own endpoints (beacons, OTLP, config) are never part of a user's journey."""
    return path.startswith("/v1/") or path == "/rum.js"


def is_api_request(method: str, path: str) -> bool:
    return not is_static_asset(path) and not is_collector_path(path) and method.upper() != "OPTIONS"


def target_key(target: Target | Mapping[str, Any] | None) -> str:
    """The most stable description of a UI target (test id, then role + name, text, id, css)."""
    if target is None:
        return ""
    t = target.model_dump() if isinstance(target, Target) else target
    if t.get("test_id"):
        return f"test_id={t['test_id']}"
    if t.get("role") and t.get("name"):
        return f"role={t['role']}[{t['name']}]"
    if t.get("text"):
        return f"text={t['text']}"
    if t.get("id"):
        return f"id={t['id']}"
    if t.get("css"):
        return f"css={t['css']}"
    return f"tag={t.get('tag') or '?'}"


def raw_steps(events: Iterable[Any]) -> list[RawStep]:
    """Raw steps of a session's events (pydantic models from `trodden.models.events`), in order."""
    out: list[RawStep] = []
    for ev in events:
        if isinstance(ev, NetworkRequest):
            path = url_path(ev.request_url)
            if is_api_request(ev.method, path):
                out.append(("http", ev.method.upper(), path, ev.status, ev.duration_ms))
        elif isinstance(ev, PageView):
            load = ev.load
            out.append(
                (
                    "page",
                    "view",
                    page_path(ev.url),
                    (load.status or 0) if load else 0,
                    load.duration_ms if load else 0.0,
                )
            )
        elif isinstance(ev, Navigation):
            out.append(("page", "view", page_path(ev.to_url), 0, ev.settle_ms or 0.0))
        elif isinstance(ev, UiEvent):
            out.append(("ui", ev.kind, target_key(ev.target), 0, 0.0))
        elif isinstance(ev, CustomEvent):
            out.append(("event", "custom", ev.name, 0, 0.0))
        elif isinstance(ev, ErrorEvent):
            out.append(("error", ev.error_type, "", 0, 0.0))
    return out


def raw_step_from_row(kind: str, url: str | None, data: Mapping[str, Any]) -> RawStep | None:
    """The same as `raw_steps` for one stored event row (kind column, url column, data jsonb)."""
    if kind == "request":
        method = str(data.get("method", "GET")).upper()
        path = url_path(data.get("request_url"))
        if not is_api_request(method, path):
            return None
        return ("http", method, path, int(data.get("status") or 0), float(data.get("duration_ms") or 0.0))
    if kind == "page_view":
        load = data.get("load") or {}
        return ("page", "view", page_path(url), int(load.get("status") or 0), float(load.get("duration_ms") or 0.0))
    if kind == "navigation":
        return ("page", "view", page_path(data.get("to_url")), 0, float(data.get("settle_ms") or 0.0))
    if kind in UI_KINDS:
        return ("ui", kind, target_key(data.get("target")), 0, 0.0)
    if kind == "custom":
        return ("event", "custom", str(data.get("name", "")), 0, 0.0)
    if kind == "error":
        return ("error", str(data.get("error_type", "uncaught")), "", 0, 0.0)
    return None


def endpoint_key(method: str, route: str) -> str:
    """What assertions attach to: "METHOD /route/{param}" (`route` already templated)."""
    return f"{method.upper()} {route}"


def status_class(status: int) -> str:
    return "failed" if status == 0 else f"{status // 100}xx"
