"""A step's recorded expectation: what its recorded response promises, and how a response is
judged against it.

When the status differs, nothing else is reported (the body of another status says nothing more
about this regression). `shape` fails on a missing or mistyped field; `values` and `formats` judge
a field only when it is there (and, for formats, not null). Content types compare by media type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field

from trodden.assertions.base import IRModel
from trodden.assertions.observation import Observation, media_type, preview
from trodden.assertions.pointer import MISSING, resolve
from trodden.assertions.values import format_matches, same_value, type_matches, type_name
from trodden.pages import page_path


class Expectation(IRModel):
    """What a step's recorded response promises. Volatile values are checked by format only."""

    status: int | None = None
    shape: dict[str, str] = Field(default_factory=dict)  # JSON pointer -> type name (object, array, string, ...)
    values: dict[str, Any] = Field(default_factory=dict)  # JSON pointer -> value stable across sessions
    formats: dict[str, str] = Field(default_factory=dict)  # JSON pointer -> uuid|email|url|date|datetime|numeric|...
    headers: dict[str, str] = Field(default_factory=dict)  # stable response headers (e.g. content-type)


@dataclass(frozen=True)
class Unmet:
    """One part of a recorded expectation the response did not meet."""

    id: str  # "expect:status", "expect:type:/price", ...
    kind: str
    description: str  # "recorded expectation: ..."
    expected: Any
    actual: Any
    field: str | None = None
    message: str = ""  # one line for people reading a test's output

    def show(self) -> str:
        return self.message


def check_expectation(expect: Expectation, obs: Observation, *, status_only: bool = False) -> list[Unmet]:
    if expect.status is not None and obs.status != expect.status:
        return [
            Unmet(
                "expect:status",
                "status",
                "recorded expectation: status",
                expect.status,
                obs.status,
                "status",
                f"status {obs.status}, expected {expect.status}",
            )
        ]
    if status_only:
        return []
    unmet: list[Unmet] = []
    for name, value in expect.headers.items():
        actual = obs.headers.get(name.lower())
        if name.lower() == "content-type":
            same = media_type(actual) == media_type(value)
        else:
            same = (actual or "").strip() == value.strip()
        if not same:
            message = f"header {name}: {actual!r}, expected {value!r}"
            unmet.append(
                Unmet(
                    f"expect:header:{name.lower()}",
                    "header",
                    f"recorded expectation: header {name}",
                    value,
                    actual,
                    f"header:{name.lower()}",
                    message,
                )
            )
    if not (expect.shape or expect.values or expect.formats):
        return unmet
    if not obs.is_json:
        body = preview(obs.body)
        unmet.append(
            Unmet(
                "expect:json",
                "type",
                "recorded expectation: a JSON response body",
                "JSON",
                body,
                None,
                f"expected a JSON body, got {body!r}",
            )
        )
        return unmet
    for pointer, typ in expect.shape.items():
        value = resolve(obs.body, pointer)
        where = pointer or "/"
        if value is MISSING:
            what = f"recorded expectation: field {pointer} is present"
            unmet.append(
                Unmet(
                    f"expect:present:{pointer}",
                    "present",
                    what,
                    f"a {typ}",
                    MISSING,
                    pointer,
                    f"{where} missing (expected {typ})",
                )
            )
        elif not type_matches(value, typ):
            unmet.append(
                Unmet(
                    f"expect:type:{pointer}",
                    "type",
                    f"recorded expectation: type of {pointer}",
                    typ,
                    f"{type_name(value)}: {preview(value)}",
                    pointer,
                    f"{where} is {type_name(value)}, expected {typ}",
                )
            )
    for pointer, recorded in expect.values.items():
        value = resolve(obs.body, pointer)
        expected = own_origin(recorded, obs.url)
        if value is not MISSING and not same_value(value, expected):
            unmet.append(
                Unmet(
                    f"expect:value:{pointer}",
                    "value",
                    f"recorded expectation: value of {pointer}",
                    expected,
                    value,
                    pointer,
                    f"{pointer} = {value!r}, expected {expected!r}",
                )
            )
    for pointer, fmt in expect.formats.items():
        value = resolve(obs.body, pointer)
        if value is not MISSING and value is not None and not format_matches(value, fmt):
            unmet.append(
                Unmet(
                    f"expect:format:{pointer}",
                    "format",
                    f"recorded expectation: format of {pointer}",
                    fmt,
                    value,
                    pointer,
                    f"{pointer} = {value!r} is not a {fmt}",
                )
            )
    return unmet


ORIGIN_TOKEN = "{{origin}}"


def own_origin(recorded: Any, url: str) -> Any:
    """A recorded value that named the service's own origin (stored as `{{origin}}…`: a service
    echoing its own URL) names the origin of the exchange being judged instead."""
    if not isinstance(recorded, str) or ORIGIN_TOKEN not in recorded:
        return recorded
    parts = urlsplit(url)
    return recorded.replace(ORIGIN_TOKEN, f"{parts.scheme.lower()}://{parts.netloc.lower()}")


def page_url_matches(actual: str, expected: str) -> bool:
    """Whether a page's URL is the one a browser step expects. `expected` is a page path (with the
    route an SPA keeps in the fragment: `/#/orders/{id}`), with a query when the recording had one;
    a route template's `{param}` segments match any one segment, and regex metacharacters in a
    recorded path are literal."""
    parts = urlsplit(actual)
    wanted = urlsplit(expected)
    if wanted.query:
        return f"{parts.path}?{parts.query}" == f"{wanted.path}?{wanted.query}"
    pattern = re.sub(r"\\\{[^/]*?\\\}", "[^/]+", re.escape(page_path(expected).rstrip("/")))
    return re.fullmatch(pattern, page_path(actual).rstrip("/")) is not None
