"""Correlation: values a response produced that a later request reuses become variables.

Walking a session's requests in order, every response offers candidate values (JSON leaves that
look like identifiers or tokens, `Location` and its id segments, `ETag`, cookies from
`Set-Cookie`, other custom headers). When a later request carries one of them (a path segment,
a query value, a header value, a JSON or form body leaf), the producing step gets an
`Extraction` and the request a `{{var}}` template, so the test works against a deployment whose
ids differ. Request headers the replay client manages itself (Cookie, Host, Content-Length,
browser `sec-*`) are dropped; credentials present before the session's first response
(the session started logged in) move to an auth profile.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from trodden.assertions.pointer import escape
from trodden.assertions.values import detect_format
from trodden.models.events import NetworkRequest
from trodden.models.suite import Extraction, HttpRequest
from trodden.synthesis.routes import segment_param

DROP_HEADERS = frozenset(
    {
        "cookie",
        "host",
        "content-length",
        "connection",
        "accept-encoding",
        "user-agent",
        "origin",
        "referer",
        "traceparent",
        "tracestate",
        "baggage",
        "if-none-match",
        "if-modified-since",
        "pragma",
        "cache-control",
    }
)
AUTH_HEADERS = frozenset({"authorization", "x-api-key", "x-auth-token"})
_ID_NAME = re.compile(r"(^|[_\-.])(id|uuid|guid|key|token|code|ref|number|nonce|csrf|secret)$|[a-z0-9]Id$", re.I)
_VOLATILE_HEADERS = frozenset(
    {
        "date",
        "content-length",
        "content-type",
        "server",
        "vary",
        "connection",
        "keep-alive",
        "cache-control",
        "expires",
        "last-modified",
        "transfer-encoding",
    }
)


def correlatable(name: str, value: Any) -> bool:
    """Worth tracking as a produced value: identifiers, tokens, long opaque strings, large ints."""
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, int):
        return value >= 10 if _ID_NAME.search(name) else value >= 1000
    if not isinstance(value, str) or len(value) < 4 or len(value) > 2048:
        return False
    if detect_format(value) in ("uuid", "hex", "email") or segment_param(value) is not None:
        return True
    return _ID_NAME.search(name) is not None or (len(value) >= 12 and " " not in value)


def var_name(hint: str) -> str:
    token = hint.rsplit("/", 1)[-1] or "value"
    token = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", token)
    token = re.sub(r"[^A-Za-z0-9]+", "_", token).strip("_").lower() or "value"
    return token if token[0].isalpha() else f"v_{token}"


@dataclass
class _Produced:
    var: str
    step: int
    extraction: Extraction
    used: bool = False


@dataclass
class CorrelatedRequest:
    request: HttpRequest
    extract: list[Extraction] = field(default_factory=list)


@dataclass
class Correlation:
    requests: list[CorrelatedRequest]
    variables: dict[str, Any]  # initial values (emails typed in by the user: replay may vary them)
    auth_headers: dict[str, str]  # credentials the session had before it started


def _leaves(doc: Any, pointer: str = "") -> list[tuple[str, Any]]:
    if isinstance(doc, dict):
        return [leaf for k, v in doc.items() for leaf in _leaves(v, f"{pointer}/{escape(str(k))}")]
    if isinstance(doc, list):
        return [leaf for i, v in enumerate(doc[:50]) for leaf in _leaves(v, f"{pointer}/{i}")]
    return [(pointer, doc)]


class _Correlator:
    def __init__(self, known: dict[str, str] | None = None) -> None:
        self.known = known or {}  # pseudonym -> the real test value (see unmask.py)
        self.produced: dict[str, _Produced] = {}  # str(value) -> producer
        self.names: Counter[str] = Counter()
        self.variables: dict[str, Any] = {}
        self.email_vars: dict[str, str] = {}

    def _new_var(self, hint: str) -> str:
        base = var_name(hint)
        self.names[base] += 1
        return base if self.names[base] == 1 else f"{base}_{self.names[base]}"

    def offer(self, step: int, name: str, value: Any, source: str, path: str) -> None:
        key = str(value)
        if key in self.produced or not correlatable(name, value):
            return
        ex = Extraction(var="", source=source, path=path, recorded=value)  # type: ignore[arg-type]
        self.produced[key] = _Produced("", step, ex)

    def offer_response(self, step: int, ev: NetworkRequest) -> None:
        for ptr, value in _leaves(ev.response_body) if isinstance(ev.response_body, dict | list) else []:
            self.offer(step, ptr, value, "json", ptr)
        headers = {k.lower(): v for k, v in ev.response_headers.items()}
        location = headers.get("location")
        if location:
            path = urlsplit(location).path
            for seg in path.split("/"):
                if seg and segment_param(seg) is not None:
                    self.offer(step, "location_id", seg, "location", _segment_regex(path, seg))
        if "etag" in headers:
            self.offer(step, "etag_token", headers["etag"], "header", "etag")
        cookie = headers.get("set-cookie")
        if cookie:
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(cookie)
            except Exception:  # malformed Set-Cookie: nothing to correlate
                jar = SimpleCookie()
            for morsel in jar.values():
                self.offer(step, morsel.key + "_token", morsel.value, "cookie", morsel.key)
        for name, value in headers.items():
            if name.startswith("x-") and name not in _VOLATILE_HEADERS and "request-id" not in name:
                self.offer(step, name.replace("-", "_") + "_token", value, "header", name)

    def use(self, value: Any) -> str | None:
        """The variable for a produced value, marking its extraction used."""
        p = self.produced.get(str(value))
        if p is None:
            return None
        if not p.used:
            p.used = True
            p.var = self._new_var(p.extraction.path if p.extraction.source == "json" else _hint(p))
            p.extraction.var = p.var
        return p.var

    def substitute_text(self, text: str) -> str:
        """Replace produced values (long enough not to collide by chance) inside a string."""
        var = self.use(text)
        if var is not None:
            return "{{" + var + "}}"
        if text in self.known:
            return self.known[text]
        for pseudonym, value in self.known.items():
            if len(pseudonym) >= 6 and pseudonym in text:
                text = text.replace(pseudonym, value)
        for key in sorted(self.produced, key=len, reverse=True):
            if len(key) >= 8 and key in text:
                var = self.use(key)
                text = text.replace(key, "{{" + str(var) + "}}")
        return text

    def substitute_body(self, body: Any, pointer: str = "") -> Any:
        if isinstance(body, dict):
            return {k: self.substitute_body(v, f"{pointer}/{k}") for k, v in body.items()}
        if isinstance(body, list):
            return [self.substitute_body(v, f"{pointer}/{i}") for i, v in enumerate(body)]
        if isinstance(body, bool) or body is None:
            return body
        if isinstance(body, int) and str(body) in self.produced:
            return "{{" + str(self.use(body)) + "}}"
        if isinstance(body, str):
            if body in self.known and body not in self.produced:
                return self.known[body]
            if detect_format(body) == "email" and str(body) not in self.produced:
                var = self.email_vars.get(body)
                if var is None:
                    var = self.email_vars[body] = self._new_var("email")
                    self.variables[var] = body
                return "{{" + var + "}}"
            return self.substitute_text(body)
        return body


def _hint(p: _Produced) -> str:
    ex = p.extraction
    if ex.source == "location":
        return "location_id"
    return ex.path.replace("-", "_")


def _segment_regex(path: str, seg: str) -> str:
    """A regex over a Location path that captures the segment where `seg` was, e.g. /orders/([^/?#]+)."""
    parts = path.split("/")
    i = parts.index(seg)
    before = "/".join(re.escape(p) if segment_param(p) is None else "[^/?#]+" for p in parts[:i])
    return f"{before}/([^/?#]+)"


def correlate(requests: list[NetworkRequest], known: dict[str, str] | None = None) -> Correlation:
    """Templates for a session's API requests (in order), with extractions and auth split out;
    `known` maps pseudonyms of known test values back to the values."""
    c = _Correlator(known)
    out: list[CorrelatedRequest] = []
    auth_headers: dict[str, str] = {}
    for i, ev in enumerate(requests):
        parts = urlsplit(ev.request_url)
        # the recorded path is already percent-encoded: segments are kept as they are
        segments = [("{{" + str(c.use(seg)) + "}}") if seg in c.produced else seg for seg in parts.path.split("/")]
        path = "/".join(segments) or "/"
        url = "{{origin}}" + path
        if parts.query:
            query = [(k, c.substitute_text(v)) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
            url += "?" + urlencode(query, safe="{}")
        headers: dict[str, str] = {}
        for name, value in ev.request_headers.items():
            low = name.lower()
            if low in DROP_HEADERS or low.startswith(("sec-", ":")):
                continue
            templated = c.substitute_text(value)
            if low in AUTH_HEADERS and templated == value:
                auth_headers.setdefault(name, value)  # not produced in the session: it came logged in
                continue
            headers[name] = templated
        body: Any = ev.request_body
        kind: str | None = None
        ctype = next((v for k, v in ev.request_headers.items() if k.lower() == "content-type"), "")
        if isinstance(body, str) and "x-www-form-urlencoded" in ctype:
            body, kind = dict(parse_qsl(body, keep_blank_values=True)), "form"
        elif isinstance(body, dict | list):
            kind = "json"
        elif isinstance(body, str):
            kind = "text"
        if body is not None:
            body = c.substitute_body(body)
        out.append(
            CorrelatedRequest(
                HttpRequest(method=ev.method.upper(), url=url, headers=headers, body=body, body_kind=kind)
            )
        )  # type: ignore[arg-type]
        c.offer_response(i, ev)
    for p in c.produced.values():
        if p.used:
            out[p.step].extract.append(p.extraction)
    return Correlation(requests=out, variables=c.variables, auth_headers=auth_headers)
