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

import base64
import binascii
import re
from collections import Counter
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from trodden.assertions.pointer import escape
from trodden.assertions.values import detect_format
from trodden.models.events import NetworkRequest
from trodden.models.suite import Extraction, HttpRequest
from trodden.synthesis.routes import segment_param

if TYPE_CHECKING:
    from trodden.synthesis.accounts import SessionAccount

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
# response headers whose value is a URL the client may request next (pagination cursors)
_URL_HEADERS = ("next-page", "content-location")
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


def id_named(name: str) -> bool:
    """A field named like an identifier (`id`, `order_id`, `orderId`, `/data/id`)."""
    return _ID_NAME.search(name.rsplit("/", 1)[-1]) is not None


def correlatable(name: str, value: Any) -> bool:
    """Worth tracking as a produced value: identifiers, tokens, long opaque strings, large ints."""
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, int):
        return value >= 10 if id_named(name) else value >= 1000
    if not isinstance(value, str) or len(value) < 4 or len(value) > 2048:
        return False
    if detect_format(value) in ("uuid", "hex", "email") or segment_param(value) is not None:
        return True
    return id_named(name) or (len(value) >= 12 and " " not in value)


_SHORT_ID = re.compile(r"^[A-Za-z0-9_\-.]{1,64}$")


def short_id(name: str, value: Any) -> bool:
    """A value too short or plain to correlate by its looks (`{"id": "8"}`, `{"id": 3}`) that a
    field named like an identifier carries: it is correlated by provenance only, when a later
    request reuses it where an identifier goes (a path segment, an id-named query or body field)."""
    if isinstance(value, bool) or value is None or not id_named(name):
        return False
    if isinstance(value, int):
        return value >= 0
    return isinstance(value, str) and _SHORT_ID.match(value) is not None


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
    unique: list[str] = field(default_factory=list)  # variables replay makes fresh per execution


def basic_parts(header_value: str) -> tuple[str, str] | None:
    """(user, password) of an HTTP Basic `Authorization` value, or None."""
    scheme, _, encoded = header_value.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return None
    try:
        user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def basic_template(user_var: str, password_var: str) -> str:
    """The `Authorization` value replay builds from two variables (see replay's templating)."""
    return f"Basic {{{{basic({user_var}, {password_var})}}}}"


def _leaves(doc: Any, pointer: str = "") -> list[tuple[str, Any]]:
    if isinstance(doc, dict):
        return [leaf for k, v in doc.items() for leaf in _leaves(v, f"{pointer}/{escape(str(k))}")]
    if isinstance(doc, list):
        return [leaf for i, v in enumerate(doc[:50]) for leaf in _leaves(v, f"{pointer}/{i}")]
    return [(pointer, doc)]


class _Correlator:
    def __init__(self, known: dict[str, str] | None = None) -> None:
        self.known = known or {}  # pseudonym -> the real test value (see unmask.py)
        # values the session chose itself and reuses (an account it signed up: see accounts.py)
        self.chosen: dict[str, str] = {}  # recorded value -> variable
        self.produced: dict[str, _Produced] = {}  # str(value) -> producer
        # short ids (see `short_id`), by value: the latest response that carried each
        self.short: dict[str, _Produced] = {}
        self.short_used: set[str] = set()  # short ids correlated once: still only where an id goes
        self.names: Counter[str] = Counter()
        self.variables: dict[str, Any] = {}
        self.email_vars: dict[str, str] = {}

    def _new_var(self, hint: str) -> str:
        base = var_name(hint)
        self.names[base] += 1
        return base if self.names[base] == 1 else f"{base}_{self.names[base]}"

    def offer(self, step: int, name: str, value: Any, source: str, path: str) -> None:
        key = str(value)
        if key in self.chosen:
            return
        held = self.produced.get(key)
        if held is not None:
            # The same value at a fixed place of the same response (a header, a field outside any
            # list) beats an item's position in a list: `/data/0/last_modified` is only there while
            # the list has items, which a test's fresh account may not have; the ETag always is.
            if (
                held.step == step
                and not held.used
                and _positional(held.extraction)
                and not _positional_path(source, path)
            ):
                ex = Extraction(var="", source=source, path=path, recorded=value)  # type: ignore[arg-type]
                self.produced[key] = _Produced("", step, ex)
            return
        if correlatable(name, value):
            ex = Extraction(var="", source=source, path=path, recorded=value)  # type: ignore[arg-type]
            self.produced[key] = _Produced("", step, ex)
        elif short_id(name, value):
            ex = Extraction(var="", source=source, path=path, recorded=value)  # type: ignore[arg-type]
            self.short[key] = _Produced("", step, ex)  # a later response carrying it again wins

    def use_short(self, value: Any) -> str | None:
        """The variable for a short id reused where an identifier goes: it becomes a produced value
        from then on (its producer fixed), like any other."""
        key = str(value)
        p = self.short.pop(key, None)
        if p is None:
            return None
        self.produced[key] = p
        self.short_used.add(key)
        return self.use(key)

    def offer_response(self, step: int, ev: NetworkRequest) -> None:
        for ptr, value in _leaves(ev.response_body) if isinstance(ev.response_body, dict | list) else []:
            if ptr.rsplit("/", 1)[-1].isdigit() and not _identifier(value):
                # An item of a list of plain values (`principals`, `roles`, `tags`) is correlated only
                # when it is an identifier: a name there is a constant the client knows itself
                # ("system.Everyone"), and the list's order may be a hash order that differs per run.
                continue
            self.offer(step, ptr, value, "json", ptr)
        headers = {k.lower(): v for k, v in ev.response_headers.items()}
        location = headers.get("location")
        if location:
            path = urlsplit(location).path
            for seg in path.split("/"):
                if seg and segment_param(seg) is not None:
                    self.offer(step, "location_id", seg, "location", _segment_regex(path, seg))
        if "etag" in headers:
            self.offer(step, "etag_token", headers["etag"], "header", "etag")  # sent back in If-Match
            opaque = _ETAG.match(headers["etag"])
            if opaque and opaque.group(1) != headers["etag"]:  # clients also send the tag unquoted (`_since=`)
                self.offer(step, "etag_token", opaque.group(1), "header", "etag " + _ETAG.pattern)
        for name in _URL_HEADERS:  # the next page's whole URL (`Next-Page`), opaque cursor included
            if headers.get(name, "").startswith(("http://", "https://", "/")):
                self.offer(step, name.replace("-", "_") + "_url", headers[name], "header", name)
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

    def substitute_text(self, text: str, context: str = "") -> str:
        """Replace produced values (long enough not to collide by chance) inside a string; a short
        id only where `context` (a field or header name) is named like an identifier."""
        if text in self.chosen:
            return "{{" + self.chosen[text] + "}}"
        var = self.use(text) if text not in self.short_used or id_named(context) else None
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
        if (
            isinstance(body, int)
            and str(body) in self.produced
            and (str(body) not in self.short_used or id_named(pointer))
        ):
            return "{{" + str(self.use(body)) + "}}"
        if isinstance(body, int | str) and str(body) in self.short and id_named(pointer):
            return "{{" + str(self.use_short(body)) + "}}"
        if isinstance(body, str):
            if body in self.chosen:
                return "{{" + self.chosen[body] + "}}"
            if body in self.known and body not in self.produced:
                return self.known[body]
            if detect_format(body) == "email" and str(body) not in self.produced:
                var = self.email_vars.get(body)
                if var is None:
                    var = self.email_vars[body] = self._new_var("email")
                    self.variables[var] = body
                return "{{" + var + "}}"
            return self.substitute_text(body, pointer)
        return body


def _identifier(value: Any) -> bool:
    """An identifier by its looks: an integer, a UUID, a hex digest, a path parameter's form."""
    if isinstance(value, int) and not isinstance(value, bool):
        return True
    return isinstance(value, str) and (detect_format(value) in ("uuid", "hex") or segment_param(value) is not None)


_ETAG = re.compile(r'^(?:W/)?"([^"]*)"$')  # an entity tag's opaque part (RFC 9110 8.8.3)


def _positional_path(source: str, path: str) -> bool:
    return source == "json" and any(part.isdigit() for part in path.split("/"))


def _positional(ex: Extraction) -> bool:
    """Read from an item of a list (`/data/0/id`): present only while the list has that item."""
    return _positional_path(ex.source, ex.path)


def _hint(p: _Produced) -> str:
    ex = p.extraction
    if ex.source == "location":
        return "location_id"
    return ex.path.split(" ", 1)[0].replace("-", "_")  # a header's name, without its regex


def _segment_regex(path: str, seg: str) -> str:
    """A regex over a Location path that captures the segment where `seg` was, e.g. /orders/([^/?#]+)."""
    parts = path.split("/")
    i = parts.index(seg)
    before = "/".join(re.escape(p) if segment_param(p) is None else "[^/?#]+" for p in parts[:i])
    return f"{before}/([^/?#]+)"


def correlate(
    requests: list[NetworkRequest], known: dict[str, str] | None = None, accounts: list[SessionAccount] | None = None
) -> Correlation:
    """Templates for a session's API requests (in order), with extractions and auth split out;
    `known` maps pseudonyms of known test values back to the values; `accounts` are the accounts
    the session created and then used (`accounts.session_accounts`): their credentials become
    variables, the name a unique one, and a Basic header sending them is built from them."""
    c = _Correlator(known)
    out: list[CorrelatedRequest] = []
    auth_headers: dict[str, str] = {}
    unique: list[str] = []
    passwords: dict[str, tuple[SessionAccount, str]] = {}  # a password -> its account and variable
    for account in accounts or []:
        for password, var in account.password_vars().items():
            c.chosen[password] = var
            c.variables[var] = password
            passwords[password] = (account, var)
        if account.user is not None:
            c.chosen[account.user] = account.user_var
            c.variables[account.user_var] = account.user
            unique.append(account.user_var)
    for i, ev in enumerate(requests):
        parts = urlsplit(ev.request_url)
        # the recorded path is already percent-encoded: segments are kept as they are
        segments = [_template_segment(c, seg) for seg in parts.path.split("/")]
        path = "/".join(segments) or "/"
        url = "{{origin}}" + path
        whole = c.use(ev.request_url) if ev.request_url in c.produced else None
        if whole is not None:  # a URL a response handed over (the next page): requested as given
            url = "{{" + whole + "}}"
        elif parts.query:
            query = [(k, _template_query(c, k, v)) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
            url += "?" + urlencode(query, safe="{}")
        headers: dict[str, str] = {}
        for name, value in ev.request_headers.items():
            low = name.lower()
            if low in DROP_HEADERS or low.startswith(("sec-", ":")):
                continue
            basic = _account_basic(c, value, passwords) if low in AUTH_HEADERS else None
            templated = basic if basic is not None else c.substitute_text(value, name)
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
    return Correlation(requests=out, variables=c.variables, auth_headers=auth_headers, unique=unique)


def _template_segment(c: _Correlator, seg: str) -> str:
    if seg in c.chosen:
        return "{{" + c.chosen[seg] + "}}"
    if seg in c.produced and (seg not in c.short_used or segment_param(seg) is not None):
        return "{{" + str(c.use(seg)) + "}}"
    if seg in c.short and seg not in c.produced and segment_param(seg) is not None:  # where the route has a parameter
        return "{{" + str(c.use_short(seg)) + "}}"
    return seg


def _template_query(c: _Correlator, key: str, value: str) -> str:
    if value in c.short and value not in c.produced and id_named(key):
        return "{{" + str(c.use_short(value)) + "}}"
    return c.substitute_text(value, key)


def _account_basic(c: _Correlator, value: str, passwords: dict[str, tuple[SessionAccount, str]]) -> str | None:
    """`Basic {{basic(account_id, account_password)}}` for a Basic header that sends a password of
    an account the session created (the one it set last: `account_password_2` after a change);
    None for any other value."""
    parts = basic_parts(value)
    if parts is None or parts[1] not in passwords:
        return None
    account, password_var = passwords[parts[1]]
    if account.user is None:  # only the password links them: the header's own user, as recorded
        c.variables.setdefault(account.user_var, parts[0])
    return basic_template(account.user_var, password_var)
