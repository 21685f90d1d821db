"""Pages as steps: the route an SPA keeps in the URL fragment is part of a page's identity, templated
like a path; document loads bring their status and timing into journeys, so pages are routes that
coverage, rarity, errors and novelty count; browser tests start at the recorded page, fragment
included."""

from __future__ import annotations

from typing import Any

import pytest

from trodden.models.events import Session
from trodden.models.suite import BrowserStep
from trodden.pages import fragment_route, page_path, page_url, split_page_path
from trodden.synthesis.generate import SelectedInput, build_browser_test
from trodden.synthesis.journeys import build_journeys
from trodden.synthesis.routes import RouteTemplater
from trodden.synthesis.selection import SelectOptions, parse_strategies, select_journeys
from trodden.synthesis.steps import raw_steps

ORIGIN = "https://admin.test"


@pytest.mark.parametrize(
    ("url", "path", "start"),
    [
        (f"{ORIGIN}/#/orders/42/items", "/#/orders/42/items", "/#/orders/42/items"),
        (f"{ORIGIN}/app/?lang=en#!/orders/42?tab=2", "/app/#/orders/42", "/app/?lang=en#!/orders/42?tab=2"),
        (f"{ORIGIN}/products/12#reviews", "/products/12", "/products/12"),  # an anchor is not a page
        (f"{ORIGIN}/cb#access_token=abc&state=x", "/cb", "/cb"),  # parameters are not a page (nor kept)
        (f"{ORIGIN}/#/", "/", "/"),  # the root route is the root page
        (None, "/", "/"),
    ],
)
def test_what_names_a_page(url: str | None, path: str, start: str) -> None:
    assert page_path(url) == path
    assert page_url(url) == start


def test_fragment_routes_and_their_split() -> None:
    assert fragment_route("/orders/1?x=2") == "/orders/1" and fragment_route("!/a") == "/a"
    assert fragment_route("top") is None and fragment_route("") is None and fragment_route("/") is None
    assert split_page_path("/app/#/orders/{id}") == ("/app", "/orders/{id}")
    assert split_page_path("/#/orders") == ("/", "/orders")
    assert split_page_path("/orders/{id}") == ("/orders/{id}", None)


def _session(sid: str, events: list[dict[str, Any]], user: str | None = None) -> Session:
    return Session.model_validate(
        {
            "source": "t",
            "session_id": sid,
            "user_id": user,
            "events": [{"session_id": sid, "seq": i, "ts": 1000.0 + i, **e} for i, e in enumerate(events)],
        }
    )


def _spa(sid: str, order: int) -> Session:
    return _session(
        sid,
        [
            {"kind": "page_view", "url": f"{ORIGIN}/#/orders", "load": {"status": 200, "duration_ms": 80}},
            {"kind": "click", "target": {"role": "link", "name": "Order", "tag": "a"}},
            {
                "kind": "navigation",
                "from_url": f"{ORIGIN}/#/orders",
                "to_url": f"{ORIGIN}/#/orders/{order}/items",
                "trigger": "hash",
                "settle_ms": 120,
            },
            {
                "kind": "request",
                "method": "GET",
                "request_url": f"{ORIGIN}/api/orders/{order}/items",
                "status": 200,
                "duration_ms": 20,
            },
        ],
    )


def test_hash_routed_pages_are_templated_steps_and_routes() -> None:
    sessions = [_spa(f"s{i}", 40 + i) for i in range(3)]
    j = build_journeys((s.session_id, raw_steps(s.events)) for s in sessions)
    assert j.journey_texts(0) == [
        "page /#/orders 2xx",
        "click role=link[Order]",
        "page /#/orders/{id}/items",
        "GET /api/orders/{id}/items 2xx",
    ]
    assert j.n_journeys == 1  # not "page /" for everyone, not one journey per order either
    assert {"PAGE /#/orders", "PAGE /#/orders/{id}/items", "GET /api/orders/{id}/items"} == set(j.routes)
    # the document load's timing and the navigation's settle are the page steps' durations
    assert j.durations[:3].tolist() == [80.0, 0.0, 120.0]


def test_a_browser_test_starts_at_the_recorded_page_fragment_included() -> None:
    s = _spa("s1", 42)
    templater = RouteTemplater.learn([page_path(e.url) for e in s.events if e.url] + ["/#/orders/43/items"])
    test = build_browser_test(SelectedInput(session=s), "t", templater)
    assert test is not None
    goto, click = test.steps[0], test.steps[1]
    assert isinstance(goto, BrowserStep) and isinstance(click, BrowserStep)
    assert goto.action == "goto" and goto.url == "{{origin}}/#/orders"
    assert goto.expect.url == "/#/orders"
    assert click.expect.url == "/#/orders/{id}/items"


def test_pages_with_errors_are_routes_selection_counts() -> None:
    ok = [
        _session(
            f"ok{i}", [{"kind": "page_view", "url": f"{ORIGIN}/orders/{i}", "load": {"status": 200, "duration_ms": 50}}]
        )
        for i in range(30)
    ]
    broken = _session(
        "broken",
        [
            {"kind": "page_view", "url": f"{ORIGIN}/orders/7", "load": {"status": 200, "duration_ms": 50}},
            {"kind": "page_view", "url": f"{ORIGIN}/orders/7/edit", "load": {"status": 500, "duration_ms": 40}},
        ],
    )
    slow = _session(
        "slow", [{"kind": "page_view", "url": f"{ORIGIN}/orders/3", "load": {"status": 200, "duration_ms": 4000}}]
    )
    sessions = [*ok, broken, slow]
    j = build_journeys((s.session_id, raw_steps(s.events)) for s in sessions)
    assert "page /orders/{id}/edit 5xx" in j.journey_texts(j.session_journey[j.session_ids.index("broken")])
    options = SelectOptions(strategies=parse_strategies(["errors", "slow:p95"]), max_sessions=10)
    picked = {s.session_id: s.reasons for s in select_journeys(j, options).sessions}
    assert picked["broken"] == ["errors: PAGE /orders/{id}/edit → 500"]
    assert picked["slow"][0].startswith("slow: PAGE /orders/{id} 4,000 ms")


def test_a_login_form_types_the_password_of_the_account_replay_is_given() -> None:
    """The password a user typed is never recorded (masked): the browser test types
    `{{login_password}}`, and the suite's `browser-login` profile says where replay takes it from."""
    from trodden.synthesis.generate import build_suite

    s = _session(
        "s1",
        [
            {"kind": "page_view", "url": f"{ORIGIN}/admin/login/", "load": {"status": 200, "duration_ms": 20}},
            {"kind": "input", "target": {"id": "id_username", "name": "Username:", "tag": "input"}, "value": "admin"},
            {"kind": "input", "target": {"id": "id_password", "name": "Password:", "tag": "input"}, "masked": True},
            {"kind": "input", "target": {"id": "id_note", "name": "Note", "tag": "input"}, "masked": True},
            {"kind": "click", "target": {"role": "button", "name": "Log in", "tag": "input"}},
            {"kind": "page_view", "url": f"{ORIGIN}/admin/", "load": {"status": 200, "duration_ms": 20}},
        ],
    )
    suite = build_suite("admin", "t", [SelectedInput(session=s)], None)
    [test] = [t for t in suite.tests if t.type == "browser"]
    steps = [st for st in test.steps if isinstance(st, BrowserStep)]
    fills = [(st.locators[0].value, st.value) for st in steps if st.action == "fill"]
    assert fills == [
        ("id_username", "{{login_username}}"),
        ("id_password", "{{login_password}}"),
        ("id_note", "{{masked_1}}"),
    ]
    assert test.auth_profile == "browser-login"
    [profile] = suite.auth_profiles
    assert profile.kind == "login" and profile.login == []
    assert profile.variables["login_password"].env == "TRODDEN_LOGIN_PASSWORD"
    assert profile.variables["login_username"].env == "TRODDEN_LOGIN_USERNAME"


def test_a_sign_up_keeps_what_was_typed() -> None:
    from trodden.synthesis.generate import build_suite

    s = _session(
        "s1",
        [
            {"kind": "page_view", "url": f"{ORIGIN}/signup", "load": {"status": 200, "duration_ms": 20}},
            {"kind": "input", "target": {"id": "username", "name": "Username", "tag": "input"}, "value": "newbie"},
            {"kind": "input", "target": {"id": "password1", "name": "Password", "tag": "input"}, "masked": True},
            {
                "kind": "input",
                "target": {"id": "password2", "name": "Password confirmation", "tag": "input"},
                "masked": True,
            },
            {"kind": "click", "target": {"role": "button", "name": "Sign up", "tag": "button"}},
        ],
    )
    suite = build_suite("signup", "t", [SelectedInput(session=s)], None)
    [test] = [t for t in suite.tests if t.type == "browser"]
    values = [st.value for st in test.steps if isinstance(st, BrowserStep) and st.action == "fill"]
    assert values == ["newbie", "{{login_password}}", "{{login_password}}"]
    assert set(suite.auth_profiles[0].variables) == {"login_password"}


def test_a_registration_form_keeps_its_email() -> None:
    from trodden.synthesis.generate import build_suite

    s = _session(
        "s1",
        [
            {"kind": "page_view", "url": f"{ORIGIN}/account", "load": {"status": 200, "duration_ms": 20}},
            {
                "kind": "input",
                "target": {"test_id": "register-email", "name": "Email", "tag": "input"},
                "value": "u1@example.com",
            },
            {
                "kind": "input",
                "target": {"test_id": "register-password", "name": "Password", "tag": "input"},
                "masked": True,
            },
            {"kind": "click", "target": {"role": "button", "name": "Create account", "tag": "button"}},
        ],
    )
    suite = build_suite("register", "t", [SelectedInput(session=s)], None)
    [test] = [t for t in suite.tests if t.type == "browser"]
    values = [st.value for st in test.steps if isinstance(st, BrowserStep) and st.action == "fill"]
    assert values == ["u1@example.com", "{{login_password}}"]


def test_a_checkbox_the_user_ticked_is_checked_not_typed() -> None:
    """rum.js records a checkbox's change as "true"/"false": replay checks (or clears) it, since
    Playwright cannot fill a checkbox (every such test broke there on both sides and verified nothing)."""
    s = _session(
        "s1",
        [
            {
                "kind": "page_view",
                "url": f"{ORIGIN}/admin/library/loan/3/change/",
                "load": {"status": 200, "duration_ms": 20},
            },
            {"kind": "click", "target": {"role": "checkbox", "name": "Returned", "id": "id_returned", "tag": "input"}},
            {
                "kind": "change",
                "target": {"role": "checkbox", "name": "Returned", "id": "id_returned", "tag": "input"},
                "value": "true",
            },
            {
                "kind": "change",
                "target": {"role": "radio", "name": "Express", "id": "id_express", "tag": "input"},
                "value": "false",
            },
            {
                "kind": "change",
                "target": {"role": "textbox", "name": "Note", "id": "id_note", "tag": "input"},
                "value": "true",
            },
        ],
    )
    test = build_browser_test(SelectedInput(session=s), "t", RouteTemplater())
    assert test is not None
    actions = [(st.action, st.value) for st in test.steps if isinstance(st, BrowserStep)][1:]
    assert actions == [("click", None), ("check", "true"), ("check", "false"), ("fill", "true")]


def _login_session(sid: str, then: list[dict[str, Any]], *, from_home: bool = False) -> Session:
    home = [
        {"kind": "page_view", "url": f"{ORIGIN}/", "load": {"status": 200, "duration_ms": 20}},
        {"kind": "click", "target": {"role": "link", "name": "Staff", "tag": "a"}},
    ]
    return _session(
        sid,
        [
            *(home if from_home else []),
            {
                "kind": "page_view",
                "url": f"{ORIGIN}/admin/login/?next=/admin/",
                "load": {"status": 200, "duration_ms": 20},
            },
            {"kind": "input", "target": {"id": "id_username", "name": "Username:", "tag": "input"}, "value": "ana"},
            {"kind": "input", "target": {"id": "id_password", "name": "Password:", "tag": "input"}, "masked": True},
            {"kind": "click", "target": {"role": "button", "name": "Log in", "tag": "input"}},
            {"kind": "submit", "target": {"id": "login-form", "tag": "form"}},
            {"kind": "page_view", "url": f"{ORIGIN}/admin/", "load": {"status": 200, "duration_ms": 20}},
            *then,
        ],
    )


def test_a_session_that_started_signed_in_logs_in_first() -> None:
    """A user with a kept session cookie opened /admin/ directly; in a fresh browser that is the
    login page. The suite's login tests show how users sign in and that /admin/ comes after it."""
    from trodden.synthesis.generate import build_suite

    books = [
        {"kind": "click", "target": {"role": "link", "name": "Books", "tag": "a"}},
        {"kind": "page_view", "url": f"{ORIGIN}/admin/library/book/", "load": {"status": 200, "duration_ms": 9}},
    ]
    signed_in = _session(
        "kept", [{"kind": "page_view", "url": f"{ORIGIN}/admin/", "load": {"status": 200, "duration_ms": 20}}, *books]
    )
    public = _session(
        "public",
        [
            {"kind": "page_view", "url": f"{ORIGIN}/", "load": {"status": 200, "duration_ms": 20}},
            {"kind": "click", "target": {"role": "link", "name": "About", "tag": "a"}},
            {"kind": "page_view", "url": f"{ORIGIN}/about/", "load": {"status": 200, "duration_ms": 20}},
        ],
    )
    sessions = (_login_session("login", books), _login_session("via-home", [], from_home=True), signed_in, public)
    selected = [SelectedInput(session=s) for s in sessions]
    suite = build_suite("admin", "t", selected, None)
    tests = {t.session_id: t for t in suite.tests if t.type == "browser"}
    kept = [st for st in tests["kept"].steps if isinstance(st, BrowserStep)]
    assert [(st.id, st.action, st.url or st.value) for st in kept] == [
        ("b1", "goto", "{{origin}}/admin/login/?next=/admin/"),
        ("b2", "fill", "{{login_username}}"),
        ("b3", "fill", "{{login_password}}"),
        ("b4", "click", None),
        ("b5", "submit", None),
        ("b6", "goto", "{{origin}}/admin/"),
        ("b7", "click", None),
    ]
    assert tests["kept"].auth_profile == tests["login"].auth_profile == "browser-login"
    # a page login tests saw before signing in (the public home page) is no evidence
    assert tests["public"].auth_profile is None and len(tests["public"].steps) == 2


def _fetch(seq: int, method: str, path: str, status: int = 200) -> dict[str, Any]:
    return {
        "kind": "request",
        "initiator": "fetch",
        "method": method,
        "request_url": f"{ORIGIN}{path}",
        "status": status,
        "duration_ms": 4.0,
        "response_body": {"data": []},
    }


def test_calls_a_signed_in_page_authorised_are_replayed_by_that_page() -> None:
    """An SPA that signs in through a form and sends its API calls with a header it made of the
    typed password: the recording holds neither, so an HTTP test of those calls is refused on every
    side and verifies nothing. The session's browser test replays them; a session that signed in
    nowhere keeps its HTTP test."""
    from trodden.synthesis.generate import build_suite

    calls = [_fetch(0, "GET", "/v1/buckets"), _fetch(1, "POST", "/v1/buckets/blog/records", 201)]
    signs_in = _login_session(
        "spa",
        [
            {"kind": "click", "target": {"role": "link", "name": "Records", "tag": "a"}},
            *calls,
            {"kind": "navigation", "from_url": f"{ORIGIN}/admin/", "to_url": f"{ORIGIN}/admin/#/records"},
        ],
    )
    anonymous = _session(
        "anon",
        [  # a public page: no login test reached it after signing in
            {"kind": "page_view", "url": f"{ORIGIN}/catalogue/", "load": {"status": 200, "duration_ms": 20}},
            {"kind": "click", "target": {"role": "link", "name": "Records", "tag": "a"}},
            *calls,
        ],
    )
    suite = build_suite("spa", "t", [SelectedInput(session=signs_in), SelectedInput(session=anonymous)], None)
    kinds = sorted((t.session_id, t.type) for t in suite.tests)
    assert kinds == [("anon", "browser"), ("anon", "http"), ("spa", "browser")]
    [spa] = [t for t in suite.tests if t.session_id == "spa"]
    assert spa.auth_profile == "browser-login"
    assert any(isinstance(s, BrowserStep) and "POST /v1/buckets/blog/records" in s.network for s in spa.steps)


def test_a_sign_in_the_user_retried_fails_first_as_it_did() -> None:
    """A user mistyped the password, was shown the login page again and signed in at the second
    try. Replay types a wrong password first (the account's own would sign in at once, and the
    retry would find no login form on every side), then the account's."""
    from trodden.synthesis.generate import WRONG_PASSWORD, build_suite

    attempt = [
        {"kind": "input", "target": {"id": "id_password", "name": "Password:", "tag": "input"}, "masked": True},
        {"kind": "click", "target": {"role": "button", "name": "Log in", "tag": "input"}},
        {"kind": "submit", "target": {"id": "login-form", "tag": "form"}},
    ]
    retried = _session(
        "typo",
        [
            {"kind": "page_view", "url": f"{ORIGIN}/admin/login/", "load": {"status": 200, "duration_ms": 20}},
            {"kind": "input", "target": {"id": "id_username", "name": "Username:", "tag": "input"}, "value": "ana"},
            *attempt,
            {"kind": "page_view", "url": f"{ORIGIN}/admin/login/", "load": {"status": 200, "duration_ms": 20}},
            *attempt,
            {"kind": "page_view", "url": f"{ORIGIN}/admin/", "load": {"status": 200, "duration_ms": 20}},
        ],
    )
    suite = build_suite(
        "admin", "t", [SelectedInput(session=retried), SelectedInput(session=_login_session("once", []))], None
    )
    tests = {t.session_id: t for t in suite.tests if t.type == "browser"}
    typed = [st.value for st in tests["typo"].steps if isinstance(st, BrowserStep) and st.action == "fill"]
    assert typed[1:] == [WRONG_PASSWORD, "{{login_password}}"]
    assert tests["typo"].auth_profile == "browser-login"
    # one sign-in that worked keeps the account's password
    once = [st.value for st in tests["once"].steps if isinstance(st, BrowserStep) and st.action == "fill"]
    assert once[1:] == ["{{login_password}}"]
