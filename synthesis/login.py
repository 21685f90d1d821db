"""Login exchanges: learn how a source's users log in, so tests of sessions that started already
logged in can log in themselves on replay.

A login exchange is a request whose body carries credential fields (username/email/login,
password) and whose response produced a credential (a token in the JSON body, or a cookie from
`Set-Cookie`) that later requests of the same session send back (in `Authorization`, an `X-…`
header, or `Cookie`). The collector stores pseudonyms consistently, so the token in the response
body and the one in the later header are still equal in the store.

`LoginLearner` sees every session of the source and keeps the most frequent exchange;
`login_step` turns it into the `HttpStep` an `AuthProfile(kind="login")` runs before a test, with
the credential fields templated to `{{login_username}}` / `{{login_password}}` whose values the
profile takes from environment variables or Kubernetes Secrets (`LoginCredentials`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import Any, Literal
from urllib.parse import parse_qsl

from trodden.assertions.pointer import escape, nodes
from trodden.assertions.templates import UNSAFE_METHODS
from trodden.models.events import NetworkRequest
from trodden.models.suite import Expectation, Extraction, HttpRequest, HttpStep, ValueFrom
from trodden.synthesis.correlate import var_name
from trodden.synthesis.steps import url_path

USERNAME_VAR = "login_username"
PASSWORD_VAR = "login_password"
DEFAULT_USERNAME_ENV = "TRODDEN_LOGIN_USERNAME"
DEFAULT_PASSWORD_ENV = "TRODDEN_LOGIN_PASSWORD"

_USERNAME_FIELD = re.compile(r"^(user(_?name)?|login|e-?mail|email_?address|account|identifier|handle)$", re.I)
_PASSWORD_FIELD = re.compile(r"pass(word|wd|phrase)?$|^pwd$", re.I)
# Request headers that can carry a session credential back to the server.
_CREDENTIAL_HEADER = re.compile(r"^(authorization|proxy-authorization|x-[a-z0-9-]+)$", re.I)
_NOT_CREDENTIAL_HEADERS = frozenset({"x-request-id", "x-correlation-id", "x-requested-with", "x-forwarded-for"})
_LOGIN_PATH_HINT = re.compile(r"log-?in|sign-?in|session|token|auth", re.I)
_MIN_CREDENTIAL_LEN = 8


@dataclass(frozen=True)
class LoginCredentials:
    """Where replay takes the credentials the login step sends."""

    username: ValueFrom = field(default_factory=lambda: ValueFrom(env=DEFAULT_USERNAME_ENV))
    password: ValueFrom = field(default_factory=lambda: ValueFrom(env=DEFAULT_PASSWORD_ENV))


class LoginSourceError(ValueError):
    """A credential source given on the command line is malformed."""


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRET_REF = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?/[-._a-zA-Z0-9]+$")


def credential_source(option: str, env: str, secret: str | None) -> ValueFrom:
    """`ValueFrom(secret=...)` when a Secret key "name/key" is given, else `ValueFrom(env=...)`."""
    if secret is not None:
        if not _SECRET_REF.match(secret):
            raise LoginSourceError(f"{option}-secret {secret!r} is not SECRET/KEY (a Secret name and a key in it)")
        return ValueFrom(secret=secret)
    if not _ENV_NAME.match(env):
        raise LoginSourceError(f"{option}-env {env!r} is not an environment variable name")
    return ValueFrom(env=env)


@dataclass(frozen=True)
class LoginExchange:
    """One learned way of logging in: the request to repeat and where its credential comes from."""

    method: str
    path: str  # the recorded request path (login endpoints carry no ids)
    body: Any  # the recorded request body (JSON value, or a dict of form fields)
    body_kind: Literal["json", "form"]
    username_field: str | None  # JSON pointer ("/email") or form key of the username
    password_field: str | None
    source: Literal["json", "cookie"]  # where the credential is in the response
    credential_path: str  # JSON pointer of the token, or the cookie's name
    header: str  # the request header later requests send it in ("Authorization", "Cookie", "X-Token")
    header_template: str  # the header's value around the credential, e.g. "Bearer {{login_token}}"
    status: int
    recorded: str = ""  # the credential as recorded (a pseudonym), for reports

    @property
    def var(self) -> str:
        return "login_" + var_name(self.credential_path)

    def key(self) -> tuple[str, ...]:
        return (
            self.method,
            self.path,
            self.header.lower(),
            self.source,
            self.credential_path,
            self.username_field or "",
            self.password_field or "",
        )


def _walk(doc: Any) -> Iterable[tuple[str, Any]]:
    """(pointer, value) of every scalar of a document (the first 20 items of each array)."""
    return ((p, v) for p, v in nodes(doc, arrays="index", max_items=20) if not isinstance(v, dict | list))


def request_fields(ev: NetworkRequest) -> tuple[Any, Literal["json", "form"] | None]:
    """The request body as fields: a JSON document, or a form's fields as a dict."""
    body = ev.request_body
    if isinstance(body, dict | list):
        return body, "json"
    ctype = next((v for k, v in ev.request_headers.items() if k.lower() == "content-type"), "")
    if isinstance(body, str) and "x-www-form-urlencoded" in ctype:
        return dict(parse_qsl(body, keep_blank_values=True)), "form"
    return None, None


def credential_fields(body: Any, kind: Literal["json", "form"]) -> tuple[str | None, str | None]:
    """(username field, password field) of a request body: JSON pointers, or form keys."""
    user: str | None = None
    password: str | None = None
    for ptr, value in _walk(body):
        if not isinstance(value, str) or ptr.count("/") > 2:
            continue
        name = ptr.rsplit("/", 1)[-1]
        ref = ptr if kind == "json" else ptr.lstrip("/")
        if password is None and _PASSWORD_FIELD.search(name):
            password = ref
        elif user is None and _USERNAME_FIELD.search(name):
            user = ref
    return user, password


def _produced(ev: NetworkRequest) -> list[tuple[Literal["json", "cookie"], str, str]]:
    """Credentials a response could have produced: (source, pointer or cookie name, value)."""
    out: list[tuple[Literal["json", "cookie"], str, str]] = []
    if isinstance(ev.response_body, dict):
        for ptr, value in _walk(ev.response_body):
            if isinstance(value, str) and len(value) >= _MIN_CREDENTIAL_LEN and " " not in value:
                out.append(("json", ptr, value))
    for name, value in ev.response_headers.items():
        if name.lower() != "set-cookie":
            continue
        for line in value.split("\n"):
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(line)
            except CookieError:  # a malformed Set-Cookie line produces nothing
                continue
            out.extend(("cookie", m.key, m.value) for m in jar.values() if len(m.value) >= _MIN_CREDENTIAL_LEN)
    return out


def request_cookies(ev: NetworkRequest) -> dict[str, str]:
    value = next((v for k, v in ev.request_headers.items() if k.lower() == "cookie"), "")
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(value)
    except CookieError:
        return {}
    return {m.key: m.value for m in jar.values()}


def _credential_use(
    source: Literal["json", "cookie"], path: str, value: str, later: list[NetworkRequest]
) -> tuple[str, str] | None:
    """(header, template) of the first later request that sends `value` back as a credential."""
    for ev in later:
        if source == "cookie":
            if request_cookies(ev).get(path) == value:
                return "Cookie", ""
            continue
        for name, sent in ev.request_headers.items():
            low = name.lower()
            if _CREDENTIAL_HEADER.match(low) and low not in _NOT_CREDENTIAL_HEADERS and value in sent:
                var = "login_" + var_name(path)
                return name, sent.replace(value, "{{" + var + "}}")
    return None


def find_login_exchanges(requests: list[NetworkRequest]) -> list[LoginExchange]:
    """The login exchanges of one session's API requests, in order."""
    found: list[LoginExchange] = []
    for i, ev in enumerate(requests):
        body, kind = request_fields(ev)
        if kind is None or not 200 <= ev.status < 400:
            continue
        user, password = credential_fields(body, kind)
        if user is None and password is None:
            continue
        for source, path, value in _produced(ev):
            use = _credential_use(source, path, value, requests[i + 1 :])
            if use is not None:
                found.append(
                    LoginExchange(
                        method=ev.method.upper(),
                        path=url_path(ev.request_url),
                        body=body,
                        body_kind=kind,
                        username_field=user,
                        password_field=password,
                        source=source,
                        credential_path=path,
                        header=use[0],
                        header_template=use[1],
                        status=ev.status,
                        recorded=value,
                    )
                )
                break
    return found


class LoginLearner:
    """Fed every session's API requests; `best()` is the exchange seen in the most sessions
    (a path that names a login wins ties over, say, a registration)."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, ...]] = Counter()
        self.examples: dict[tuple[str, ...], LoginExchange] = {}

    def add(self, requests: list[NetworkRequest]) -> None:
        for key in {ex.key(): ex for ex in find_login_exchanges(requests)}.items():
            self.counts[key[0]] += 1
            self.examples.setdefault(key[0], key[1])

    def best(self) -> LoginExchange | None:
        if not self.counts:
            return None
        key = max(self.counts, key=lambda k: (self.counts[k], bool(_LOGIN_PATH_HINT.search(k[1]))))
        return self.examples[key]


def template_credentials(body: Any, kind: Literal["json", "form"], exchange: LoginExchange) -> Any:
    """The body with the exchange's credential fields replaced by `{{login_username}}` / `{{login_password}}`."""
    fields = {exchange.username_field: USERNAME_VAR, exchange.password_field: PASSWORD_VAR}
    if kind == "form":
        if not isinstance(body, dict):
            return body
        return {k: ("{{" + fields[k] + "}}" if k in fields else v) for k, v in body.items()}

    def fill(doc: Any, pointer: str) -> Any:
        if pointer in fields:
            return "{{" + fields[pointer] + "}}"
        if isinstance(doc, dict):
            return {k: fill(v, f"{pointer}/{escape(str(k))}") for k, v in doc.items()}
        if isinstance(doc, list):
            return [fill(v, f"{pointer}/{i}") for i, v in enumerate(doc)]
        return doc

    return fill(body, "")


def login_step(exchange: LoginExchange, endpoint: str) -> HttpStep:
    """The step a login profile runs: the learned request with templated credentials, extracting
    the credential (a cookie stays in replay's per-test cookie jar as well)."""
    headers = {"Accept": "application/json"}
    if exchange.body_kind == "json":
        headers["Content-Type"] = "application/json"
    else:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    return HttpStep(
        id="login1",
        endpoint=endpoint,
        request=HttpRequest(
            method=exchange.method,
            url="{{origin}}" + exchange.path,
            headers=headers,
            body=template_credentials(exchange.body, exchange.body_kind, exchange),
            body_kind=exchange.body_kind,
        ),
        extract=[
            Extraction(
                var=exchange.var, source=exchange.source, path=exchange.credential_path, recorded=exchange.recorded
            )
        ],
        expect=Expectation(status=exchange.status),
        unsafe=exchange.method in UNSAFE_METHODS,
    )


def credential_variables(exchange: LoginExchange, creds: LoginCredentials) -> dict[str, ValueFrom]:
    out: dict[str, ValueFrom] = {}
    if exchange.username_field is not None:
        out[USERNAME_VAR] = creds.username
    if exchange.password_field is not None:
        out[PASSWORD_VAR] = creds.password
    return out


def started_logged_in(requests: list[NetworkRequest], exchange: LoginExchange, auth_headers: dict[str, str]) -> bool:
    """The session sent the exchange's credential before any of its responses produced one."""
    if exchange.source == "json":
        return any(h.lower() == exchange.header.lower() for h in auth_headers) or _sent_unproduced_header(
            requests, exchange.header
        )
    seen: set[str] = set()
    for ev in requests:
        if exchange.credential_path in request_cookies(ev) and exchange.credential_path not in seen:
            return True
        seen.update(path for source, path, _ in _produced(ev) if source == "cookie")
    return False


def _sent_unproduced_header(requests: list[NetworkRequest], header: str) -> bool:
    """An `X-…` credential header (not in correlate's auth set) sent with a value no earlier
    response produced."""
    produced: set[str] = set()
    for ev in requests:
        sent = next((v for k, v in ev.request_headers.items() if k.lower() == header.lower()), None)
        if sent is not None and not any(p in sent for p in produced):
            return True
        produced.update(value for _, _, value in _produced(ev))
    return False


def is_exchange_request(ev: NetworkRequest, exchange: LoginExchange) -> bool:
    return ev.method.upper() == exchange.method and url_path(ev.request_url) == exchange.path
