"""What an HTTP step sends and takes: `{{var}}` templates, the request, redirects, extractions.

Templates are filled from the variables a test has gathered so far. `{{origin}}` is the target's
origin; absolute URLs on the recorded origin are rewritten to the target as well, so a suite
recorded on production can never send a request there by accident through a URL the generator
did not template. Replay (aiohttp, Playwright's request API) and the exported pytest files
(requests) build their requests and read their extractions here, so they send the same bytes.
"""

from __future__ import annotations

import base64
import re
import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urljoin, urlsplit

import orjson

from trodden.assertions.observation import Observation
from trodden.assertions.pointer import MISSING, resolve

if TYPE_CHECKING:
    from trodden.models.suite import Extraction, HttpStep

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Safe methods (RFC 9110 9.2.1) a replay may send twice: a 503 is asked once more.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Headers a recording carries that must not be replayed as they were.
DROP_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "connection",
        "cookie",
        "transfer-encoding",
        "accept-encoding",
        "keep-alive",
        "upgrade",
        "te",
        "trailer",
    }
)
MAX_REDIRECTS = 5

_VAR = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*\}\}")
# `{{basic(user, password)}}`: an HTTP Basic credential from two variables
_BASIC = re.compile(r"\{\{\s*basic\(\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*,\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*\)\s*\}\}")
_UNIQUE_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"


class MissingVariable(KeyError):
    """A template names a variable no earlier step extracted."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"variable {{{{{self.name}}}}} was never extracted"


def origin_of(url: str) -> str:
    """ "scheme://host:port" with the default port left out and everything lower-cased."""
    parts = urlsplit(url.strip())
    scheme = (parts.scheme or "http").lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    if port is None or (scheme, port) in (("http", 80), ("https", 443)):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def target_base(target: str) -> str:
    """What `{{origin}}` becomes: the target URL without a trailing slash (a path prefix is kept,
    for targets served under one)."""
    return target.strip().rstrip("/")


def _stringify(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _lookup(variables: dict[str, Any], name: str) -> Any:
    if name not in variables:
        raise MissingVariable(name)
    return variables[name]


def render(template: str, variables: dict[str, Any]) -> str:
    if "{{" not in template:
        return template

    def substitute(match: re.Match[str]) -> str:
        return _stringify(_lookup(variables, match.group(1)))

    def basic(match: re.Match[str]) -> str:
        user, password = (_stringify(_lookup(variables, match.group(i))) for i in (1, 2))
        return base64.b64encode(f"{user}:{password}".encode()).decode("ascii")

    return _VAR.sub(substitute, _BASIC.sub(basic, template))


def unique_value(recorded: Any) -> str:
    """A fresh value in the recorded one's place: the recorded value with a random suffix (inside
    an email's local part), so it still reads like it and passes the same validation."""
    suffix = "".join(secrets.choice(_UNIQUE_ALPHABET) for _ in range(8))
    text = _stringify(recorded)
    local, at, domain = text.rpartition("@")
    if at and local:
        return f"{local}-{suffix}@{domain}"
    return f"{text}-{suffix}" if text else suffix


def make_unique(variables: dict[str, Any], names: list[str]) -> None:
    """Give each of `names` a fresh value (see `TestCase.unique`): state a test creates, such as an
    account it signs up, never collides with an earlier execution's."""
    for name in names:
        if name in variables:
            variables[name] = unique_value(variables[name])


def render_value(value: Any, variables: dict[str, Any]) -> Any:
    """Fill templates in every string leaf. A string that is exactly one `{{var}}` takes the
    variable's own type (a recorded numeric id stays a number in a JSON body)."""
    if isinstance(value, str):
        whole = _VAR.fullmatch(value)
        if whole:
            name = whole.group(1)
            if name not in variables:
                raise MissingVariable(name)
            return variables[name]
        return render(value, variables)
    if isinstance(value, dict):
        return {k: render_value(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, variables) for v in value]
    return value


def render_url(template: str, variables: dict[str, Any], target: str, recorded_origin: str | None) -> str:
    """The request URL for the target: templates filled, the recorded origin replaced, and a
    relative path made absolute on the target."""
    base = target_base(target)
    url = render(template.replace("{{origin}}", base), variables)
    if recorded_origin:
        origin = recorded_origin.rstrip("/")
        rest = url[len(origin) :]
        if url.lower().startswith(origin.lower()) and (not rest or rest[0] in "/?#"):
            return base + rest
    if url.startswith("/"):
        return base + url
    return url


def is_unsafe(step: HttpStep) -> bool:
    """A step that changes state: marked so, or by its method."""
    return step.unsafe or step.request.method.upper() in UNSAFE_METHODS


class ForeignOrigin(Exception):
    """An unsafe request whose URL is neither on the target nor templated to it (a third party
    the session talked to, such as a payment provider): never sent."""

    def __init__(self, url: str) -> None:
        super().__init__(f"unsafe request to {origin_of(url)}, which is not the target: not sent")
        self.url = url


def request_headers(step: HttpStep, variables: dict[str, Any], drop: frozenset[str] = DROP_HEADERS) -> dict[str, str]:
    """The step's recorded headers, filled, without those a client sets itself."""
    return {k: render(v, variables) for k, v in step.request.headers.items() if k.lower() not in drop}


def request_body(step: HttpStep, variables: dict[str, Any], headers: dict[str, str]) -> bytes | str | None:
    """The step's body, filled and encoded by its `body_kind`; sets a missing Content-Type."""
    body = step.request.body
    if body is None:
        return None
    filled = render_value(body, variables)
    kind = step.request.body_kind or ("json" if isinstance(filled, dict | list) else "text")
    lower = {k.lower() for k in headers}
    if kind == "json":
        if "content-type" not in lower:
            headers["Content-Type"] = "application/json"
        return filled if isinstance(filled, str) else orjson.dumps(filled)
    if kind == "form":
        if "content-type" not in lower:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        return urlencode(filled, doseq=True) if isinstance(filled, dict) else str(filled)
    return filled if isinstance(filled, str) else orjson.dumps(filled)


def request_url(step: HttpStep, variables: dict[str, Any], target: str, recorded_origin: str | None) -> str:
    """The step's URL on the target; `ForeignOrigin` for an unsafe request anywhere else."""
    url = render_url(step.request.url, variables, target, recorded_origin)
    if is_unsafe(step) and origin_of(url) != origin_of(target):
        raise ForeignOrigin(url)
    return url


def follows_redirects(step: HttpStep) -> bool:
    """Redirects are followed unless the recording expects the 3xx itself (HAR records each hop;
    beacons see the final response)."""
    return not (step.expect.status is not None and 300 <= step.expect.status < 400)


def redirect(
    method: str, url: str, status: int, location: str | None, *, headers: dict[str, str], data: bytes | str | None
) -> tuple[str, str, dict[str, str], bytes | str | None] | None:
    """The next hop after a response (method, url, headers, body), or None when there is none."""
    if not (300 <= status < 400 and location):
        return None
    url = urljoin(url, location)
    if status in (301, 302, 303) and method not in ("GET", "HEAD"):
        return "GET", url, {k: v for k, v in headers.items() if k.lower() != "content-type"}, None
    return method, url, headers, data


def parse_body(raw: bytes, content_type: str) -> tuple[Any, bool]:
    """(parsed body, is JSON). JSON is recognised by content type or by its first byte."""
    if not raw:
        return MISSING, False
    head = raw.lstrip()[:1]
    if "json" in content_type or head in (b"{", b"["):
        try:
            return orjson.loads(raw), True
        except orjson.JSONDecodeError:
            pass
    return raw.decode("utf-8", errors="replace"), False


def extract(ex: Extraction, obs: Observation, cookies: dict[str, str]) -> Any:
    """The value `ex` takes from an exchange, or MISSING."""
    if ex.source == "json":
        return resolve(obs.body, ex.path) if obs.is_json else MISSING
    if ex.source == "header":  # "etag", or a name then a regex over its value: 'etag ^W?/?"?([^"]*)'
        name, _, pattern = ex.path.partition(" ")
        value = obs.headers.get(name.lower(), MISSING)
        return _regex(pattern, value) if pattern and isinstance(value, str) else value
    if ex.source == "cookie":
        return cookies.get(ex.path, MISSING)
    if ex.source == "location":
        location = obs.headers.get("location")
        if location is None:
            return MISSING
        return _regex(ex.path, location) if ex.path else location
    if ex.source == "regex":
        return _regex(ex.path, body_text(obs.body))
    if ex.source == "url":
        return _regex(ex.path, obs.url) if ex.path else obs.url
    return MISSING


def body_text(body: Any) -> str:
    """A body as the text regex extractions search: text as it came, JSON re-serialised compactly."""
    if body is MISSING:
        return ""
    return body if isinstance(body, str) else orjson.dumps(body).decode()


def _regex(pattern: str, text: str) -> Any:
    try:
        match = re.search(pattern, text)
    except re.error:
        return MISSING
    if match is None:
        return MISSING
    return match.group(1) if match.groups() else match.group(0)
