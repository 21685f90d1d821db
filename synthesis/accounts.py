"""Accounts a session creates and then uses: credentials established inside the session.

On an API where a user signs up in the session's first request (`POST /v1/accounts` with
`{"data": {"id": "alice", "password": "…"}}`) and then sends HTTP Basic with those credentials,
the credentials are state the session made itself, not something it came with: its test must
replay the signup and send the same credentials, with no environment variable.

The collector pseudonymises a password the same way in a JSON body and inside a Basic header
(`user:password` is decoded, each part pseudonymised, re-encoded), so the recorded password in the
signup body and in the later header are still equal: that is the link, by provenance. The user
name is not always (a plain name in a body field is not personal data to the sanitiser, inside
a Basic header it is a credential and becomes a pseudonym), so the account's user is taken from
the signup request itself: a username-like field, else the `id`/`name` next to the password, else
(for a `PUT`) the last path segment.

The account's name becomes a *unique* variable: replay gives it a fresh value per execution
(target, each baseline pass, each retry), so a test can sign up again on a deployment where an
earlier run already made that account, and tests never share one.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from trodden.models.events import NetworkRequest
from trodden.models.suite import AuthProfile, Expectation, HttpRequest, HttpStep, ValueFrom
from trodden.synthesis.correlate import basic_parts, basic_template, correlate
from trodden.synthesis.login import credential_fields, request_fields
from trodden.synthesis.routes import RouteTemplater
from trodden.synthesis.steps import url_path

USER_VAR = "account_id"
PASSWORD_VAR = "account_password"
_ID_FIELD = re.compile(r"^(id|name|username|user_?id)$", re.I)
_CREATING = frozenset({"POST", "PUT"})


@dataclass(frozen=True)
class SessionAccount:
    """An account a session created (request `step`) and used later; `user` None when only the
    password links the two (replay then sends the recorded user from the header)."""

    step: int
    user: str | None
    password: str
    user_var: str = USER_VAR
    password_var: str = PASSWORD_VAR
    changes: tuple[str, ...] = ()  # passwords the session set later on the same account, in order

    def password_vars(self) -> dict[str, str]:
        """Each password the account had in the session -> its variable (`account_password`, then
        `account_password_2` after a password change, …)."""
        out = {self.password: self.password_var}
        for n, changed in enumerate(self.changes, start=2):
            out.setdefault(changed, f"{self.password_var}_{n}")
        return out


def _leaf(body: Any, ref: str, kind: str) -> Any:
    if kind == "form":
        return body.get(ref) if isinstance(body, dict) else None
    node = body
    for raw in ref.split("/")[1:]:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict):
            node = node.get(token)
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return None
    return node


def _sibling_id(body: Any, password_ref: str, kind: str) -> str | None:
    """The `id`/`name` field next to the password (Kinto's `{"data": {"id": …, "password": …}}`)."""
    parent = (
        body
        if kind == "form"
        else _leaf(body, password_ref.rsplit("/", 1)[0], "json")
        if password_ref.count("/") > 1
        else body
    )
    if not isinstance(parent, dict):
        return None
    for key, value in parent.items():
        if _ID_FIELD.match(str(key)) and isinstance(value, str) and value:
            return value
    return None


def _creation(ev: NetworkRequest) -> tuple[str | None, str] | None:
    """(user, password) an account-creating request sends, or None."""
    if ev.method.upper() not in _CREATING or not 200 <= ev.status < 300:
        return None
    body, kind = request_fields(ev)
    if kind is None:
        return None
    user_ref, password_ref = credential_fields(body, kind)
    if password_ref is None:
        return None
    password = _leaf(body, password_ref, kind)
    if not isinstance(password, str) or not password:
        return None
    user = _leaf(body, user_ref, kind) if user_ref is not None else None
    if not isinstance(user, str) or not user:
        user = _sibling_id(body, password_ref, kind)
    if user is None and ev.method.upper() == "PUT":
        user = url_path(ev.request_url).rstrip("/").rsplit("/", 1)[-1] or None
    return user, password


def _sends_password(ev: NetworkRequest, password: str) -> bool:
    for name, value in ev.request_headers.items():
        if name.lower() in ("authorization", "proxy-authorization"):
            parts = basic_parts(value)
            if parts is not None and parts[1] == password:
                return True
    body, kind = request_fields(ev)
    if kind is not None:
        _, password_ref = credential_fields(body, kind)
        if password_ref is not None and _leaf(body, password_ref, kind) == password:
            return True
    return False


def _password_change(ev: NetworkRequest, current: set[str]) -> str | None:
    """The new password a request sets on an account the session holds: a successful PUT/PATCH/POST
    that authenticates with one of its passwords and sends another in a password field."""
    if ev.method.upper() not in ("PUT", "PATCH", "POST") or not 200 <= ev.status < 300:
        return None
    if not any(_sends_password(ev, p) for p in current):
        return None
    body, kind = request_fields(ev)
    if kind is None:
        return None
    _, password_ref = credential_fields(body, kind)
    new = _leaf(body, password_ref, kind) if password_ref is not None else None
    return new if isinstance(new, str) and new and new not in current else None


def session_accounts(requests: list[NetworkRequest]) -> list[SessionAccount]:
    """Accounts the session created and then used (the password sent again later: in a Basic
    header or a login body), with the passwords it changed to later. At most one per session: the
    first."""
    for i, ev in enumerate(requests):
        made = _creation(ev)
        if made is None:
            continue
        user, password = made
        if any(_sends_password(later, password) for later in requests[i + 1 :]):
            passwords, changes = {password}, []
            for later in requests[i + 1 :]:
                changed = _password_change(later, passwords)
                if changed is not None:
                    passwords.add(changed)
                    changes.append(changed)
            return [SessionAccount(step=i, user=user, password=password, changes=tuple(changes))]
    return []


@dataclass(frozen=True)
class SignupExchange:
    """How the source's users make an account, learned from sessions that made one and then used
    it: the creating request, templated with the account's variables (see `session_accounts`)."""

    endpoint: str  # "METHOD /route"
    request: HttpRequest  # credentials as {{account_id}} / {{account_password}}
    status: int
    password: str  # a recorded password (a pseudonym): the synthesised accounts' password


class SignupLearner:
    """Fed every session's API requests (like `LoginLearner`); `best()` is the signup seen in the
    most sessions."""

    def __init__(self, templater: RouteTemplater) -> None:
        self.templater = templater
        self.counts: Counter[tuple[str, str]] = Counter()
        self.examples: dict[tuple[str, str], SignupExchange] = {}

    def add(self, requests: list[NetworkRequest]) -> None:
        for account in session_accounts(requests):
            ev = requests[account.step]
            if account.user is None:
                continue  # replay could not name a fresh account
            endpoint = f"{ev.method.upper()} {self.templater.template(url_path(ev.request_url))}"
            key = (endpoint, str(sorted(request_fields(ev)[0] or {})))
            self.counts[key] += 1
            if key not in self.examples:
                request = correlate([ev], accounts=[account]).requests[0].request
                self.examples[key] = SignupExchange(endpoint, request, ev.status, account.password)

    def best(self) -> SignupExchange | None:
        if not self.counts:
            return None
        return self.examples[max(self.counts, key=lambda k: (self.counts[k], k))]


def signup_profile(name: str, signup: SignupExchange, headers: dict[str, ValueFrom]) -> AuthProfile:
    """The synthesised setup of a returning user's test: a fresh account per execution (the learned
    signup with a unique name), then HTTP Basic with its credentials."""
    step = HttpStep(
        id="signup1",
        endpoint=signup.endpoint,
        request=signup.request,
        expect=Expectation(status=signup.status),
        unsafe=True,
    )
    return AuthProfile(
        name=name,
        kind="login",
        login=[step],
        headers={**headers, "Authorization": ValueFrom(value=basic_template(USER_VAR, PASSWORD_VAR))},
        variables={USER_VAR: ValueFrom(value="trodden-user"), PASSWORD_VAR: ValueFrom(value=signup.password)},
        unique=[USER_VAR],
    )
