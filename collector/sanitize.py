"""The PII sanitiser: raw personal data never reaches the store.

Built-in rules find emails, card numbers (Luhn-checked), phone numbers, IBANs (mod-97-checked),
JWTs, bearer/basic credentials, passwords and other secrets by field name, `Authorization`/`Cookie`/
`Set-Cookie` headers and IP addresses; user rules (`trodden.models.sanitization`) add JSON paths,
header names, query parameters and regexes. Values are replaced by keyed pseudonyms
(`Pseudonymizer`) that depend only on the value, so a token keeps matching itself wherever it
appears (response body, `Authorization` header, cookie).

Cost: every string first meets a cheap character pre-check; the combined regex runs only on the
strings that could hold something (a digit, an `@`, a colon, a JWT prefix, a credential scheme).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from functools import cache, lru_cache
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from trodden.collector.pseudonym import Pseudonymizer, iban_valid, luhn_valid

from trodden.models.sanitization import SanitizationConfig, SanitizationRule

REDACTED = "[redacted]"
_DROP = object()

_PRECHECK = re.compile(r"[\d@:]|eyJ|[Bb]earer|[Bb]asic")
_JWT = r"eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*"
# The built-in patterns, in the order the alternation tries them.
_PII_PARTS = {
    "jwt": rf"(?P<jwt>{_JWT})",
    "bearer": r"(?P<bearer>\b[Bb]earer\s+)(?P<bearer_token>[A-Za-z0-9._~+/=-]{6,})",
    "basic": r"(?P<basic>\b[Bb]asic\s+)(?P<basic_token>[A-Za-z0-9+/]{4,}={0,2})",
    "email": r"(?P<email>[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})",
    "iban": r"(?P<iban>\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b)",
    "card": r"(?P<card>(?<![\w.-])\d(?:[ -]?\d){11,18}(?![\w.-]))",
    "ipv4": r"(?P<ipv4>(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}"
    r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\w.]))",
    "ipv6": r"(?P<ipv6>(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:]))",
    # Phones: formatted ("(555)123-4567", "+1-555-123-4567x89", "555.123.4567") or a bare
    # run of 10-11 digits. Bare shorter runs are ids and prices, not phones.
    "phone": r"(?P<phone>(?<![\w+])(?:\+\d{1,3}[ .-]?|00\d{1,3}[ .-]?)?"
    r"(?:\(\d{2,4}\)\s?|\d{2,4}[ .-])\d{2,4}[ .-]?\d{3,4}"
    r"(?:\s?(?:x|ext\.?)\s?\d{1,6})?(?!\w)|(?<![\w+.-])\d{10,11}(?![\w.-]))",
}
_PII = re.compile("|".join(_PII_PARTS.values()))
_NAMES = tuple(_PII_PARTS)
_NOT_DIGITS = {c: None for c in range(128) if not 48 <= c <= 57}


@cache
def _pii_subset(mask: int) -> re.Pattern[str]:
    return re.compile("|".join(_PII_PARTS[name] for i, name in enumerate(_NAMES) if mask >> i & 1))


def _pii_for(value: str) -> re.Pattern[str] | None:
    r"""The alternation of only those patterns that could match somewhere in `value`, or None.

    Python's regex engine tries every alternative at every position, ~0.5 µs per character for
    the whole of `_PII`. Each pattern needs something cheap to check (an `@`, "eyJ", enough digits,
    two colons...); one whose need is unmet cannot match anywhere, so leaving it out changes no
    match: the result is exactly `_PII`'s. Non-ASCII text (where `\d` reaches other scripts'
    digits) gets the whole pattern.
    """
    if not value.isascii():
        return _PII
    digits = len(value.translate(_NOT_DIGITS))
    mask = (
        ("eyJ" in value)
        | ("earer" in value) << 1
        | ("asic" in value) << 2
        | ("@" in value) << 3
        | (digits >= 2 and value.lower() != value) << 4  # iban: two capitals, two digits
        | (digits >= 12) << 5  # card
        | (digits >= 4 and value.count(".") >= 3) << 6  # ipv4
        | (value.count(":") >= 2) << 7  # ipv6
        | (digits >= 7) << 8  # phone
    )
    return _pii_subset(mask) if mask else None


# Field names whose values are secrets or personal data whatever they look like.
_SECRET_KEY = re.compile(
    r"pass(?:word|wd|phrase)?$|^pwd$|secret|token|api[-_]?key|credential|^otp$|cvv|cvc|^ssn$|^pin$|private[-_]?key",
    re.I,
)
_EMAIL_KEY = re.compile(r"e-?mail", re.I)
_PHONE_KEY = re.compile(r"phone|^tel$|mobile|^fax$|msisdn", re.I)
_CARD_KEY = re.compile(r"card[-_]?num|^pan$|cc[-_]?num|cardnumber", re.I)
_IP_KEY = re.compile(
    r"(?:^|[-_.])ip(?:[-_]?addr(?:ess)?)?$|remote[-_]addr|forwarded-for|real-ip|client[-_.]address", re.I
)
_AUTH_HEADERS = {"authorization", "proxy-authorization"}
_URL_FIELDS = {"url", "request_url", "referrer", "from_url", "to_url", "source", "http_target"}
_BODY_FIELDS = {"request_body", "response_body", "properties", "attributes", "body"}
_HEADER_FIELDS = {"request_headers", "response_headers"}
_KEEP_FIELDS = {
    "kind",
    "session_id",
    "seq",
    "ts",
    "trace_id",
    "span_id",
    "parent_span_id",
    "method",
    "initiator",
    "status",
    "duration_ms",
    "error_type",
    "trigger",
    "key",
    "masked",
    "rating",
    "body_truncated",
    "status_code",
    "span_kind",
    "http_status",
    "severity",
}
_SAFE_IPS_V4 = ("127.", "0.0.0.0")


@lru_cache(maxsize=16384)
def _key_class(key: str) -> str | None:
    """Which built-in rule a field name calls for (the rule's name), or None."""
    if _SECRET_KEY.search(key):
        return "password"
    if _EMAIL_KEY.search(key):
        return "email"
    if _PHONE_KEY.search(key):
        return "phone"
    if _CARD_KEY.search(key):
        return "card"
    if _IP_KEY.search(key):
        return "ip"
    return None


def _parse_json_path(path: str) -> tuple[str, ...]:
    """ "$.customer.name", "$.items[*].email", "customer.name" → ("customer", "name")."""
    path = path.strip()
    if path.startswith("$"):
        path = path[1:]
    path = path.replace("[*]", ".*")
    path = re.sub(r"\[(\d+)\]", r".\1", path)
    path = re.sub(r"\[['\"]([^'\"]+)['\"]\]", r".\1", path)
    return tuple(p for p in path.split(".") if p)


class Sanitizer:
    """Sanitises events (as dicts, before validation) for one source."""

    def __init__(self, key: bytes, config: SanitizationConfig | None = None) -> None:
        self.pseudo = Pseudonymizer(key)
        self.config = config or SanitizationConfig()
        off = set(self.config.disable_builtins)
        self._on = {
            name: name not in off
            for name in ("email", "card", "phone", "iban", "jwt", "bearer", "ip", "password", "auth_headers")
        }
        rules = self.config.rules
        self._json_paths = [(_parse_json_path(r.match), r) for r in rules if r.kind == "json_path"]
        self._headers = {r.match.lower(): r for r in rules if r.kind == "header"}
        self._query = {r.match: r for r in rules if r.kind == "query_param"}
        self._regexes = [(re.compile(r.match), r) for r in rules if r.kind == "regex"]
        # Sessions repeat their URLs, selectors and texts: the same input always gives the same output.
        self.text: Callable[[str], str] = lru_cache(maxsize=131072)(self._text)
        self.url: Callable[[str], str] = lru_cache(maxsize=65536)(self._url)
        # Requests repeat their headers, bodies their field names: one lookup each instead of a walk.
        self.header_value: Callable[[str, str], Any] = lru_cache(maxsize=65536)(self._header_value)
        self.json_key: Callable[[str], str | None] = lru_cache(maxsize=65536)(self._json_key)

    # -- events ---------------------------------------------------------------------------------
    def event(self, event: dict[str, Any], skip: frozenset[str] = frozenset()) -> dict[str, Any]:
        """One event (a dict as the client sent it, already validated), sanitised field by field;
        the fields in `skip` are left out (the collector stores some fields as columns)."""
        out: dict[str, Any] = {}
        text = self.text
        for field, value in event.items():
            if field in skip:
                continue
            cls = value.__class__
            if value is None or cls is bool or cls is int or cls is float or field in _KEEP_FIELDS:
                out[field] = value
            elif field in _URL_FIELDS and cls is str:
                out[field] = self.url(value)
            elif field in _HEADER_FIELDS and cls is dict:
                out[field] = self.headers(value)
            elif field in _BODY_FIELDS:
                out[field] = self.body(value)
            elif field == "value" and cls is str:
                out[field] = self.input_value(value, event)
            elif field == "target" and cls is dict:
                out[field] = {k: text(v) if v.__class__ is str else v for k, v in value.items()}
            elif cls is str:
                out[field] = text(value)
            else:
                out[field] = self.json(value, ())
        return out

    def input_value(self, value: str, event: dict[str, Any]) -> str:
        if not value:
            return value
        if event.get("masked"):
            return self.pseudo.token(value)
        target = event.get("target")
        if isinstance(target, dict):
            for hint in (target.get("id"), target.get("name"), target.get("test_id")):
                if isinstance(hint, str) and hint:
                    keyed = self._by_key(hint, value)
                    if keyed is not None:
                        return str(keyed)
        return self.text(value)

    def user_id(self, value: str | None) -> str | None:
        return None if value is None else self.text(value)

    # -- structures -----------------------------------------------------------------------------
    def body(self, value: Any) -> Any:
        if isinstance(value, str) and "=" in value and " " not in value and not value.startswith(("{", "[")):
            return self.form(value)
        return self.json(value, ())

    def json(self, value: Any, path: tuple[str, ...]) -> Any:
        """A JSON value with every string sanitised, rules by field name and JSON path applied."""
        cls = value.__class__
        if cls is str:
            return self.text(value)
        if cls is dict:
            out: dict[str, Any] = {}
            text = self.text
            for k, v in value.items():
                key = k if k.__class__ is str else str(k)
                if self._json_paths:
                    ruled = self._json_path_rule((*path, key))
                    if ruled is not None:
                        result = self._apply(ruled, v)
                        if result is not _DROP:
                            out[key] = result
                        continue
                clean_key = self.json_key(key)
                if clean_key is None:  # a field name with a rule of its own
                    clean_key = text(key)
                    keyed = self._by_key(key, v)
                    if keyed is not None:
                        out[clean_key] = keyed
                        continue
                vcls = v.__class__
                if vcls is str:
                    out[clean_key] = text(v)
                elif vcls is dict or vcls is list:
                    out[clean_key] = self.json(v, (*path, key) if self._json_paths else path)
                else:
                    out[clean_key] = v
            return out
        if cls is list:
            child = (*path, "*") if self._json_paths else path
            return [self.json(v, child) for v in value]
        return value

    def headers(self, headers: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        header_value = self.header_value
        for name, raw in headers.items():
            result = header_value(name, raw if raw.__class__ is str else str(raw))
            if result is not _DROP:
                out[name] = result
        return out

    def _header_value(self, name: str, value: str) -> Any:
        """One header's sanitised value (`_DROP` when a rule drops it); a function of name and value only."""
        lname = name.lower()
        rule = self._headers.get(lname)
        if rule is not None:
            return self._apply(rule, value)
        if self._on["auth_headers"] and lname in _AUTH_HEADERS:
            return self.authorization(value)
        if self._on["auth_headers"] and lname == "cookie":
            return self.cookie(value)
        if self._on["auth_headers"] and lname == "set-cookie":
            return "\n".join(self.set_cookie(line) for line in value.split("\n"))
        keyed = self._by_key(lname, value)
        return keyed if keyed is not None else self.text(value)

    def _json_key(self, key: str) -> str | None:
        """A JSON field name, sanitised; None when the name calls for a rule on its value."""
        return None if _key_class(key) is not None else self.text(key)

    def authorization(self, value: str) -> str:
        scheme, sep, credentials = value.strip().partition(" ")
        if not sep:
            return self.secret(value)
        if scheme.lower() == "basic":
            return f"{scheme} {self.pseudo.basic(credentials.strip(), self.text_or_token)}"
        return f"{scheme} {self.secret(credentials.strip())}"

    def cookie(self, value: str) -> str:
        parts = []
        for piece in value.split(";"):
            name, sep, val = piece.partition("=")
            parts.append(f"{name}{sep}{self.secret(val) if sep and val else val}")
        return ";".join(parts)

    def set_cookie(self, line: str) -> str:
        first, sep, rest = line.partition(";")
        name, eq, val = first.partition("=")
        return f"{name}{eq}{self.secret(val) if eq and val else val}{sep}{rest}"

    def secret(self, value: str) -> str:
        """A credential: a JWT keeps its structure with pseudonymised claims, anything else its shape."""
        if not value:
            return value
        if self._on["jwt"] and value.startswith("eyJ") and value.count(".") >= 2:
            return self.pseudo.jwt(value, self._claims)
        return self.pseudo.token(value)

    def text_or_token(self, value: str) -> str:
        """For a user name inside credentials: an email stays an email, anything else is a token."""
        changed = self.text(value)
        return changed if changed != value else self.pseudo.token(value)

    def _claims(self, claims: object) -> object:
        if not isinstance(claims, dict):
            return self.json(claims, ())
        out: dict[str, Any] = {}
        for k, v in claims.items():
            if k in ("alg", "typ", "iss", "aud", "exp", "iat", "nbf", "scope", "kid", "azp") or not isinstance(v, str):
                out[k] = v if k in ("exp", "iat", "nbf") or not isinstance(v, dict | list) else self.json(v, ())
            else:
                keyed = self._by_key(k, v)
                out[k] = keyed if keyed is not None else self.text_or_token(v)
        return out

    def form(self, value: str) -> str:
        try:
            pairs = parse_qsl(value, keep_blank_values=True, strict_parsing=True)
        except ValueError:
            return self.text(value)
        cleaned = [(k, self._param(k, v)) for k, v in pairs]
        return value if cleaned == pairs else urlencode(cleaned)

    def _url(self, value: str) -> str:
        """Scheme and host kept (they are addresses, not people); credentials, path, query and fragment sanitised."""
        if not _PRECHECK.search(value) and "%" not in value:
            return value
        try:
            parts = urlsplit(value)
        except ValueError:
            return self.text(value)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, host = netloc.rpartition("@")
            user, sep, password = userinfo.partition(":")
            secret = self.pseudo.token(password) if password else ""
            netloc = f"{quote(self.text_or_token(unquote(user)), safe='')}{sep}{secret}@{host}"
        path = "/".join(
            quote(self.text(unquote(seg)), safe="@:+,;=!$&'()*~") if _PRECHECK.search(unquote(seg)) else seg
            for seg in parts.path.split("/")
        )
        query = parts.query
        if query:
            try:
                pairs = parse_qsl(query, keep_blank_values=True)
                query = urlencode([(k, self._param(k, v)) for k, v in pairs])
            except ValueError:
                query = self.text(query)
        fragment = (
            self.text(unquote(parts.fragment))
            if parts.fragment and _PRECHECK.search(unquote(parts.fragment))
            else parts.fragment
        )
        return urlunsplit((parts.scheme, netloc, path, query, fragment))

    def _param(self, name: str, value: str) -> str:
        rule = self._query.get(name)
        if rule is not None:
            result = self._apply(rule, value)
            return "" if result is _DROP else str(result)
        keyed = self._by_key(name, value)
        return keyed if isinstance(keyed, str) else self.text(value)

    # -- scalar rules -----------------------------------------------------------------------------
    def _by_key(self, key: str, value: Any) -> Any:
        """Rules by field name; None when the name says nothing."""
        kind = _key_class(key)
        if kind is None or not isinstance(value, str | int) or isinstance(value, bool):
            return None
        text = str(value)
        if not text or not self._on[kind]:
            return None
        if kind == "password":
            return self.secret(text)
        if kind == "email":
            return self.text(text) if isinstance(value, str) and "@" in text else None
        digits = sum(c.isdigit() for c in text)
        if kind == "phone" and digits >= 5:
            return self.pseudo.phone(text) if isinstance(value, str) else int(self.pseudo.phone(text))
        if kind == "card" and 12 <= digits <= 19:
            return self.pseudo.card(text) if isinstance(value, str) else int(self.pseudo.card(text))
        if kind == "ip" and isinstance(value, str):
            return ", ".join(self._ip_or_text(p.strip()) for p in text.split(","))
        return None

    def _ip_or_text(self, value: str) -> str:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            return self.text(value)
        return self.pseudo.ip(value)

    def _json_path_rule(self, path: tuple[str, ...]) -> SanitizationRule | None:
        for pattern, rule in self._json_paths:
            if len(pattern) == len(path) and all(p in ("*", k) for p, k in zip(pattern, path, strict=True)):
                return rule
        return None

    def _apply(self, rule: SanitizationRule, value: Any) -> Any:
        if rule.action == "drop":
            return _DROP
        if rule.action == "redact":
            return REDACTED
        if isinstance(value, str):
            # A value that is one recognisable thing keeps its shape; anything else is pseudonymised whole.
            return self.text(value) if _PII.fullmatch(value) else self.secret(value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return type(value)(self.pseudo.phone(str(value)).replace("-", "")) if isinstance(value, int) else value
        return self.json(self._pseudonymize_all(value), ())

    def _pseudonymize_all(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.secret(value)
        if isinstance(value, dict):
            return {k: self._pseudonymize_all(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._pseudonymize_all(v) for v in value]
        return value

    def _text(self, value: str) -> str:
        pattern = _pii_for(value)
        if pattern is not None:
            value = pattern.sub(self._replace, value)
        for pattern, rule in self._regexes:
            value = pattern.sub(self._regex_replacer(rule), value)
        return value

    def _regex_replacer(self, rule: SanitizationRule) -> Callable[[re.Match[str]], str]:
        def replace(m: re.Match[str]) -> str:
            if rule.action == "drop":
                return ""
            if rule.action == "redact":
                return REDACTED
            return self.pseudo.token(m.group(0))

        return replace

    def _replace(self, m: re.Match[str]) -> str:
        kind = m.lastgroup
        text = m.group(0)
        on = self._on
        if kind == "jwt":
            return self.secret(text) if on["jwt"] else text
        if kind == "bearer_token":
            return m.group("bearer") + self.secret(m.group("bearer_token")) if on["bearer"] else text
        if kind == "basic_token":
            return (
                m.group("basic") + self.pseudo.basic(m.group("basic_token"), self.text_or_token)
                if on["bearer"]
                else text
            )
        if kind == "email":
            return self.pseudo.email(text) if on["email"] else text
        if kind == "iban":
            return self.pseudo.iban(text) if on["iban"] and iban_valid(text) else text
        if kind == "card":
            digits = sum(c.isdigit() for c in text)
            if on["card"] and 12 <= digits <= 19 and luhn_valid(text):
                return self.pseudo.card(text)
            if on["phone"] and digits in (10, 11) and " " not in text:
                return self.pseudo.phone(text)
            return text
        if kind == "ipv4":
            return self.pseudo.ip(text) if on["ip"] and not text.startswith(_SAFE_IPS_V4) else text
        if kind == "ipv6":
            if not on["ip"]:
                return text
            try:
                addr = ipaddress.IPv6Address(text)
            except ValueError:
                return text
            return text if addr.is_loopback or addr.is_unspecified else self.pseudo.ip(text)
        if kind == "phone":
            return self.pseudo.phone(text) if on["phone"] and sum(c.isdigit() for c in text) >= 7 else text
        return text
