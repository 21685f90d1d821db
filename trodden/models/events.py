"""The captured event model.

A session is an ordered list of events (ordered by `seq`) sharing a `session_id`, with an optional
user id and free attributes. Every event kind is its own model so that validation errors name the
field that is wrong; `Event` is the discriminated union over `kind`. `docs/event-model.schema.json`
is generated from these models (`trodden schema events`, checked for drift by a test).

Timestamps are milliseconds since the Unix epoch (what browsers produce cheaply, and what OTLP's
nanoseconds divide into without loss that matters here).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

SessionId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:\-]+$")]
Millis = Annotated[float, Field(ge=0, le=32503680000000)]  # up to year 3000
JsonValue = Any


class Target(BaseModel):
    """A robust description of the element a UI event happened on, most stable first."""

    model_config = ConfigDict(extra="forbid")

    test_id: str | None = Field(None, max_length=256, description="data-testid (or data-test, data-cy)")
    id: str | None = Field(None, max_length=256)
    role: str | None = Field(None, max_length=64, description="ARIA role, explicit or implicit")
    name: str | None = Field(None, max_length=256, description="accessible name")
    text: str | None = Field(None, max_length=256, description="visible text, trimmed")
    tag: str | None = Field(None, max_length=32)
    css: str | None = Field(None, max_length=1024, description="a CSS path from the nearest id")
    xpath: str | None = Field(None, max_length=1024)


# What became visible (or changed its text) once the page settled after a page load, an SPA
# navigation, a click, a submit or Enter: at most 10 elements, described like a UI target (rum.js
# leaves out css/xpath). None: not recorded (older tags, other kinds); []: nothing new showed.
VISIBLE_MAX = 10
VisibleAfter = Annotated[
    list[Target] | None,
    Field(max_length=VISIBLE_MAX, description="elements newly visible (or with new text) once the page settled"),
]


# What the page shows once it settled after a page load, an SPA navigation, a click, a submit or
# Enter: a bounded outline of its structure (rum.js `page`), mined into page invariants and compared
# at replay. Texts are accessible names and headings (clipped, sanitised by the collector like any
# text), never input values; masked elements give no text; table cells and links inside table
# bodies are counted, never read.
PAGE_TEXT_MAX = 80
PageText = Annotated[str, Field(max_length=PAGE_TEXT_MAX)]


class PageTable(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: PageText | None = Field(None, description="caption, aria-label or id")
    headers: list[PageText] = Field(default_factory=list, max_length=20, description="column headers, in order")
    rows: int = Field(0, ge=0, description="data rows (tbody)")


class PageList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: PageText | None = Field(None, description="aria-label, id or class of the list")
    items: int = Field(0, ge=0)


class PageShape(BaseModel):
    """An outline of what a page shows: headings, landmarks, tables (column headers and row counts),
    lists (item counts), link and button names, form field labels and alerts."""

    model_config = ConfigDict(extra="forbid")

    headings: list[PageText] = Field(default_factory=list, max_length=20, description="h1-h3 texts, in order")
    landmarks: list[PageText] = Field(default_factory=list, max_length=20, description="landmark roles")
    tables: list[PageTable] = Field(default_factory=list, max_length=10)
    lists: list[PageList] = Field(default_factory=list, max_length=10)
    links: list[PageText] = Field(
        default_factory=list, max_length=60, description="names of links outside table bodies"
    )
    buttons: list[PageText] = Field(default_factory=list, max_length=30)
    fields: list[PageText] = Field(default_factory=list, max_length=30, description="form field labels")
    alerts: list[PageText] = Field(default_factory=list, max_length=10, description="alert and error message texts")


class PageLoad(BaseModel):
    """How a page's document loaded (PerformanceNavigationTiming), in milliseconds from the start of
    the navigation."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["navigate", "reload", "back_forward", "prerender"] = "navigate"
    status: int | None = Field(None, ge=100, le=599, description="responseStatus, where the browser exposes it")
    duration_ms: float = Field(ge=0, description="until the load event ended (or the response, if it had not)")
    ttfb_ms: float | None = Field(None, ge=0, description="until the first byte of the response")
    dom_ms: float | None = Field(None, ge=0, description="until DOMContentLoaded ended")
    redirects: int = Field(0, ge=0, le=100)


PageAfter = Annotated[PageShape | None, Field(description="what the page showed once it settled")]
SettleMs = Annotated[float | None, Field(None, ge=0, description="from the action until the page settled")]


class _EventBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    session_id: SessionId
    seq: int = Field(ge=0, le=2**31 - 1, description="order in the session; idempotency key with source and session")
    ts: Millis
    url: str | None = Field(None, max_length=4096, description="page URL when the event happened")


class PageView(_EventBase):
    kind: Literal["page_view"]
    title: str | None = Field(None, max_length=512)
    referrer: str | None = Field(None, max_length=4096)
    visible: VisibleAfter = None
    page: PageAfter = None
    load: PageLoad | None = Field(None, description="the document load (navigation timing and status)")


class Navigation(_EventBase):
    """SPA navigation (history.pushState / replaceState / popstate / hashchange)."""

    kind: Literal["navigation"]
    from_url: str | None = Field(None, max_length=4096)
    to_url: str = Field(max_length=4096)
    trigger: Literal["push", "replace", "pop", "hash"] = "push"
    visible: VisibleAfter = None
    page: PageAfter = None
    settle_ms: SettleMs = None


class UiEvent(_EventBase):
    """click, input, change, submit, key (Enter/Escape only) and scroll-to-element that changed state."""

    kind: Literal["click", "input", "change", "submit", "key", "scroll"]
    target: Target
    value: str | None = Field(None, max_length=4096, description="input value; masked values are replaced")
    key: Literal["Enter", "Escape"] | None = None
    masked: bool = False
    visible: VisibleAfter = None
    page: PageAfter = None
    settle_ms: SettleMs = None


class NetworkRequest(_EventBase):
    """A fetch/XHR seen by the tag, a HAR entry, or an HTTP server span turned into a request."""

    kind: Literal["request"]
    initiator: Literal["fetch", "xhr", "har", "document", "span"] = "fetch"
    method: str = Field(max_length=16, pattern=r"^[A-Za-z]+$")
    request_url: str = Field(max_length=8192)
    status: int = Field(ge=0, le=999, description="0 when the request failed without a response")
    duration_ms: float = Field(ge=0)
    request_headers: dict[str, str] = Field(default_factory=dict)
    response_headers: dict[str, str] = Field(default_factory=dict)
    request_body: JsonValue = None
    response_body: JsonValue = None
    body_truncated: bool = False
    masked: bool = Field(
        False,
        description="set by the collector: text a person typed in the URL's query (a search) was masked, as "
        "free text seen from fewer than k users; a replay sends the mask, so the answer may differ",
    )
    trace_id: str | None = Field(None, pattern=r"^[0-9a-f]{32}$")
    span_id: str | None = Field(None, pattern=r"^[0-9a-f]{16}$")
    error: str | None = Field(None, max_length=1024)


class ErrorEvent(_EventBase):
    kind: Literal["error"]
    error_type: Literal["uncaught", "unhandled_rejection", "failed_request", "console"]
    message: str = Field(max_length=4096)
    stack: str | None = Field(None, max_length=16384)
    source: str | None = Field(None, max_length=4096)


class CustomEvent(_EventBase):
    """`window.trodden.track(name, properties)`."""

    kind: Literal["custom"]
    name: str = Field(min_length=1, max_length=128)
    properties: dict[str, JsonValue] = Field(default_factory=dict)


class WebVital(_EventBase):
    kind: Literal["vital"]
    name: Literal["LCP", "CLS", "INP", "FCP", "TTFB", "FID"]
    value: float = Field(ge=0)
    rating: Literal["good", "needs-improvement", "poor"] | None = None


class Span(_EventBase):
    """A backend span (OTLP). `session_id` is the browser session it was linked to."""

    kind: Literal["span"]
    trace_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    span_id: str = Field(pattern=r"^[0-9a-f]{16}$")
    parent_span_id: str | None = Field(None, pattern=r"^[0-9a-f]{16}$")
    name: str = Field(max_length=512)
    service: str | None = Field(None, max_length=256)
    span_kind: str | None = None
    duration_ms: float = Field(ge=0)
    status_code: Literal["unset", "ok", "error"] = "unset"
    http_method: str | None = None
    http_route: str | None = None
    http_target: str | None = None
    http_status: int | None = None
    attributes: dict[str, JsonValue] = Field(default_factory=dict)


class LogRecord(_EventBase):
    kind: Literal["log"]
    severity: str | None = None
    body: JsonValue = None
    service: str | None = None
    trace_id: str | None = Field(None, pattern=r"^[0-9a-f]{32}$")
    span_id: str | None = Field(None, pattern=r"^[0-9a-f]{16}$")
    attributes: dict[str, JsonValue] = Field(default_factory=dict)


Event = Annotated[
    PageView | Navigation | UiEvent | NetworkRequest | ErrorEvent | CustomEvent | WebVital | Span | LogRecord,
    Field(discriminator="kind"),
]
EVENT_ADAPTER: TypeAdapter[Any] = TypeAdapter(Event)
EVENT_KINDS = (
    "page_view",
    "navigation",
    "click",
    "input",
    "change",
    "submit",
    "key",
    "scroll",
    "request",
    "error",
    "custom",
    "vital",
    "span",
    "log",
)


class Session(BaseModel):
    """A session as stored: its events are in the `events` table, ordered by seq."""

    model_config = ConfigDict(extra="forbid")

    source: str
    session_id: SessionId
    user_id: str | None = None
    attributes: dict[str, JsonValue] = Field(default_factory=dict)
    events: list[Event] = Field(default_factory=list)


class BeaconBatch(BaseModel):
    """What rum.js posts to /v1/rum (and one line of a JSON Lines file).

    Events may omit `session_id`; they inherit the batch's. Invalid events are refused one by one.
    """

    model_config = ConfigDict(extra="forbid")

    session_id: SessionId
    user_id: str | None = Field(None, max_length=256)
    attributes: dict[str, JsonValue] = Field(default_factory=dict)
    events: list[dict[str, JsonValue]] = Field(max_length=5000)


def event_json_schema() -> dict[str, Any]:
    """The published JSON Schema: the event union, a session, and a beacon batch."""
    from pydantic.json_schema import models_json_schema

    _, schema = models_json_schema(
        [(Session, "validation"), (BeaconBatch, "validation")],
        title="Trodden event model",
    )
    return schema
