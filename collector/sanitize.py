"""The PII sanitiser: raw personal data and secrets never reach the store.

Built-in rules (`BuiltinRule`, one list) find emails (IDN too), card numbers (strings and JSON
integers, Luhn), phone numbers (libphonenumber), IBANs (any case), national ids with checksums
(python-stdnum), JWTs (JWS and JWE), credentials after an auth scheme anywhere, secrets of known
formats and high-entropy tokens (detect-secrets), base64 and base64url blobs (decoded, bounded, and
sanitised inside), `key=value` secrets inside messages, URLs inside free text, IP addresses
(IPv4-mapped IPv6 too), secret-named fields, parameters and headers, and auth headers and cookies.
Every URL-bearing place (URL fields, Referer/Location headers, OTLP `url.*`/`http.*`, URLs in
messages and stacks) is parsed as a URL: relative ones, path parameters (`;jsessionid=`), query
values by name, fragments as parameters. Bodies are JSON, forms (parsed leniently), multipart or
HTML, whichever channel brought them. User rules (`trodden.models.sanitization`) add JSON paths,
header names, query parameters and regexes.

Values are replaced by keyed pseudonyms (`Pseudonymizer`) that depend only on the value, so a token
keeps matching itself wherever it appears; a secret seen in a secret position is also followed
through its session by value (`taint`). Free text typed by people, and the texts pages show
(titles, the names and texts of targets and of what became visible, page outlines), are kept only
once k distinct users sent them (`freetext`); a display text below that is stored masked, marked
as such (`trodden.models.sanitization.MASK_MARK`). Identifiers are not exempt: session ids and user
ids go through the same rules.

Cost: every string first meets cheap character checks (`_pii_for`); only the patterns a string
could match run, and the validators (libphonenumber, stdnum, entropy, base64 decoding) run only on
what a pattern proposed. Results are cached per value.
"""

from __future__ import annotations

import html
import ipaddress
import re
import unicodedata
from collections.abc import Callable
from contextvars import ContextVar
from functools import cache, lru_cache
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

import orjson
from confusable_homoglyphs.confusables import confusables_data as _CONFUSABLES

from trodden.collector import detectors, taint
from trodden.collector.freetext import NAME_KEY, FreeTextCounter, is_free_text, is_name_word
from trodden.collector.pseudonym import Pseudonymizer
from trodden.models.sanitization import MASK_MARK, BuiltinRule, SanitizationConfig, SanitizationRule, masked

REDACTED = "[redacted]"
_DROP = object()
MAX_DEPTH = 64  # JSON nesting accepted in an event (rum.js sends at most a few levels)


# Who is sending what is being sanitised (the batch's user id, else its session): free and display
# text count users (by digest, computed only when a text needs counting).
_USER: ContextVar[str] = ContextVar("trodden_free_text_user", default="")


class SanitizeError(ValueError):
    """A value the sanitiser will not take (too deeply nested): the event is refused with this reason."""


_JWT = r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)?"
# A secret's name from its secret word on (what comes before the word stays as it is): a pattern that
# began the name anywhere before the word tried the word at every offset of every start, quadratic
# in a long run of name characters ("a.a.a.… token: x" took 33 s for 20 KB).
_SECRET_NAME = (
    r"(?:pass(?:word|wd|phrase)?|pwd|secret|token|api[-_]?key|access[-_]?key|sig(?:nature)?|"
    r"auth|credential|session[-_]?id|sessid|sid|otp|pin|ssn|cvv|cvc)[\w.-]{0,64}"
)
# Names of secrets people write in sentences, and the words that follow them in messages about the
# secret rather than in the secret itself.
_SAID_NAME = (
    r"pass(?:word|wd|phrase|code)s?|pwd|pin(?:\s+code)?|otp|secret(?:\s+key)?|token|api[-\s]?key|"
    r"access[-\s]key|(?:security|verification|one[-\s]time)\s+code"
)
_NOT_SAID = (
    r"a|an|the|not|no|too|now|also|only|very|still|being|required|mandatory|optional|needed|missing|"
    r"empty|blank|incorrect|invalid|wrong|correct|valid|expired|weak|strong|secure|insecure|long|short|"
    r"changed|reset|updated|set|saved|sent|shown|hidden|visible|protected|encrypted|hashed|different|"
    r"same|case|unknown|forgotten|locked|disabled|enabled|active|inactive|used|taken|available|accepted|"
    r"rejected|revoked|compromised|null|none|undefined|true|false|ok|good|fine|in|of|on|for|to|at|by|"
    r"your|my|his|her|their|our|its|this|that"
)
# Words that say "this is a key" as the first part of a value (vendors' prefixes and made-up ones).
_TOKEN_WORDS = (
    r"tok|token|keys?|apikey|secret|sk|pk|rk|pat|bearer|whsec|gh[pousr]|glpat|npm|pypi|hf|shp[a-z]{2}|xox[a-z]|xapp"
)
# A prefixed token: up to two words, a token word, up to two more words, then a body of 8+ letters
# and digits holding a digit (or 20+ long). "tok_8f3a9b2c", "sk_live_4eC39HqL…", "my-api-key-x8Jd92kq".
# Not: "tokyo_2024", "api_key_name", "refresh_token_lifetime" (no digit, short), "order_12345678".
_PREFIXED = (
    rf"(?<![\w-])(?:[A-Za-z0-9]{{1,10}}[_-]){{0,2}}(?i:{_TOKEN_WORDS})(?:[_-][A-Za-z0-9]{{1,10}}){{0,2}}[_-]"
    r"(?=[A-Za-z0-9]*\d|[A-Za-z0-9]{20})[A-Za-z0-9]{8,}(?![\w-])"
)
_PREFIX_HINT = re.compile(rf"(?i:{_TOKEN_WORDS})[_-]")
# The built-in patterns, in the order the alternation tries them; each entry's rule is the
# `BuiltinRule` that switches it off.
_PII_PARTS: dict[str, tuple[BuiltinRule, str]] = {
    "jwt": (BuiltinRule.JWT, rf"(?P<jwt>{_JWT})"),
    "known": (BuiltinRule.SECRET_FORMAT, rf"(?P<known>{detectors.KNOWN_SECRET_FORMATS.pattern})"),
    "bearer": (
        BuiltinRule.BEARER,
        r"(?P<bearer>\b(?i:bearer|token|apikey)\s+)(?P<bearer_token>[A-Za-z0-9._~+/=-]{6,})",
    ),
    "basic": (BuiltinRule.BEARER, r"(?P<basic>\b(?i:basic)\s+)(?P<basic_token>[A-Za-z0-9+/]{4,}={0,2})"),
    # The whole local part, however long (RFC 5321's 64 is no limit to a hostile client: a bounded
    # one kept the head of a longer part); it begins a run and is taken possessively, so a long run
    # without an `@` is read once, not from every offset.
    "email": (BuiltinRule.EMAIL, r"(?P<email>(?<![\w.%+'-])[\w.%+'-]++@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,})"),
    "url": (
        BuiltinRule.PASSWORD,
        r"(?P<url>\b(?:https?|wss?)://[^\s'\"<>()\[\]{}]+|(?<![\w/.~%-])/[\w./~%-]*[?#;][^\s'\"<>()]+)",
    ),
    "kv": (
        BuiltinRule.PASSWORD,
        rf"(?P<kv>(?i:{_SECRET_NAME})['\"]?\s*[=:]\s*['\"]?)(?P<kv_value>[^\s&;,'\"<>{{}}]+)",
    ),
    # A secret said in prose: "my password is hunter2", "the PIN was 4821", "pwd - x"; what follows
    # the verb is the secret unless it is one of the words UI messages put there ("is required").
    "said": (
        BuiltinRule.PASSWORD,
        rf"(?P<said>\b(?i:{_SAID_NAME})\s+(?i:is|was|will\s+be)(?:\s*[:=])?\s+(?i:now\s+|still\s+)?|"
        rf"\b(?i:{_SAID_NAME})\s+(?:-|=>|->)\s+)(?!(?i:{_NOT_SAID})(?![\w-]))(?P<said_value>[^\s,;'\"<>]{{3,}})",
    ),
    "iban": (
        BuiltinRule.IBAN,
        r"(?P<iban>\b[A-Za-z]{2}\d{2}(?:[A-Za-z0-9]{11,30}|(?: [A-Za-z0-9]{4}){2,7}(?: [A-Za-z0-9]{1,4})?)\b)",
    ),
    "card": (BuiltinRule.CARD, r"(?P<card>(?<!\d)\d(?:[ -]?\d){11,18}(?!\d))"),
    "ssn": (BuiltinRule.NATIONAL_ID, r"(?P<ssn>(?<![\w-])\d{3}[- ]\d{2}[- ]\d{4}(?![\w-]))"),
    "ssn_bare": (BuiltinRule.NATIONAL_ID, r"(?P<ssn_bare>(?<![\w.-])\d{9}(?![\w.-]))"),
    "nino": (BuiltinRule.NATIONAL_ID, r"(?P<nino>\b[A-Za-z]{2}(?: ?\d{2}){3} ?[A-Da-d]\b)"),
    "ipv6": (
        BuiltinRule.IP,
        r"(?P<ipv6>(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,6}(?:(?:\d{1,3}\.){3}\d{1,3}|(?:[0-9A-Fa-f]{0,4}:)?[0-9A-Fa-f]{0,4})(?![\w:]))",
    ),
    "ipv4": (
        BuiltinRule.IP,
        r"(?P<ipv4>(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\w.]))",
    ),
    # Phone candidates: international (+ or 00), formatted national, or bare digit runs; judged by
    # `detectors.is_phone`.
    "phone": (
        BuiltinRule.PHONE,
        r"(?P<phone>(?<![\w+])(?=(?:\D{0,3}\d){7})(?:\+|00|\()?\d[\d ().-]{5,20}\d"
        r"(?:\s?(?:x|ext\.?)\s?\d{1,6})?(?![\w]))",
    ),
    # A token behind a vendor-style prefix ("tok_8f3a9b2c", "sk_live_…", "ghp_…", "api-key-…"): shorter,
    # or less random, than the entropy rule asks of an unprefixed run; see `_PREFIXED`.
    "prefixed": (BuiltinRule.SECRET_FORMAT, rf"(?P<prefixed>{_PREFIXED})"),
    # Runs of token characters: a known format, base64 of text (decoded and sanitised), or entropy.
    "token": (BuiltinRule.SECRET_FORMAT, r"(?P<token>(?<![\w+/=-])[A-Za-z0-9+/_-]{16,}={0,2}(?![\w+/=-]))"),
}
_NAMES = tuple(_PII_PARTS)
_PII = re.compile("|".join(p for _, p in _PII_PARTS.values()))
_SEPARATED = re.compile(r"([ -])")
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_PERCENT_LEVELS = 3  # a URL in a parameter of a URL in a parameter; deeper nesting is not decoded
_NOT_DIGITS = {c: None for c in range(128) if not 48 <= c <= 57}
_LONG_RUN = re.compile(r"[A-Za-z0-9+/_-]{16}")
_SECRET_HINT = re.compile(r"pass|pwd|secret|token|key|sig|auth|cred|sess|sid|otp|pin|ssn|cvv|cvc|code", re.I)
# HTML character references ("jane&#64;example.com", "&commat;", "&#x40;"): decoded before the patterns.
_HTML_REF = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});?")
_SPACE = re.compile(r"\s")
_HTML_LEVELS = 3  # "&amp;#64;": a reference escaped again; deeper nesting is not decoded
_BIT = {name: 1 << i for i, name in enumerate(_NAMES)}
_SEGMENT_EXCLUDED = _BIT["ssn_bare"]  # a bare 9-digit path segment is an id, not an SSN


@cache
def _pii_subset(mask: int) -> re.Pattern[str]:
    return re.compile("|".join(_PII_PARTS[name][1] for name in _NAMES if mask & _BIT[name]))


def _mask_for(value: str) -> int:
    r"""The patterns that could match somewhere in `value`: each needs something cheap to check
    (an `@`, "eyJ", enough digits, a long run of token characters ...); one whose need is unmet
    cannot match anywhere, so leaving it out changes no match. Non-ASCII text is judged folded
    (`_FOLD`: what the patterns read), its remaining non-ASCII characters counted as digits and
    case-folded (the long s, the Kelvin sign): every need is then met at least as often as in the text itself."""
    if not value.isascii():
        value = value.translate(_FOLD)
        lower = value.casefold()
    else:
        lower = value.lower()
    digits = len(value.translate(_NOT_DIGITS))
    mask = 0
    if "eyJ" in value:
        mask |= _BIT["jwt"]
    if "earer" in lower or "oken" in lower or "apikey" in lower:
        mask |= _BIT["bearer"]
    if "asic" in lower:
        mask |= _BIT["basic"]
    if "@" in value:
        mask |= _BIT["email"]
    if "/" in value and ("?" in value or "#" in value or ";" in value or "://" in value):
        mask |= _BIT["url"]
    if _SECRET_HINT.search(value):
        if "=" in value or ":" in value:
            mask |= _BIT["kv"]
        if _SPACE.search(value):
            mask |= _BIT["said"]
    if digits >= 2 and len(value) >= 15:
        mask |= _BIT["iban"]
    if digits >= 12:
        mask |= _BIT["card"]
    if digits >= 9:
        mask |= _BIT["ssn"] | _BIT["ssn_bare"]
    if digits >= 6 and len(value) >= 8:
        mask |= _BIT["nino"]
    if digits >= 4 and value.count(".") >= 3:
        mask |= _BIT["ipv4"]
    if value.count(":") >= 2:
        mask |= _BIT["ipv6"]
    if digits >= 7:
        mask |= _BIT["phone"]
    if len(value) >= 11 and ("_" in value or "-" in value) and _PREFIX_HINT.search(value):
        mask |= _BIT["prefixed"]
    if len(value) >= 16 and _LONG_RUN.search(value):
        mask |= _BIT["token"] | _BIT["known"]
    return mask


def _pii_for(value: str, exclude: int = 0) -> re.Pattern[str] | None:
    mask = _mask_for(value) & ~exclude
    return _pii_subset(mask) if mask else None


class _Fold(dict[int, int]):
    """`str.translate` table folding look-alikes onto ASCII, one character for one, so the patterns
    see a card number in fullwidth digits (U+FF10…) or another script's digits, grouped by no-break
    spaces or Unicode hyphens, or split by zero-width characters, and an email with a fullwidth `@`
    or an ideographic full stop, as what they are. Filled lazily: one lookup per distinct character."""

    def __missing__(self, code: int) -> int:
        ch = chr(code)
        if 0xFF01 <= code <= 0xFF5E:  # fullwidth ASCII
            folded = code - 0xFEE0
        elif ch in _FOLD_SPACES:
            folded = 0x20
        elif ch in _FOLD_DASHES:
            folded = 0x2D  # zero-width characters too: "4111\u200b1111…" reads as "4111-1111…"
        elif ch in "\u3002\uff61\ufe52":
            folded = 0x2E
        elif ch == "\ufe6b":
            folded = 0x40
        else:
            digit = unicodedata.decimal(ch, None) if code > 0x7F else None
            folded = 0x30 + digit if digit is not None else _latin_look_alike(ch, code)
        self[code] = folded
        return folded


def _latin_look_alike(ch: str, code: int) -> int:
    """The ASCII letter a character is drawn like (Cyrillic U+043E and U+0456, Greek U+03BF and U+039A
    read as "o", "i", "o", "K"), by Unicode's confusables table (UTS #39, as `confusable_homoglyphs`
    ships it), else the character: "tok_8f3a…" written with a Cyrillic "o" is a prefixed token to the
    patterns. Letters only: a letter drawn like a digit (U+0431, U+0417) stays a letter, so no text in
    those scripts reads as numbers."""
    if code <= 0x7F:
        return code
    for glyph in _CONFUSABLES.get(ch, ()):
        latin = glyph["c"]
        if len(latin) == 1 and latin.isascii() and latin.isalpha():
            return ord(latin)
    return code


_FOLD_SPACES = frozenset("\u00a0\u1680\u202f\u205f\u3000" + "".join(map(chr, range(0x2000, 0x200B))))
_FOLD_DASHES = frozenset("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\u200b\u200c\u200d\u2060\ufeff\u00ad")
_FOLD = _Fold()


# Field names whose values are secrets or personal data whatever they look like.
_SECRET_KEY = re.compile(
    r"pass(?:word|wd|phrase)?|^pwd$|secret|token|api[-_]?key|access[-_]?key|credential|otp|cvv|cvc|"
    r"ssn|social[-_]?security|national[-_]?id|tax[-_]?id|^nino$|(?:^|[-_])pin(?:[-_]?code)?$|pinCode|"
    r"private[-_]?key|session[-_]?(?:id|key|token)?$|^sid$|sessid|^x-auth|^auth$|signature|^sig$",
    re.I,
)
# Names under which an object holds secrets only ("password": {"new", "confirm"}, "tokens": {…},
# "credentials"); narrower than `_SECRET_KEY` ("session", "auth" objects hold state, not only secrets).
_SECRET_CONTAINER = re.compile(
    r"pass(?:word|wd|phrase)|secret|tokens?$|api[-_]?keys?|access[-_]?keys?|credentials?|private[-_]?key", re.I
)
_EMAIL_KEY = re.compile(r"e-?mail", re.I)
_PHONE_KEY = re.compile(r"phone|^tel$|mobile|^fax$|msisdn", re.I)
_CARD_KEY = re.compile(r"card[-_]?num|^pan$|cc[-_]?num|cardnumber", re.I)
_IBAN_KEY = re.compile(r"iban", re.I)
_IP_KEY = re.compile(
    r"(?:^|[-_.])ip(?:[-_]?addr(?:ess)?)?$|remote[-_]addr|forwarded-for|real-ip|client[-_.]address|host\.ip", re.I
)
_AUTH_HEADERS = {"authorization", "proxy-authorization"}
# Headers whose values are credentials: under these names inside a body (batch APIs such as
# kinto's /v1/batch, or a client logging its requests) a value gets the header's rule and taint.
_HEADERS_IN_BODIES = frozenset({*_AUTH_HEADERS, "cookie", "set-cookie"})
_URL_HEADERS = {"referer", "referrer", "location", "content-location", "origin", "link", "refresh"}
_URL_FIELDS = {"url", "request_url", "referrer", "from_url", "to_url", "source", "http_target"}
# Bodies people type into: free text in them is kept only once k users sent it.
_TYPED_FIELDS = {"request_body", "properties", "attributes", "body"}
_BODY_FIELDS = {*_TYPED_FIELDS, "response_body"}
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
    "http_status",
}  # `severity` and `span_kind` are free strings a beacon can send: text, like any other
_SAFE_IPS_V4 = ("127.", "0.0.0.0")
_CARD_MIN = 1_000_000_000_000  # smaller JSON integers are never card numbers (callers skip `integer`)
# Texts of a UI target that a page shows (its other fields are ids, roles, tags and paths).
_DISPLAY_TARGET_FIELDS = ("name", "text")
# Texts of a page outline (trodden.models.events.PageShape): lists of texts, and tables and lists
# whose name (and a table's headers) are texts; landmarks are ARIA role names.
_OUTLINE_TEXT_LISTS = ("headings", "links", "buttons", "fields", "alerts")
_JWT_KEEP_CLAIMS = ("alg", "typ", "iss", "aud", "exp", "iat", "nbf", "scope", "kid", "azp")
_MULTIPART = re.compile(r"--([^\r\n]{1,200})\r?\n")
_HTML_INPUT = re.compile(r"<input\b[^>]*>", re.I)
_HTML_VALUE = re.compile(r"""(\bvalue\s*=\s*)(["'])(.*?)\2""", re.I | re.S)


_CUT_AT = re.compile(r"[\s,;&\"'<>{}\[\]()=]")


def _without_cut_word(body: str) -> str:
    """A body cut at a size limit (by the tag or HAR import) ends in the first part of whatever was
    there ("…jane.doe@exam", "…4111 1111 11"), which no rule recognises any more: that part is
    dropped, up to the last delimiter within 512 characters."""
    tail = body[-512:]
    for i in range(len(tail) - 1, -1, -1):
        if _CUT_AT.match(tail[i]):
            return body[: len(body) - len(tail) + i + 1]
    return body


@lru_cache(maxsize=16384)
def _is_name_key(key: str) -> bool:
    """A field for a person's name (`first_name`, `lastName`, `surname` …)."""
    return NAME_KEY.search(key) is not None


def _typed_by_people(name: str, value: str) -> bool:
    """A parameter's or a typed body field's value is text a person typed: free text (`q=Jane Doe`), or a
    word in a name field (`first_name=Jane`). `Sanitizer.typed` decides whether it is kept."""
    if " " in value:
        return is_free_text(value)
    return _is_name_key(name) and is_name_word(value, any_case=True)


@lru_cache(maxsize=16384)
def _key_class(key: str) -> BuiltinRule | None:
    """Which built-in rule a field name calls for, or None."""
    if _SECRET_KEY.search(key):
        return BuiltinRule.PASSWORD
    if _EMAIL_KEY.search(key):
        return BuiltinRule.EMAIL
    if _PHONE_KEY.search(key):
        return BuiltinRule.PHONE
    if _CARD_KEY.search(key):
        return BuiltinRule.CARD
    if _IBAN_KEY.search(key):
        return BuiltinRule.IBAN
    if _IP_KEY.search(key):
        return BuiltinRule.IP
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
    """Sanitises events (as dicts, before validation), spans and logs for one source."""

    def __init__(
        self, key: bytes, config: SanitizationConfig | None = None, free_text: FreeTextCounter | None = None
    ) -> None:
        """`free_text`: a counter to share (the collector keeps one across configuration reloads
        and shares it with its other replicas through the database); else one of its own."""
        self.pseudo = Pseudonymizer(key)
        self.config = config or SanitizationConfig()
        off = set(self.config.disable_builtins)
        self._on = {rule: rule not in off for rule in BuiltinRule}
        self._parts_off = 0
        for name, (rule, _) in _PII_PARTS.items():
            if rule in off:
                self._parts_off |= _BIT[name]
        rules = self.config.rules
        self._json_paths = [(_parse_json_path(r.match), r) for r in rules if r.kind == "json_path"]
        self._headers = {r.match.lower(): r for r in rules if r.kind == "header"}
        self._query = {r.match: r for r in rules if r.kind == "query_param"}
        self._regexes = [(re.compile(r.match), r) for r in rules if r.kind == "regex"]
        self.taints = taint.TaintStore()
        if not self._on[BuiltinRule.FREE_TEXT]:
            self.free_text: FreeTextCounter | None = None
        else:
            self.free_text = free_text or FreeTextCounter(key, self.config.free_text_min_users)
            self.free_text.min_users = self.config.free_text_min_users
        self.masked_display: Callable[[str], str] = lru_cache(maxsize=65536)(self._masked_display)
        self._display_kept: dict[str, str] = {}  # display text -> stored form, for texts kept whoever sends them
        # Sessions repeat their URLs, selectors and texts: the same input always gives the same output.
        self.text: Callable[[str], str] = lru_cache(maxsize=131072)(self._text)
        self.segment: Callable[[str], str] = lru_cache(maxsize=65536)(self._segment)
        # A URL sanitised, with the secrets found in it by position (for the session's taint).
        # (URL, secrets by position, whether a query value is text a person typed): see `url`
        self.url_parts: Callable[[str], tuple[str, tuple[tuple[str, str], ...], bool]] = lru_cache(maxsize=65536)(
            self._url
        )
        # Requests repeat their headers, bodies their field names: one lookup each instead of a walk.
        self.header_value: Callable[[str, str], Any] = lru_cache(maxsize=65536)(self._header_value)
        self.json_key: Callable[[str], str | None] = lru_cache(maxsize=65536)(self._json_key)
        self.identifier: Callable[[str], str] = lru_cache(maxsize=65536)(self._identifier)

    # -- sessions --------------------------------------------------------------------------------
    def begin(self, session_id: str, user: str | None) -> Any:
        """Sanitise what follows as part of `session_id` (taint, free-text users); `end(token)` after."""
        return taint.CURRENT.set(self.taints.of(session_id)), _USER.set(user or session_id)

    def end(self, tokens: Any) -> taint.Taint | None:
        """The session's taint (for the caller to apply to what it produced), and the context restored."""
        current = taint.CURRENT.get()
        taint.CURRENT.reset(tokens[0])
        _USER.reset(tokens[1])
        return current if current is not None and current.values else None

    # -- events ---------------------------------------------------------------------------------
    def event(self, event: dict[str, Any], skip: frozenset[str] = frozenset()) -> dict[str, Any]:
        """One event (a dict as the client sent it, already validated), sanitised field by field;
        the fields in `skip` are left out (the collector stores some fields as columns)."""
        out: dict[str, Any] = {}
        text, url_cached, kept = self.text, self.url_parts, self._display_kept
        masked_request = False
        for field, value in event.items():
            if field in skip:
                continue
            cls = value.__class__
            if value is None or cls is bool or cls is float or field in _KEEP_FIELDS:
                out[field] = value
            elif cls is int:
                out[field] = value if value < _CARD_MIN else self.integer(value)
            elif field in _URL_FIELDS and cls is str:
                clean, secrets, typed = url_cached(value)
                out[field] = self.url(value) if secrets or typed else clean
                if typed and field == "request_url" and out[field] != clean:
                    masked_request = True  # free text in its query, masked: see NetworkRequest.masked
            elif field in _HEADER_FIELDS and cls is dict:
                out[field] = self.headers(value)
            elif field in _BODY_FIELDS:
                cut = cls is str and event.get("body_truncated")
                out[field] = self.body(_without_cut_word(value) if cut else value, typed=field in _TYPED_FIELDS)
            elif field == "value" and cls is str:
                out[field] = self.input_value(value, event)
            elif field == "target" and cls is dict:
                out[field] = {
                    k: v
                    if v.__class__ is not str
                    else (kept.get(v) or self.display(v))
                    if k in _DISPLAY_TARGET_FIELDS
                    else text(v)
                    for k, v in value.items()
                }
            elif field == "title" and cls is str:
                out[field] = kept.get(value) or self.display(value)
            elif field == "visible" and cls is list:
                out[field] = [self.target(t) if t.__class__ is dict else self.json(t, ()) for t in value]
            elif field == "page" and cls is dict:
                out[field] = self.outline(value)
            elif cls is str:
                out[field] = text(value)
            else:
                out[field] = self.json(value, ())
        if masked_request:
            out["masked"] = True
        return out

    def input_value(self, value: str, event: dict[str, Any]) -> str:
        if not value:
            return value
        if event.get("masked"):
            return self._secret_recorded(value)
        target = event.get("target")
        name_field = False
        if isinstance(target, dict):
            for hint in (target.get("id"), target.get("name"), target.get("test_id")):
                if isinstance(hint, str) and hint:
                    keyed = self._by_key(hint, value)
                    if keyed is not None:
                        return str(keyed)
                    name_field = name_field or _is_name_key(hint)
        # A lone name ("Jane") is typed free text too: a person typed it, and no pattern knows it.
        if is_free_text(value) or is_name_word(value, any_case=name_field):
            return self.typed(value, name=True)
        return self.text(value)

    def typed(self, value: str, *, name: bool = False) -> str:
        """A string a person typed: PII rules, then free text kept only once k users sent it; with
        `name` (an input, or a name field of a typed body) a lone word of letters counts as free text."""
        cleaned = self.text(value)
        counter = self.free_text
        if counter is None or not (is_free_text(value) or (name and is_name_word(value, any_case=True))):
            return cleaned
        if counter.admit(value, counter.user_digest(_USER.get())):
            return cleaned
        return self.pseudo.shape_text(cleaned)

    # -- display texts ----------------------------------------------------------------------------
    def display(self, value: str) -> str:
        """A text the page showed (a title, a target's or a shown element's name or text, a text of
        the outline): PII rules, then kept only once k users saw it, else masked (MASK_MARK)."""
        kept = self._display_kept.get(value)
        if kept is not None:  # the same whoever sends it: most texts, after their first k users
            return kept
        raw = value
        if MASK_MARK in value:  # only the collector marks a text as masked
            value = value.replace(MASK_MARK, "")
        cleaned = self.text(value)
        counter = self.free_text
        if counter is not None and is_free_text(value) and not counter.admit(value, counter.user_digest(_USER.get())):
            return self.masked_display(cleaned)
        if len(self._display_kept) >= 65536:
            self._display_kept.clear()
        self._display_kept[raw] = cleaned
        return cleaned

    def _masked_display(self, cleaned: str) -> str:
        return masked(self.pseudo.shape_text(cleaned))

    def target(self, target: dict[str, Any]) -> dict[str, Any]:
        """A UI target: its name and text are display texts, its other fields (ids, role, tag, CSS
        and XPath paths) text."""
        out: dict[str, Any] = {}
        kept, text = self._display_kept, self.text
        for k, v in target.items():
            if v.__class__ is not str:
                out[k] = v
            elif k in _DISPLAY_TARGET_FIELDS:
                out[k] = kept.get(v) or self.display(v)
            else:
                out[k] = text(v)
        return out

    def outline(self, page: dict[str, Any]) -> dict[str, Any]:
        """A page outline: headings, link, button, field and alert names, table and list names and
        table headers are display texts; counts and landmark roles are kept."""
        out: dict[str, Any] = {}
        display = self.display
        for k, v in page.items():
            if k in _OUTLINE_TEXT_LISTS and v.__class__ is list:
                out[k] = [display(t) if t.__class__ is str else t for t in v]
            elif k in ("tables", "lists") and v.__class__ is list:
                out[k] = [self._outline_part(part) for part in v]
            else:
                out[k] = self.json(v, ())
        return out

    def _outline_part(self, part: Any) -> Any:
        if part.__class__ is not dict:
            return self.json(part, ())
        out: dict[str, Any] = {}
        for k, v in part.items():
            if k == "name" and v.__class__ is str:
                out[k] = self.display(v)
            elif k == "headers" and v.__class__ is list:
                out[k] = [self.display(t) if t.__class__ is str else t for t in v]
            else:
                out[k] = self.json(v, ())
        return out

    def user_id(self, value: str | None) -> str | None:
        """A user id is an identifier of a person: always a pseudonym (an email stays an email)."""
        if value is None or not value:
            return value
        changed = self.text(value)
        return changed if changed != value and "@" in value else self.pseudo.token(value)

    def _identifier(self, value: str) -> str:
        """A session id or another identifier: kept when it holds nothing (random ids are already
        pseudonymous), pseudonymised whole, keeping its shape, when it holds personal data (a card
        number, an IP, an email) or a secret."""
        if self.text(value) == value:
            return value
        return self.pseudo.token(value)

    def integer(self, value: int) -> int:
        """A JSON integer: a card number (13-19 digits, a network's first digit, Luhn) becomes a card."""
        if value >= _CARD_MIN and self._on[BuiltinRule.CARD] and detectors.is_card_integer(value):
            return int(self.pseudo.card(str(value)))
        return value

    # -- structures -----------------------------------------------------------------------------
    def body(self, value: Any, *, typed: bool = False) -> Any:
        if value.__class__ is str:
            return self.body_text(value, typed=typed)
        return self.json(value, (), 0, typed)

    def body_text(self, value: str, *, typed: bool = False) -> str:
        """A body as text: JSON, a form, multipart or HTML, whichever it is."""
        stripped = value.lstrip()
        if stripped[:1] in ("{", "[") and len(value) <= 4 * 1024 * 1024:
            try:
                doc = orjson.loads(value)
            except orjson.JSONDecodeError:
                pass
            else:
                clean = self.json(doc, (), 0, typed)
                return value if clean == doc else orjson.dumps(clean).decode()
        if stripped.startswith("--"):
            multipart = self.multipart(value, typed=typed)
            if multipart is not None:
                return multipart
        if stripped.startswith("<"):
            return self.html(value)
        if "=" in value and " " not in value.strip():
            return self.form(value, typed=typed)
        return self.typed(value) if typed and " " in value else self.text(value)

    def json(self, value: Any, path: tuple[str, ...], depth: int = 0, typed: bool = False) -> Any:
        """A JSON value with every string sanitised, rules by field name and JSON path applied."""
        cls = value.__class__
        if cls is str:
            return self.typed(value) if typed and " " in value else self.text(value)
        if depth > MAX_DEPTH:
            raise SanitizeError(f"nested deeper than {MAX_DEPTH} levels")
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
                    if key.lower() in _HEADERS_IN_BODIES:  # {"headers": {"Authorization": …}} (batch APIs)
                        out[clean_key] = self._header_in_body(key, v, path, depth)
                        continue
                    keyed = self._by_key(key, v)
                    if keyed is not None:
                        out[clean_key] = keyed
                        continue
                    if v.__class__ is list or (v.__class__ is dict and _SECRET_CONTAINER.search(key)):
                        out[clean_key] = self._under_key(key, v, depth + 1)
                        continue
                vcls = v.__class__
                if vcls is str:
                    if typed and _typed_by_people(key, v):
                        out[clean_key] = self.typed(v, name=True)
                    else:
                        out[clean_key] = text(v)
                elif vcls is dict or vcls is list:
                    out[clean_key] = self.json(v, (*path, key) if self._json_paths else path, depth + 1, typed)
                elif vcls is int:
                    out[clean_key] = v if v < _CARD_MIN else self.integer(v)
                else:
                    out[clean_key] = v
            return out
        if cls is list:
            child = (*path, "*") if self._json_paths else path
            return [self.json(v, child, depth + 1, typed) for v in value]
        if cls is int:
            return self.integer(value)
        return value

    def _header_in_body(self, name: str, value: Any, path: tuple[str, ...], depth: int) -> Any:
        """A credential header's value inside a body: the header's rule (and taint), so the same
        credential gets the same pseudonym in the body as on the wire; a list value item by item."""
        if value.__class__ is str:
            cleaned = self.header_value(name, value)
            if cleaned is _DROP:
                return REDACTED
            if cleaned != value and taint.CURRENT.get() is not None:
                self._record_header(name.lower(), value)
            return cleaned
        if value.__class__ is list:
            return [self._header_in_body(name, item, path, depth + 1) for item in value]
        return self.json(value, path, depth + 1)

    def headers(self, headers: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        header_value = self.header_value
        text = self.text
        for name, raw in headers.items():
            value = raw if raw.__class__ is str else str(raw)
            result = header_value(name, value)
            if result is not _DROP:
                out[text(name)] = result  # a name can carry data too ("X-User-jane@example.com")
                if result.__class__ is str and result != value and taint.CURRENT.get() is not None:
                    self._record_header(name.lower(), value)
        return out

    def _record_header(self, lname: str, value: str) -> None:
        """The secrets a sanitised header carried, for the session's taint."""
        if lname in _AUTH_HEADERS:
            _scheme, sep, credentials = value.strip().partition(" ")
            secret = credentials.strip() if sep else value.strip()
            if secret and _scheme.lower() != "basic":
                taint.record(secret, self.secret(secret))
        elif lname in ("cookie", "set-cookie"):
            for line in value.split("\n"):
                pieces = line.split(";") if lname == "cookie" else line.split(";")[:1]
                for piece in pieces:
                    _name, sep, val = piece.strip().partition("=")
                    secret = val if sep else _name
                    if secret:
                        taint.record(secret, self.secret(secret))
        elif lname not in _URL_HEADERS and _key_class(lname) is BuiltinRule.PASSWORD:
            taint.record(value.strip(), self.secret(value.strip()))

    def _header_value(self, name: str, value: str) -> Any:
        """One header's sanitised value (`_DROP` when a rule drops it); a function of name and value only."""
        lname = name.lower()
        rule = self._headers.get(lname)
        if rule is not None:
            return self._apply(rule, value)
        auth = self._on[BuiltinRule.AUTH_HEADERS]
        if auth and lname in _AUTH_HEADERS:
            return self.authorization(value)
        if auth and lname == "cookie":
            return self.cookie(value)
        if auth and lname == "set-cookie":
            return "\n".join(self.set_cookie(line) for line in value.split("\n"))
        if lname in _URL_HEADERS:
            return (
                ", ".join(self._url_or_text(part.strip()) for part in value.split(","))
                if lname == "link"
                else (self._url_or_text(value))
            )
        if value.startswith(("http://", "https://")) and not any(c.isspace() for c in value):
            # a header that hands over one URL (a pagination cursor: `Next-Page`): sanitised as the
            # URL the client then requests is, so the two keep the same pseudonyms
            return self.url(value)
        keyed = self._by_key(lname, value)
        return keyed if keyed is not None else self.text(value)

    def _url_or_text(self, value: str) -> str:
        inner = value.strip("<> ")
        if inner.startswith(("http://", "https://", "/")):
            return value.replace(inner, self.url(inner))
        return self.text(value)

    def _json_key(self, key: str) -> str | None:
        """A JSON field name, sanitised; None when the name calls for a rule on its value."""
        return None if _key_class(key) is not None or key.lower() in _HEADERS_IN_BODIES else self.text(key)

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
            if not sep:  # a cookie value without a name
                stripped = name.strip()
                parts.append(name.replace(stripped, self.secret(stripped)) if stripped else name)
            else:
                parts.append(f"{self.text(name)}{sep}{self.secret(val) if val else val}")
        return ";".join(parts)

    def set_cookie(self, line: str) -> str:
        """The cookie's value is a secret; its name and attributes (`Path=/reset/…`, `Domain`) are text."""
        first, sep, rest = line.partition(";")
        name, eq, val = first.partition("=")
        attributes = self._cookie_attributes(rest) if rest else rest
        if not eq:
            return f"{self.secret(name.strip()) if name.strip() else name}{sep}{attributes}"
        return f"{self.text(name)}{eq}{self.secret(val) if val else val}{sep}{attributes}"

    def _cookie_attributes(self, rest: str) -> str:
        out = []
        for attribute in rest.split(";"):
            name, eq, value = attribute.partition("=")
            if eq and name.strip().lower() == "path" and value.strip().startswith("/"):
                out.append(f"{name}{eq}{self.url(value.strip())}")
            else:
                out.append(self.text(attribute))
        return ";".join(out)

    def secret(self, value: str) -> str:
        """A credential: a JWT keeps its structure with pseudonymised claims, anything else its shape."""
        if not value:
            return value
        if self._on[BuiltinRule.JWT] and value.startswith("eyJ") and value.count(".") >= 2:
            return self.pseudo.jwt(value, self._claims)
        return self.pseudo.token(value)

    def _secret_recorded(self, value: str) -> str:
        """A secret found in a secret position: pseudonymised and followed through the session."""
        pseudonym = self.secret(value)
        taint.record(value, pseudonym)
        return pseudonym

    def text_or_token(self, value: str) -> str:
        """For a user name inside credentials: an email stays an email, anything else is a token."""
        changed = self.text(value)
        return changed if changed != value else self.pseudo.token(value)

    def _claims(self, claims: object) -> object:
        if not isinstance(claims, dict):
            return self.json(claims, ())
        out: dict[str, Any] = {}
        for k, v in claims.items():
            if k in _JWT_KEEP_CLAIMS:
                out[k] = v
                continue
            keyed = self._by_key(k, v)
            if keyed is not None:
                out[k] = keyed
            elif isinstance(v, str):
                out[k] = self.text_or_token(v)
            elif isinstance(v, int) and not isinstance(v, bool):
                # an integer claim identifies whoever it is about (a user number, a card)
                out[k] = (
                    self.integer(v)
                    if self.integer(v) != v
                    else int(self.pseudo.phone(str(abs(v)))) * (-1 if v < 0 else 1)
                )
            else:
                out[k] = self.json(v, ())
        return out

    def form(self, value: str, *, typed: bool = False) -> str:
        """`a=b&c=d`, leniently: empty pieces and a trailing `&` are kept as they were."""
        pieces = value.split("&")
        out: list[str] = []
        for piece in pieces:
            if not piece:
                out.append(piece)
                continue
            name, sep, raw = piece.partition("=")
            try:
                key, val = unquote(name.replace("+", " ")), unquote(raw.replace("+", " "))
            except ValueError:
                out.append(self.text(piece))
                continue
            clean = self._param(key, val, typed=typed)
            out.append(piece if clean == val else f"{name}{sep}{quote(clean, safe='')}")
        return "&".join(out)

    def multipart(self, value: str, *, typed: bool = False) -> str | None:
        """multipart/form-data: each part's value under its field name's rules, None if it is not one."""
        m = _MULTIPART.match(value.lstrip())
        if m is None:
            return None
        delimiter = "--" + m.group(1).strip()
        parts = value.split(delimiter)
        out = [parts[0]]
        for part in parts[1:]:
            head, sep, content = part.partition("\r\n\r\n") if "\r\n\r\n" in part else part.partition("\n\n")
            if not sep:
                out.append(self.text(part))
                continue
            name = re.search(r'\bname="([^"]*)"', head)
            trailer = content[len(content.rstrip("\r\n")) :]
            body = content[: len(content) - len(trailer)]
            clean = self._param(name.group(1), body, typed=typed) if name else self.text(body)
            out.append(f"{self.text(head)}{sep}{clean}{trailer}")
        return delimiter.join(out)

    def html(self, value: str) -> str:
        """HTML: its text and attributes like any text, and the values of password or secret-named inputs."""

        def input_tag(m: re.Match[str]) -> str:
            tag = m.group(0)
            secretish = re.search(r"type\s*=\s*['\"]?password", tag, re.I) or any(
                _key_class(n) is BuiltinRule.PASSWORD for n in re.findall(r"name\s*=\s*['\"]([^'\"]+)", tag)
            )
            if not secretish:
                return tag
            return _HTML_VALUE.sub(
                lambda v: f"{v.group(1)}{v.group(2)}{self._secret_recorded(v.group(3))}{v.group(2)}", tag
            )

        return self.text(_HTML_INPUT.sub(input_tag, value))

    def url(self, value: str) -> str:
        clean, secrets, typed = self.url_parts(value)
        for raw, pseudonym in secrets:
            taint.record(raw, pseudonym)
        if typed:  # counted per user, so never from the cache: `?q=Jane+Doe` is what the search box held
            clean = self._url(value, typed=True)[0]
        return clean

    def _url(self, value: str, *, typed: bool = False) -> tuple[str, tuple[tuple[str, str], ...], bool]:
        """Scheme and host kept (they are addresses, not people); credentials, path segments and their
        parameters, query and fragment sanitised. Returns the URL, the secrets found by position, and
        whether a query value is text a person typed (free text, a name field's word), which only
        `typed=True` sanitises as such (kept once k users sent it, else masked as in the input)."""
        found: list[tuple[str, str]] = []
        people: list[bool] = []
        try:
            parts = urlsplit(value)
        except ValueError:
            return self.text(value), (), False
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, host = netloc.rpartition("@")
            user, sep, password = userinfo.partition(":")
            secret = self.pseudo.token(password) if password else ""
            if password:
                found.append((password, secret))
            netloc = f"{quote(self.text_or_token(unquote(user)), safe='')}{sep}{secret}@{host}"
        path = self._path(parts.path, found)
        query = self._query_string(parts.query, found, typed=typed, people=people) if parts.query else ""
        fragment = self._fragment(parts.fragment, found, typed=typed, people=people) if parts.fragment else ""
        return urlunsplit((parts.scheme, netloc, path, query, fragment)), tuple(found), bool(people)

    def _path(self, path: str, found: list[tuple[str, str]]) -> str:
        segments: list[str] = []
        for seg in path.split("/"):
            if not seg:
                segments.append(seg)
                continue
            name, semi, params = seg.partition(";")
            clean = self._segment_of(name)
            if semi:  # path parameters: ";jsessionid=…", ";a=b;c=d"
                cleaned: list[str] = []
                for param in params.split(";"):
                    pname, eq, pval = param.partition("=")
                    if eq:
                        value = self._param(unquote(pname), unquote(pval), found=found)
                        cleaned.append(f"{pname}={quote(value, safe='@:+,!$&()*~')}")
                    else:
                        cleaned.append(self._segment_of(param))
                clean += ";" + ";".join(cleaned)
            segments.append(clean)
        return "/".join(segments)

    def _segment_of(self, raw: str) -> str:
        text = unquote(raw)
        clean = self.segment(text)
        return raw if clean == text else quote(clean, safe="@:+,;=!$&'()*~")

    def _query_string(
        self,
        query: str,
        found: list[tuple[str, str]] | None = None,
        *,
        typed: bool = False,
        people: list[bool] | None = None,
    ) -> str:
        """With `people`, notes whether a value is text a person typed (see `_url`)."""
        pairs = parse_qsl(query, keep_blank_values=True)
        if people is not None and not typed and any(_typed_by_people(k, v) for k, v in pairs):
            people.append(True)
        cleaned = [(k, self._param(k, v, found=found, typed=typed)) for k, v in pairs]
        if cleaned == pairs and "%" not in query and "+" not in query:
            return query
        return urlencode(cleaned)

    def query(self, value: str) -> str:
        """A query string on its own (OTLP `url.query`)."""
        return self._query_string(value.lstrip("?"), typed=True)

    def fragment(self, value: str) -> str:
        """A fragment on its own (OTLP `url.fragment`)."""
        found: list[tuple[str, str]] = []
        clean = self._fragment(value.lstrip("#"), found)
        for raw, pseudonym in found:
            taint.record(raw, pseudonym)
        return clean

    def _fragment(
        self, fragment: str, found: list[tuple[str, str]], *, typed: bool = False, people: list[bool] | None = None
    ) -> str:
        """`#access_token=…&state=…` is parameters; `#/route/x?y=z` a client-side route; else text."""
        if fragment.startswith(("/", "!/")):
            route, q, rest = fragment.partition("?")
            clean = self._path(route, found)
            return f"{clean}?{self._query_string(rest, found, typed=typed, people=people)}" if q else clean
        if "=" in fragment:
            return self._query_string(fragment, found, typed=typed, people=people)
        return self._segment_of(fragment)

    def _param(self, name: str, value: str, *, found: list[tuple[str, str]] | None = None, typed: bool = False) -> str:
        rule = self._query.get(name)
        if rule is not None:
            result = self._apply(rule, value)
            return "" if result is _DROP else str(result)
        keyed = self._by_key(name, value)
        if isinstance(keyed, str):
            if _key_class(name) is BuiltinRule.PASSWORD:
                if found is not None:
                    found.append((value, keyed))
                else:
                    taint.record(value, keyed)
            return keyed
        if value.startswith(("http://", "https://", "/")) and len(value) > 1:
            return self.url(value)
        if typed and _typed_by_people(name, value):
            return self.typed(value, name=True)
        return self.text(value)

    # -- scalar rules -----------------------------------------------------------------------------
    def _by_key(self, key: str, value: Any) -> Any:
        """Rules by field name; None when the name says nothing."""
        kind = _key_class(key)
        if kind is None or not isinstance(value, str | int) or isinstance(value, bool):
            return None
        text = str(value)
        if not text or not self._on[kind]:
            return None
        if kind is BuiltinRule.PASSWORD:
            return self._secret_recorded(text) if isinstance(value, str) else int(self.pseudo.phone(text.lstrip("-")))
        if kind is BuiltinRule.EMAIL:
            return self.text(text) if isinstance(value, str) and "@" in text else None
        digits = sum(c.isdigit() for c in text)
        if kind is BuiltinRule.PHONE and digits >= 5:
            return self.pseudo.phone(text) if isinstance(value, str) else int(self.pseudo.phone(text))
        if kind is BuiltinRule.CARD and 12 <= digits <= 19:
            return self.pseudo.card(text) if isinstance(value, str) else int(self.pseudo.card(text))
        if kind is BuiltinRule.IBAN and isinstance(value, str):
            return self.pseudo.iban(text) if detectors.is_iban(text) else self.pseudo.token(text)
        if kind is BuiltinRule.IP and isinstance(value, str):
            return ", ".join(self._ip_or_text(p.strip()) for p in text.split(","))
        return None

    def _under_key(self, key: str, value: Any, depth: int, in_object: bool = False) -> Any:
        """A list under a named field (`"passwords": [...]`, `"emails": [...]`): each item by the
        name's rule. An object under a secret's name (`"password": {"new": …, "confirm": …}`,
        `"tokens": {"access": …, "refresh": …}`): every string in it is a secret, whatever its own
        name; numbers, booleans and the names are kept."""
        if depth > MAX_DEPTH:
            raise SanitizeError(f"nested deeper than {MAX_DEPTH} levels")
        cls = value.__class__
        if cls is list:
            return [self._under_key(key, item, depth + 1, in_object) for item in value]
        if cls is dict:
            if not _SECRET_CONTAINER.search(key):
                return self.json(value, (), depth)
            return {
                self.text(str(k)): self._under_key(str(k) if _key_class(str(k)) else key, v, depth + 1, True)
                for k, v in value.items()
            }
        if in_object and cls is not str:
            return value
        if in_object and _key_class(key) is BuiltinRule.PASSWORD:
            # {"credentials": {"username": "jane@example.com"}}: what a rule recognises gets its own
            # pseudonym (the same as elsewhere in the session), anything else is a secret
            recognised = self.text(value)
            return recognised if recognised != value else self._secret_recorded(value)
        keyed = self._by_key(key, value)
        return self.json(value, (), depth) if keyed is None else keyed

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
        return self.json(self._pseudonymize_all(value, 0), ())

    def _pseudonymize_all(self, value: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise SanitizeError(f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, str):
            return self.secret(value)
        if isinstance(value, dict):
            return {k: self._pseudonymize_all(v, depth + 1) for k, v in value.items()}
        if isinstance(value, list):
            return [self._pseudonymize_all(v, depth + 1) for v in value]
        return value

    def _text(self, value: str) -> str:
        if "&" in value and ("#" in value or ";" in value):
            decoded = self._html_decoded(value)
            if decoded is not None:
                return decoded
        if "%" in value:
            decoded = self._percent_decoded(value)
            if decoded is not None:
                return decoded
        return self._patterns(value)

    def _html_decoded(self, value: str) -> str | None:
        """Text with HTML character references ("jane&#64;example.com", "&commat;", "&amp;#64;"):
        sanitised decoded (`html.unescape`, up to `_HTML_LEVELS` times), each character that only a
        reference wrote written as that reference again; None when decoding reveals nothing to replace."""
        levels: list[tuple[dict[str, str], set[str]]] = []
        decoded = value
        while len(levels) < _HTML_LEVELS and "&" in decoded:
            refs: dict[str, str] = {}
            for m in _HTML_REF.finditer(decoded):
                ch = html.unescape(m.group(0))
                if len(ch) == 1 and ch != m.group(0):
                    refs.setdefault(ch, m.group(0))
            if not refs:
                break
            levels.append((refs, set(_HTML_REF.sub("", decoded))))
            decoded = html.unescape(decoded)
        if not levels:
            return None
        clean = self._percent_decoded(decoded) if "%" in decoded else None
        if clean is None:
            clean = self._patterns(decoded)
        if clean == decoded:
            return None
        for refs, literal in reversed(levels):
            clean = "".join(refs[c] if c in refs and c not in literal else c for c in clean)
        return clean

    def _patterns(self, value: str) -> str:
        """The built-in patterns (those that could match) and the user's regexes."""
        pattern = _pii_for(value, self._parts_off)
        if pattern is not None:
            value = self._sub(pattern, value)
        for regex, rule in self._regexes:
            value = regex.sub(self._regex_replacer(rule), value)
        return value

    def _percent_decoded(self, value: str) -> str | None:
        """Percent-encoded text ("jane%40example.com", or twice, "jane%2540example.com", where a URL
        was put in a parameter of another): sanitised decoded (up to `_PERCENT_LEVELS` times) and
        encoded again level by level, keeping literal what was literal at each; None when decoding
        reveals nothing to replace."""
        levels: list[str] = []
        decoded = value
        while len(levels) < _PERCENT_LEVELS and _PERCENT.search(decoded) is not None:
            once = unquote(decoded)
            if once == decoded:
                break
            levels.append(decoded)
            decoded = once
        if not levels:
            return None
        clean = self._patterns(decoded)
        if clean == decoded:
            return None
        for level in reversed(levels):
            literal = {c for c in level if c.isascii() and not c.isalnum() and c != "%"}
            clean = quote(clean, safe="".join(sorted(literal)))
        return clean

    def _segment(self, value: str) -> str:
        """A URL path segment: like text, but a bare 9-digit segment is an id, not an SSN."""
        if "%" in value:
            decoded = self._percent_decoded(value)
            if decoded is not None:
                return decoded
        pattern = _pii_for(value, self._parts_off | _SEGMENT_EXCLUDED)
        if pattern is not None:
            value = self._sub(pattern, value)
        for regex, rule in self._regexes:
            value = regex.sub(self._regex_replacer(rule), value)
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
        if kind == "jwt":
            return self.secret(text)
        if kind in ("known", "prefixed"):
            return self.pseudo.token(text)
        if kind == "bearer_token":
            return m.group("bearer") + self.secret(m.group("bearer_token"))
        if kind == "basic_token":
            return m.group("basic") + self.pseudo.basic(m.group("basic_token"), self.text_or_token)
        if kind == "email":
            return self.pseudo.email(text)
        if kind == "url":
            trail = len(text) - len(text.rstrip(".,;:!?"))
            core = text[: len(text) - trail] if trail else text
            return self.url(core) + text[len(core) :]
        if kind == "kv_value":
            return m.group("kv") + self.secret(m.group("kv_value"))
        if kind == "said_value":
            said = m.group("said_value")
            core = said.rstrip(".!?)")
            return m.group("said") + self.secret(core) + said[len(core) :]
        if kind == "iban":
            return self.pseudo.iban(text) if detectors.is_iban(text) else self._fallback(text)
        if kind == "card":
            if detectors.is_card(text):
                return self.pseudo.card(text)
            return self._card_within(text)
        if kind in ("ssn", "ssn_bare"):
            return self.pseudo.phone(text) if detectors.is_ssn(text) else self._fallback(text)
        if kind == "nino":
            return self.pseudo.shape_text(text) if detectors.is_nino(text) else self.text_without(text, "nino")
        if kind == "ipv4":
            return self.pseudo.ip(text) if not text.startswith(_SAFE_IPS_V4) else text
        if kind == "ipv6":
            return self._ipv6(text)
        if kind == "phone":
            if detectors.is_phone(text):
                return self.pseudo.phone(text)
            # "(4111…)", "(+33 …)": the bracket was not part of a phone number; what follows may be something.
            # "+4111…", "2024-4111…": not a phone, but what it holds may be a card.
            return "(" + self.text(text[1:]) if text.startswith("(") else self.text_without(text, "phone", "token")
        if kind == "token":
            return self._token_run(text)
        return text

    def _card_within(self, text: str) -> str:
        """A digit run failing Luhn as a whole may hold a card glued by a separator to other digit
        groups ("2024-4111…", "4111…-01", "4111… 2"): spans of whole groups (13-19 digits, a card
        network's first digit, Luhn) are tried, longest first; else a phone number, else kept."""
        pieces = _SEPARATED.split(text)  # digit groups at even indexes, separators between them
        groups = pieces[0::2]
        if 1 < len(groups) <= 8:  # a card's 3-5 groups and what is glued to them; bounded work
            for size in range(len(groups) - 1, 0, -1):
                for i in range(len(groups) - size + 1):
                    digits = "".join(groups[i : i + size])
                    if 13 <= len(digits) <= 19 and digits[0] in "23456" and detectors.is_card(digits):
                        start, end = 2 * i, 2 * (i + size) - 1
                        card = self.pseudo.card("".join(pieces[start:end]))
                        return "".join(pieces[:start]) + card + "".join(pieces[end:])
        return self._fallback(text)

    def _fallback(self, text: str) -> str:
        """A digit run that is not what its pattern proposed may still be a phone number."""
        if self._on[BuiltinRule.PHONE] and detectors.is_phone(text):
            return self.pseudo.phone(text)
        return text

    def text_without(self, text: str, *parts: str) -> str:
        """`text` through the patterns other than `parts` (what else a candidate that was not its kind holds)."""
        exclude = self._parts_off
        for part in parts:
            exclude |= _BIT[part]
        pattern = _pii_for(text, exclude)
        return self._sub(pattern, text) if pattern is not None else text

    def _sub(self, pattern: re.Pattern[str], value: str) -> str:
        """`pattern.sub(self._replace, value)`, the patterns reading `value` with look-alikes folded
        onto ASCII (`_FOLD`); what nothing replaced keeps its own characters."""
        if value.isascii():
            return pattern.sub(self._replace, value)
        folded = value.translate(_FOLD)
        if folded == value:
            return pattern.sub(self._replace, value)
        out: list[str] = []
        last = 0
        for m in pattern.finditer(folded):
            start, end = m.span()
            replaced = self._replace(m)
            out.append(value[last:start])
            out.append(value[start:end] if replaced == m.group(0) else replaced)
            last = end
        out.append(value[last:])
        return "".join(out)

    def _ipv6(self, text: str) -> str:
        try:
            addr = ipaddress.IPv6Address(text)
        except ValueError:
            return self.text_without(text, "ipv6")
        if addr.is_loopback or addr.is_unspecified:
            return text
        mapped = addr.ipv4_mapped
        if mapped is not None and "." in text:  # ::ffff:198.51.100.77 stays an IPv4-mapped address
            return text[: text.rfind(":") + 1] + self.pseudo.ip(str(mapped))
        return self.pseudo.ip(text)

    def _token_run(self, run: str) -> str:
        """A run of token characters: a known secret format, base64 of text (sanitised inside and
        re-encoded, or pseudonymised whole if it is a secret), a high-entropy token, or nothing."""
        if self._on[BuiltinRule.SECRET_FORMAT] and detectors.KNOWN_SECRET_FORMATS.fullmatch(run):
            return self.pseudo.token(run)
        decoded = detectors.decode_base64_text(run)
        if decoded is not None:
            inner, urlsafe, padded = decoded
            clean = self.body_text(inner)
            if clean != inner:
                return detectors.encode_base64_text(clean, urlsafe, padded)
        if detectors.high_entropy(run):
            return self.pseudo.token(run)
        return self.text_without(run, "token")  # "ref-4111…": what else the run holds
