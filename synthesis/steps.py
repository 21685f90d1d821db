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
Static assets, the collector's own traffic (`is_collector_request`: its exact endpoints on its own
origin, never a path prefix an application may use too) and telemetry kinds (span, log, vital) are
not steps.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

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


# The collector's own endpoints, exactly: beacons, OTLP, the tag's config and the tag itself.
# `/v1/` is the most common API versioning prefix, so a prefix rule would hide whole applications.
COLLECTOR_PATHS = frozenset({"/v1/rum", "/v1/config", "/v1/traces", "/v1/logs", "/rum.js"})
# the query parameter that carries the ingest key on the tag's own requests
_TAG_KEY_PARAM = "key"


def url_origin(url: str | None) -> str | None:
    """ "scheme://host[:port]" of an absolute URL (lower case), None for a relative one."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def _tag_request(url: str) -> bool:
    """A request the tag itself makes: an exact collector endpoint carrying the ingest key."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.path not in COLLECTOR_PATHS:
        return False
    return parts.path == "/rum.js" or any(k == _TAG_KEY_PARAM for k, _ in parse_qsl(parts.query))


def collector_origins(urls: Iterable[str | None]) -> frozenset[str]:
    """Origins a session shows to be the collector's: the ones the tag loaded from or sent its
    keyed beacons and config fetches to."""
    return frozenset(o for u in urls if u and _tag_request(u) and (o := url_origin(u)) is not None)


def is_collector_request(url: str | None, origins: frozenset[str] = frozenset()) -> bool:
    """The collector's own traffic: one of its exact endpoints, on an origin known to be the
    collector's (`origins`, see `collector_origins`) or carrying the tag's ingest key. An
    application's own `/v1/config` or `/v1/logs` is a step like any other."""
    if not url:
        return False
    if _tag_request(url):
        return True
    origin = url_origin(url)
    return origin is not None and origin in origins and url_path(url) in COLLECTOR_PATHS


def is_api_request(method: str, url: str | None, origins: frozenset[str] = frozenset()) -> bool:
    """A request that is a journey step: not a static asset, not the collector's, not a preflight."""
    path = url_path(url)
    return not is_static_asset(path) and method.upper() != "OPTIONS" and not is_collector_request(url, origins)


def session_collector_origins(events: Iterable[Any]) -> frozenset[str]:
    """`collector_origins` of a session's request events."""
    return collector_origins(ev.request_url for ev in events if isinstance(ev, NetworkRequest))


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
    events = list(events)
    own = session_collector_origins(events)
    out: list[RawStep] = []
    for ev in events:
        if isinstance(ev, NetworkRequest):
            if is_api_request(ev.method, ev.request_url, own):
                out.append(("http", ev.method.upper(), url_path(ev.request_url), ev.status, ev.duration_ms))
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
    """The same as `raw_steps` for one stored event row (kind column, url column, data jsonb).
    A request to an exact collector endpoint is kept here (without the session it cannot tell an
    application's `/v1/logs` from the collector's): `SessionSteps` drops it once the session shows
    that origin to be the collector's."""
    if kind == "request":
        method = str(data.get("method", "GET")).upper()
        request_url = data.get("request_url")
        if not is_api_request(method, request_url):
            return None
        return (
            "http",
            method,
            url_path(request_url),
            int(data.get("status") or 0),
            float(data.get("duration_ms") or 0.0),
        )
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


class SessionSteps:
    """Raw steps of one session built row by row (`raw_step_from_row`), with the collector's own
    requests dropped at the end, when the whole session has shown which origins are the collector's."""

    def __init__(self) -> None:
        self.steps: list[RawStep] = []
        self._urls: list[str | None] = []  # request URL per step (None for other kinds)
        self._tag_origins: set[str] = set()

    def add(self, kind: str, url: str | None, data: Mapping[str, Any]) -> None:
        if kind == "request":
            request_url = data.get("request_url")
            if request_url and _tag_request(request_url) and (origin := url_origin(request_url)):
                self._tag_origins.add(origin)
        step = raw_step_from_row(kind, url, data)
        if step is not None:
            self.steps.append(step)
            self._urls.append(data.get("request_url") if kind == "request" else None)

    def finish(self) -> list[RawStep]:
        if not self._tag_origins:
            return self.steps
        own = frozenset(self._tag_origins)
        return [s for s, u in zip(self.steps, self._urls, strict=True) if u is None or not is_collector_request(u, own)]
