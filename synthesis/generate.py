"""Selected sessions → executable tests (the suite IR), with mined assertions attached.

HTTP tests replay the session's API requests with correlation (`correlate.py`); each step's
expectation holds what the recording promises and the mined statistics confirm: the status,
the response shape (keys that were always there, with their types), the formats of volatile
values, and the values that were the same every time this exact request was made. Browser tests
replay the UI events with locator fallbacks and expect the page the session went to and what
became visible there (`visible.py`: elements by test id, texts only where they cannot vary).
Mined assertions that a generated test's own recording contradicts (a session selected for its
500 against "always 2xx" at 0.995 confidence) are dropped from the suite: as oracles for these
tests they would fail on an unchanged application. Latency bounds are exempt (a recorded slow
request says nothing about replay timing).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any, Literal
from urllib.parse import urlsplit

from trodden.assertions import (
    AssertionBase,
    ExchangeAssertion,
    JudgeContext,
    Observation,
    SequenceAssertion,
    Violation,
)
from trodden.assertions.kinds.value_set import ValueSetAssertion
from trodden.assertions.page import recorded_page
from trodden.assertions.pointer import nodes
from trodden.assertions.templates import UNSAFE_METHODS
from trodden.assertions.values import detect_format, json_type
from trodden.log import get_logger
from trodden.models.events import (
    CustomEvent,
    ErrorEvent,
    Navigation,
    NetworkRequest,
    PageView,
    Session,
    Target,
    UiEvent,
)
from trodden.models.sanitization import is_masked
from trodden.models.suite import (
    Assertion,
    AuthProfile,
    BrowserExpectation,
    BrowserStep,
    DroppedAssertion,
    Expectation,
    HttpStep,
    IgnoreRule,
    Locator,
    Suite,
    SuiteStats,
    TestCase,
    ValueFrom,
)
from trodden.pages import page_path, page_url
from trodden.synthesis.accounts import SignupExchange, session_accounts, signup_profile
from trodden.synthesis.browser_login import LoginLearner, log_in_first
from trodden.synthesis.correlate import basic_parts, correlate
from trodden.synthesis.login import (
    PASSWORD_VAR,
    USERNAME_VAR,
    LoginCredentials,
    LoginExchange,
    credential_variables,
    is_exchange_request,
    login_step,
    started_logged_in,
    template_credentials,
)
from trodden.synthesis.mining import Miner, MiningOptions, request_key
from trodden.synthesis.resources import CreationLearner, add_list_setup
from trodden.synthesis.routes import RouteTemplater
from trodden.synthesis.steps import endpoint_key, is_api_request, session_collector_origins, url_origin, url_path
from trodden.synthesis.visible import VisibleExpectation, VisibleLearner

_SHAPE_DEPTH = 3

log = get_logger(__name__)


@dataclass
class GenerateOptions:
    mining: MiningOptions = field(default_factory=MiningOptions)
    http: bool = True
    browser: bool = True
    # test values the application accepts (test card tokens, test accounts' passwords): where a
    # session carries their pseudonym, tests use the value (see unmask.py)
    known_values: list[str] = field(default_factory=list)
    # where login profiles take the username and password from (env vars or Kubernetes Secrets)
    login: LoginCredentials = field(default_factory=LoginCredentials)
    # sessions that log in themselves send these credentials too, instead of their recorded
    # (pseudonymised) ones; off by default: a session that registers the account it then logs in
    # with must keep its own values
    own_login_credentials: bool = False
    # findings every replay of the suite leaves out (intended changes)
    ignore: list[IgnoreRule] = field(default_factory=list)


@dataclass
class SelectedInput:
    """A selected session with what selection said about it."""

    session: Session
    reasons: list[str] = field(default_factory=list)
    signature: str = ""


def test_id(kind: str, source: str, session_id: str) -> str:
    """Stable across revisions for the same session and kind."""
    return f"{kind}-" + hashlib.blake2b(f"{source}\0{session_id}".encode(), digest_size=5).hexdigest()


def api_requests(session: Session) -> list[NetworkRequest]:
    own = session_collector_origins(session.events)
    return [
        ev for ev in session.events if isinstance(ev, NetworkRequest) and is_api_request(ev.method, ev.request_url, own)
    ]


def endpoint_of(request: NetworkRequest, templater: RouteTemplater) -> str:
    """The endpoint an API request belongs to ("POST /api/cart/{uuid}/items")."""
    return endpoint_key(request.method, templater.template(url_path(request.request_url)))


def _expectation(ev: NetworkRequest, endpoint: str, miner: Miner | None) -> Expectation:
    body = ev.response_body
    st = miner.endpoints[endpoint].by_status.get(ev.status) if miner and endpoint in miner.endpoints else None
    trusted = st is not None and miner is not None and st.n >= miner.options.min_support
    shape: dict[str, str] = {}
    formats: dict[str, str] = {}
    for ptr, value in nodes(body):
        if ptr == "" or "/*" in ptr or ptr.count("/") > _SHAPE_DEPTH:
            continue
        typ = json_type(value)
        fmt = detect_format(value)
        if trusted and st is not None:
            f = st.fields.get(ptr)
            parent = ptr.rsplit("/", 1)[0]
            if f is None or f.present != st.containers.get(parent, -1) or f.nulls or len(f.types) != 1:
                continue  # not always there with this type: not part of the promise
            if fmt is not None and f.formats.get(fmt, 0) != f.present:
                fmt = None
        elif typ == "null":
            continue
        shape[ptr] = typ
        if fmt in ("uuid", "datetime", "date", "email", "hex"):
            formats[ptr] = fmt
    # A request whose typed text the collector masked is replayed with the mask: a search for it finds
    # something else than the person's did, so what the answer held is no promise (its shape still is).
    values = miner.stable_values(endpoint, ev.status, request_key(ev)) if miner and not ev.masked else {}
    origin = url_origin(ev.request_url)
    values = {p: _origin_template(v, origin) for p, v in values.items() if p in shape or not trusted}
    headers: dict[str, str] = {}
    ctype = next((v for k, v in ev.response_headers.items() if k.lower() == "content-type"), None)
    if ctype:
        headers["content-type"] = ctype.split(";")[0].strip()
    return Expectation(status=ev.status or None, shape=shape, values=values, formats=formats, headers=headers)


def _origin_template(value: Any, origin: str | None) -> Any:
    """A recorded value naming the service's own origin (`"url": "http://host:port/v1/"`) as
    `{{origin}}…`: replay compares it with the target's origin, not the recording's."""
    if origin and isinstance(value, str) and origin in value.lower():
        return re.sub(re.escape(origin), "{{origin}}", value, flags=re.I)
    return value


def names_origin(assertion: Assertion, origin: str | None) -> bool:
    """A mined value assertion whose values name the recorded origin: a property of the deployment
    the sessions were recorded on, not of the application."""
    if not origin or not isinstance(assertion, ValueSetAssertion):
        return False
    return any(isinstance(v, str) and origin in v.lower() for v in assertion.params.values)


def build_http_test(
    item: SelectedInput,
    source: str,
    templater: RouteTemplater,
    miner: Miner | None,
    known: dict[str, str] | None = None,
) -> tuple[TestCase, dict[str, str]] | None:
    """The HTTP test of a session and the credentials it started with (for an auth profile)."""
    requests = api_requests(item.session)
    if not requests:
        return None
    corr = correlate(requests, known, session_accounts(requests))
    chosen = {str(corr.variables[v]) for v in corr.unique if v in corr.variables}
    steps: list[HttpStep] = []
    endpoints: list[str] = []
    for i, (ev, cr) in enumerate(zip(requests, corr.requests, strict=True)):
        endpoint = endpoint_of(ev, templater)
        endpoints.append(endpoint)
        expect = _expectation(ev, endpoint, miner)
        # a response that echoes what the test names itself (its account) gets a fresh value on replay
        expect.values = {p: v for p, v in expect.values.items() if str(v) not in chosen}
        steps.append(
            HttpStep(
                id=f"s{i + 1}",
                endpoint=endpoint,
                request=cr.request,
                extract=cr.extract,
                expect=expect,
                unsafe=ev.method.upper() in UNSAFE_METHODS,
                recorded_duration_ms=ev.duration_ms,
            )
        )
    name = f"{endpoints[0]} … {endpoints[-1]} ({len(steps)} requests)" if len(steps) > 1 else endpoints[0]
    test = TestCase(
        id=test_id("http", source, item.session.session_id),
        name=name,
        type="http",
        session_id=item.session.session_id,
        journey=item.signature,
        reasons=item.reasons,
        steps=list(steps),
        variables=corr.variables,
        unique=corr.unique,
    )
    return test, corr.auth_headers


def locators(target: Target) -> list[Locator]:
    """Locator fallbacks, most stable first: test id, role and name, text, id, CSS, XPath. A name or
    text the collector masked (fewer than k users saw it) locates nothing."""
    out: list[Locator] = []
    if target.test_id:
        out.append(Locator(strategy="test_id", value=target.test_id))
    if target.role and target.name and not is_masked(target.name):
        out.append(Locator(strategy="role", value=target.role, name=target.name))
    if target.text and not is_masked(target.text):
        out.append(Locator(strategy="text", value=target.text))
    if target.id:
        out.append(Locator(strategy="id", value=target.id))
    if target.css:
        out.append(Locator(strategy="css", value=target.css))
    if target.xpath:
        out.append(Locator(strategy="xpath", value=target.xpath))
    return out


def _page_template(url: str | None, templater: RouteTemplater) -> str | None:
    if not url:
        return None
    return templater.template(page_path(url))


_UI_ACTIONS: dict[str, str] = {"click": "click", "input": "fill", "change": "fill", "submit": "submit", "key": "press"}
_CHECKABLE = frozenset({"checkbox", "radio", "switch"})


def _expect_visible(step: BrowserStep, shown: VisibleExpectation) -> None:
    mine = VisibleExpectation(step.expect.visible, step.expect.visible_text)
    mine.merge(shown)
    step.expect.visible, step.expect.visible_text = mine.visible, mine.visible_text


def _led_by_action(ev: PageView | Navigation, referred: bool) -> bool:
    """Whether a page that followed an action is where the action led. An SPA navigation is the
    page changing its own route; a reload or going back is the user's doing. A document load is,
    where the application's page loads say which of its pages sent the browser there (`referred`,
    learned over the source), only when this one says so: one without a referrer was typed or
    opened from a bookmark, and the test goes there itself. Else the next action would run on the
    wrong page and expect what the recording showed on another (a click on an out-of-stock product
    expecting the "Added to cart" of the product the user opened next). Without that evidence (an
    application that sends no referrer, a recorder that keeps none) the page is the action's."""
    if isinstance(ev, Navigation):
        return True
    if ev.load is not None and ev.load.type in ("reload", "back_forward"):
        return False
    return bool(ev.referrer) or not referred


def build_browser_test(
    item: SelectedInput,
    source: str,
    templater: RouteTemplater,
    known: dict[str, str] | None = None,
    visible: VisibleLearner | None = None,
) -> TestCase | None:
    """A Playwright-style test of a session's UI events, or None when it has none. `visible` (fed
    with every session of the source) says which recorded snapshots replay can expect; without
    it, the session's own."""
    if visible is None:
        visible = VisibleLearner()
        visible.add(item.session)
    steps: list[BrowserStep] = []
    variables: dict[str, Any] = {}
    current: BrowserStep | None = None
    errored: set[str] = set()  # steps after which the page threw
    own = session_collector_origins(item.session.events)
    for ev in item.session.events:
        if isinstance(ev, PageView | Navigation):
            url = ev.to_url if isinstance(ev, Navigation) else ev.url
            page = _page_template(url, templater)
            status = ev.load.status if isinstance(ev, PageView) and ev.load else None
            if current is not None and current.action != "goto" and _led_by_action(ev, visible.referred):
                current.expect.url = page  # where the previous action led, and what showed there
                current.expect.status = status or current.expect.status
                _expect_visible(current, visible.expected(ev))
                current = None
            elif url and (not steps or steps[-1].action != "goto" or steps[-1].url != _path_url(url)):
                # a page the user reached without a recorded action (typed, bookmarked): go there
                current = BrowserStep(
                    id=f"b{len(steps) + 1}",
                    action="goto",
                    url=_path_url(url),
                    expect=BrowserExpectation(url=page, status=status),
                )
                _expect_visible(current, visible.expected(ev))
                steps.append(current)
        elif isinstance(ev, UiEvent) and ev.kind in _UI_ACTIONS:
            if not steps:  # the session started without a recorded page view
                steps.append(BrowserStep(id="b1", action="goto", url=_path_url(ev.url or "/")))
            value = ev.value if ev.kind != "key" else (ev.key or "Enter")
            if value is not None and known and value in known:
                value = known[value]
            elif ev.masked and _is_password_field(ev.target):
                # never recorded: replay types the password of the account it is given (an auth profile)
                value = "{{" + PASSWORD_VAR + "}}"
            elif ev.masked:
                var = f"masked_{len(variables) + 1}"
                variables[var] = ""
                value = "{{" + var + "}}"
            if (
                ev.kind in ("input", "change")
                and steps
                and steps[-1].action == "fill"
                and steps[-1].locators == locators(ev.target)
            ):
                steps[-1].value = value  # keystrokes into one field: keep the final value
                continue
            on_select = ev.target.tag == "select" and ev.kind in ("input", "change")  # a <select> is chosen, not typed
            # a checkbox or radio button is checked (or unchecked), not typed: its value is "true"/"false"
            on_check = ev.kind == "change" and ev.target.role in _CHECKABLE and value in ("true", "false")
            current = BrowserStep(
                id=f"b{len(steps) + 1}",
                action="select" if on_select else "check" if on_check else _UI_ACTIONS[ev.kind],
                locators=locators(ev.target),
                value=value if ev.kind != "click" else None,
            )  # type: ignore[arg-type]
            _expect_visible(current, visible.expected(ev))
            steps.append(current)
        elif isinstance(ev, NetworkRequest) and steps and is_api_request(ev.method, ev.request_url, own):
            endpoint = endpoint_of(ev, templater)
            if endpoint not in steps[-1].network:
                steps[-1].network.append(endpoint)
        elif isinstance(ev, CustomEvent) and steps:
            steps[-1].network.append(f"event {ev.name}")
        elif isinstance(ev, ErrorEvent) and steps and ev.error_type in ("uncaught", "unhandled_rejection"):
            errored.add(steps[-1].id)
    if not any(s.action != "goto" for s in steps):
        return None
    for s in steps:  # custom events are not network endpoints; keep them out of `network`
        s.network = [n for n in s.network if not n.startswith("event ")]
        s.expect.no_errors = s.id not in errored
    _failed_sign_ins(steps)
    start = (steps[0].url or "/").replace("{{origin}}", "")
    return TestCase(
        id=test_id("browser", source, item.session.session_id),
        name=f"browser: {start} ({sum(s.action != 'goto' for s in steps)} actions)",
        type="browser",
        session_id=item.session.session_id,
        journey=item.signature,
        reasons=item.reasons,
        steps=list(steps),
        variables=variables,
    )


_PASSWORD_FIELD = re.compile(r"pass(word|wd|phrase)?\b|\bpwd\b|passwort|mot de passe|contraseña", re.I)


def _is_password_field(target: Target) -> bool:
    """A masked field that takes a password (by its id, label, test id or CSS path)."""
    return any(_PASSWORD_FIELD.search(v) for v in (target.id, target.name, target.test_id, target.css) if v)


_USERNAME_FIELD = re.compile(r"user|login|e-?mail|account|benutzer|identifiant", re.I)
_SIGN_UP = re.compile(r"regist|sign.?up|create.?account|join", re.I)


WRONG_PASSWORD = "{{" + PASSWORD_VAR + "}}-not-this-one"


def _failed_sign_ins(steps: list[BrowserStep]) -> None:
    """A password the user typed again on the same page: the attempt before failed (a typo, a wrong
    password; the recording never holds which), so replay types a wrong one there, as the user did,
    and the account's own at the last attempt. With the account's password everywhere, the first
    attempt signs in, the login page is gone and the retry breaks the test on every side."""
    password = "{{" + PASSWORD_VAR + "}}"
    typed = [i for i, s in enumerate(steps) if s.value == password]
    for here, then in pairwise(typed):
        page = next((s.expect.url for s in reversed(steps[: here + 1]) if s.expect.url), None)
        between = {s.expect.url for s in steps[here + 1 : then] if s.expect.url}
        if page is not None and between == {page}:  # sent, and the login page came back
            steps[here].value = WRONG_PASSWORD


def uses_password(test: TestCase) -> bool:
    """The browser test types the account's password (into a login form of the recording)."""
    password = "{{" + PASSWORD_VAR + "}}"
    return any(isinstance(s, BrowserStep) and s.value is not None and password in s.value for s in test.steps)


def template_login_username(test: TestCase) -> bool:
    """In a login form (one password field, typed after a user name field with no click between),
    the user name becomes `{{login_username}}`: the account replay is given types both. A form with
    two password fields (a sign-up and its confirmation), or whose fields or button say it
    registers, keeps what was typed. True when done."""
    steps = [s for s in test.steps if isinstance(s, BrowserStep)]
    done = False
    for i, step in enumerate(steps):
        if step.value != "{{" + PASSWORD_VAR + "}}":
            continue
        before: list[BrowserStep] = []
        for prev in reversed(steps[:i]):
            if prev.action != "fill":
                break
            before.append(prev)
        after = []
        for nxt in steps[i + 1 :]:
            if nxt.action != "fill":
                break
            after.append(nxt)
        if any(s.value == "{{" + PASSWORD_VAR + "}}" for s in before + after):
            continue  # a password and its confirmation: a sign-up
        rest = steps[i + 1 + len(after) : i + 2 + len(after)]  # the click or key that sent the form
        if any(_SIGN_UP.search(loc.value + (loc.name or "")) for s in [*before, step, *rest] for loc in s.locators):
            continue  # a registration form names itself so
        name = next(
            (s for s in before if any(_USERNAME_FIELD.search(loc.value + (loc.name or "")) for loc in s.locators)), None
        )
        if name is not None:
            name.value = "{{" + USERNAME_VAR + "}}"
            done = True
    return done


def recorded_pages(session: Session, templater: RouteTemplater) -> list[Observation]:
    """A session's arrivals at pages (page views, SPA navigations) as replay observes them."""
    return [
        recorded_page(ev, f"PAGE {templater.template(page_path(ev.url if isinstance(ev, PageView) else ev.to_url))}")
        for ev in session.events
        if isinstance(ev, PageView | Navigation)
    ]


def _path_url(url: str) -> str:
    """Where a test goes to show the recorded page: path, query and route fragment on the target."""
    return "{{origin}}" + page_url(url)


def recorded_origin(sessions: Sequence[Session]) -> str | None:
    counts: Counter[str] = Counter()
    for s in sessions:
        for ev in s.events:
            url = ev.request_url if isinstance(ev, NetworkRequest) else ev.url
            if url and url.startswith(("http://", "https://")):
                p = urlsplit(url)
                counts[f"{p.scheme}://{p.netloc}"] += 1
    return counts.most_common(1)[0][0] if counts else None


def build_suite(
    name: str,
    source: str,
    selected: Sequence[SelectedInput],
    miner: Miner | None,
    *,
    options: GenerateOptions | None = None,
    selection_id: int | None = None,
    assertions: list[Assertion] | None = None,
    known: dict[str, str] | None = None,
    login: LoginExchange | None = None,
    visible: VisibleLearner | None = None,
    signup: SignupExchange | None = None,
    creations: CreationLearner | None = None,
) -> Suite:
    """A suite (revision 0: the store numbers it) from selected sessions and a fed miner; with a
    learned `login` exchange, tests of sessions that started logged in log in first. `visible`,
    fed with every session, vouches for the visible state browser steps expect (default: fed with
    the selected sessions only). `creations`, fed with every session, says how items of a
    collection are made, for the setup of tests that read a list by position (default: fed with
    the selected sessions)."""
    options = options or GenerateOptions()
    templater = miner.templater if miner is not None else RouteTemplater()
    if creations is None:
        creations = CreationLearner(templater)
        for item in selected:
            creations.add(api_requests(item.session))
    if assertions is None:
        assertions = miner.assertions() if miner is not None else []
    tests: list[TestCase] = []
    profiles = _Profiles(login, options.login, templater, own_logins=options.own_login_credentials, signup=signup)
    if visible is None:
        visible = VisibleLearner()
        for item in selected:
            visible.add(item.session)
    for item in selected:
        if options.http:
            built = build_http_test(item, source, templater, miner, known)
            if built is not None:
                test, auth = built
                test.auth_profile = profiles.for_test(test, api_requests(item.session), auth)
                add_list_setup(test, api_requests(item.session), creations)
                tests.append(test)
        if options.browser:
            btest = build_browser_test(item, source, templater, known, visible)
            if btest is not None:
                if uses_password(btest):
                    btest.auth_profile = profiles.browser_login(username=template_login_username(btest)).name
                tests.append(btest)
    _sign_in_returning_users(tests, profiles)
    tests = _without_http_tests_their_pages_authorised(tests, profiles)
    recordings = [
        Recording(t.session_id, api_requests(i.session), t.auth_profile)
        for t, i in _http_tests_with_inputs(tests, selected)
    ]
    by_session = {i.session.session_id: i.session for i in selected}
    recordings += [
        Recording(t.session_id, [], t.auth_profile, recorded_pages(by_session[t.session_id], templater))
        for t in tests
        if t.type == "browser" and t.session_id in by_session
    ]
    assertions, dropped = drop_contradicted(assertions, recordings, templater)
    origin = recorded_origin([i.session for i in selected])
    dropped += [
        DroppedAssertion(id=a.id, assertion=a.description, session="", recorded=f"names the recorded origin {origin}")
        for a in assertions
        if names_origin(a, origin)
    ]
    assertions = [a for a in assertions if not names_origin(a, origin)]
    kinds = Counter(a.kind for a in assertions)
    stats = SuiteStats(
        tests=len(tests),
        http_tests=sum(t.type == "http" for t in tests),
        browser_tests=sum(t.type == "browser" for t in tests),
        steps=sum(len(t.steps) for t in tests),
        assertions=len(assertions),
        assertions_by_kind=dict(sorted(kinds.items())),
        sessions_mined=miner.n_sessions if miner is not None else 0,
        endpoints_mined=len(miner.endpoints) if miner is not None else 0,
        unsafe_steps=sum(isinstance(s, HttpStep) and s.unsafe for t in tests for s in t.steps),
        assertions_dropped=dropped,
    )
    return Suite(
        name=name,
        revision=0,
        source=source,
        origin=origin,
        created_at=datetime.now(UTC).isoformat(),
        selection_id=selection_id,
        tests=tests,
        assertions=assertions,
        auth_profiles=profiles.all(),
        stats=stats,
        ignore=list(options.ignore),
    )


def _sign_in_returning_users(tests: Sequence[TestCase], profiles: _Profiles) -> None:
    """Browser tests of sessions that started signed in log in first, as the suite's login tests
    did (`browser_login`), with the account replay is given."""
    browser = [t for t in tests if t.type == "browser"]
    learner = LoginLearner.learn(browser)
    login = learner.login()
    if login is None:
        return
    for test in browser:
        if test.auth_profile is None and learner.started_signed_in(test):
            log_in_first(test, login)
            test.auth_profile = profiles.browser_login(username=login.types_username).name


def _without_http_tests_their_pages_authorised(tests: list[TestCase], profiles: _Profiles) -> list[TestCase]:
    """The tests without the HTTP tests that can never verify anything: those of a session whose
    browser test signs in through a form, that carry no credential (no auth profile) and send no
    login request of their own. The page authorised its calls with what it made of the typed
    password (an Authorization header, a token it computed), which the recording never holds, so
    replayed on their own they are refused on every side (an error on every replay). The session's
    browser test replays the same calls from the signed-in page, and they are compared there."""
    signed_in = {t.session_id for t in tests if t.type == "browser" and uses_password(t)}
    exchange = profiles.exchange

    def sends_login(test: TestCase) -> bool:
        return exchange is not None and any(
            isinstance(s, HttpStep)
            and s.request.method.upper() == exchange.method.upper()
            and urlsplit(s.request.url.replace("{{origin}}", "")).path == exchange.path
            for s in test.steps
        )

    dropped = [
        t
        for t in tests
        if t.type == "http" and t.session_id in signed_in and t.auth_profile is None and not sends_login(t)
    ]
    if dropped:
        log.info("HTTP tests left to the signed-in pages that made their calls", tests=len(dropped))
    gone = {id(t) for t in dropped}
    return [t for t in tests if id(t) not in gone]


def _http_tests_with_inputs(
    tests: Sequence[TestCase], selected: Sequence[SelectedInput]
) -> list[tuple[TestCase, SelectedInput]]:
    by_session = {i.session.session_id: i for i in selected}
    return [(t, by_session[t.session_id]) for t in tests if t.type == "http" and t.session_id in by_session]


@dataclass
class Recording:
    """A generated HTTP test's own recording: its session's API requests, and the auth profile the
    test replays with (its requests count as a user's, as they do at replay)."""

    session_id: str
    requests: list[NetworkRequest]
    auth_profile: str | None = None
    pages: list[Observation] = field(default_factory=list)  # a browser test's: its arrivals at pages


def drop_contradicted(
    assertions: list[Assertion], recordings: Sequence[Recording], templater: RouteTemplater
) -> tuple[list[Assertion], list[DroppedAssertion]]:
    """Assertions no generated test's own recording contradicts, judged as replay judges them
    (`trodden.assertions`), and the dropped ones (why). Timing is exempt."""
    by_endpoint: dict[str, list[ExchangeAssertion]] = {}
    temporal: list[SequenceAssertion] = []
    for a in assertions:
        if isinstance(a, SequenceAssertion):
            temporal.append(a)
        elif not a.about_timing:
            by_endpoint.setdefault(a.endpoint, []).append(a)
    contradicted: dict[str, DroppedAssertion] = {}

    def drop(a: AssertionBase, session_id: str, violations: list[Violation]) -> None:
        if violations and a.id not in contradicted:
            contradicted[a.id] = DroppedAssertion(
                id=a.id, assertion=a.description, session=session_id, recorded=a.show(violations[0])
            )

    for rec in recordings:
        ctx = JudgeContext(auth_profile=rec.auth_profile)
        observed = [Observation.recorded(ev, endpoint_of(ev, templater)) for ev in rec.requests]
        for obs in observed:
            for rule in by_endpoint.get(obs.endpoint or "", []):
                if rule.id not in contradicted:
                    drop(rule, rec.session_id, rule.judge(obs, ctx))
        for page in rec.pages:
            for rule in by_endpoint.get(page.endpoint or "", []):
                if rule.id not in contradicted:
                    drop(rule, rec.session_id, rule.judge(page, ctx))
        recorded = {o.endpoint for o in observed if o.endpoint}
        for t in temporal:
            if t.id not in contradicted:
                drop(t, rec.session_id, t.judge_sequence(observed, recorded, ctx))
    return [a for a in assertions if a.id not in contradicted], list(contradicted.values())


class _Profiles:
    """The suite's auth profiles, made as tests need them.

    A returning user's session that sends HTTP Basic credentials it never established gets the
    `signup` profile when the source's sessions show how accounts are made (a fresh account per
    execution, see accounts.py). A session that started logged in gets the `login` profile when a
    login exchange is known (its credential header is then set by the login step, not replayed as recorded); with
    `own_login_credentials`, a session that logs in itself gets `login-credentials` (no steps, only
    the credentials its own login request sends); credentials with no known login stay `headers` profiles from env vars.
    """

    def __init__(
        self,
        exchange: LoginExchange | None,
        creds: LoginCredentials,
        templater: RouteTemplater,
        *,
        own_logins: bool,
        signup: SignupExchange | None = None,
    ) -> None:
        self.own_logins = own_logins
        self.signup = signup
        self.exchange = exchange
        self.creds = creds
        self.templater = templater
        self.by_key: dict[tuple[str, ...], AuthProfile] = {}

    def all(self) -> list[AuthProfile]:
        return list(self.by_key.values())

    def _endpoint(self, exchange: LoginExchange) -> str:
        return endpoint_key(exchange.method, self.templater.template(exchange.path))

    def for_test(self, test: TestCase, requests: list[NetworkRequest], auth: dict[str, str]) -> str | None:
        ex = self.exchange
        if ex is not None and started_logged_in(requests, ex, auth):
            _drop_recorded_header(test, ex.header)
            rest = {h: v for h, v in auth.items() if h.lower() != ex.header.lower()}
            return self._login_profile(ex, rest).name
        if ex is not None and self.own_logins and _template_own_login(test, requests, ex):
            return self._get(
                ("login-credentials",),
                lambda name: AuthProfile(name=name, kind="login", variables=credential_variables(ex, self.creds)),
            ).name
        basic = next((h for h, v in auth.items() if h.lower() == "authorization" and basic_parts(v)), None)
        if basic is not None and self.signup is not None:
            # a returning user of an app whose sessions show how accounts are made: a fresh one per test
            signup = self.signup
            rest = {h: v for h, v in auth.items() if h != basic}
            return self._get(
                ("signup", *sorted(h.lower() for h in rest)),
                lambda name: signup_profile(name, signup, _env_headers(rest)),
            ).name
        if auth:
            return self._get(
                ("session-auth", *sorted(h.lower() for h in auth)),
                lambda name: AuthProfile(name=name, kind="headers", headers=_env_headers(auth)),
            ).name
        return None

    def browser_login(self, *, username: bool) -> AuthProfile:
        """For browser tests that type a password into a login form: the password to type, and
        the user name when the test types that too."""
        variables = {USERNAME_VAR: self.creds.username} if username else {}
        variables[PASSWORD_VAR] = self.creds.password
        return self._get(
            ("browser-login", *variables),
            lambda name: AuthProfile(name=name, kind="login", variables=dict(variables)),
        )

    def _login_profile(self, ex: LoginExchange, extra: dict[str, str]) -> AuthProfile:
        headers = _env_headers(extra)
        if ex.source == "json":  # a cookie needs no header: replay's per-test cookie jar sends it
            headers[ex.header] = ValueFrom(value=ex.header_template)
        return self._get(
            ("login", *sorted(h.lower() for h in extra)),
            lambda name: AuthProfile(
                name=name,
                kind="login",
                headers=headers,
                login=[login_step(ex, self._endpoint(ex))],
                variables=credential_variables(ex, self.creds),
            ),
        )

    def _get(self, key: tuple[str, ...], make: Callable[[str], AuthProfile]) -> AuthProfile:
        found = self.by_key.get(key)
        if found is None:
            base = key[0]  # the profile kind's name: login, login-credentials, session-auth
            taken = sum(k[0] == base for k in self.by_key)
            found = self.by_key[key] = make(base if not taken else f"{base}-{taken + 1}")
        return found


def _env_headers(auth: dict[str, str]) -> dict[str, ValueFrom]:
    return {h: ValueFrom(env="TRODDEN_AUTH_" + h.upper().replace("-", "_")) for h in sorted(auth)}


def _drop_recorded_header(test: TestCase, header: str) -> None:
    """The session's stale credential (an `X-…` header correlate kept as recorded) must not be sent:
    the login profile's header replaces it. Templated values (produced in-session) stay."""
    for step in test.steps:
        if isinstance(step, HttpStep):
            step.request.headers = {
                k: v for k, v in step.request.headers.items() if k.lower() != header.lower() or "{{" in v
            }


def _template_own_login(test: TestCase, requests: list[NetworkRequest], ex: LoginExchange) -> bool:
    """Template the credential fields of the test's own login requests; True when there was one."""
    found = False
    for step, ev in zip(test.steps, requests, strict=False):
        if isinstance(step, HttpStep) and is_exchange_request(ev, ex) and step.request.body_kind in ("json", "form"):
            kind: Literal["json", "form"] = "json" if step.request.body_kind == "json" else "form"
            step.request.body = template_credentials(step.request.body, kind, ex)
            found = True
    return found
