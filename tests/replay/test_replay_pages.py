"""Server-rendered pages in browser replay: after every step the page is outlined as rum.js outlined
it. A document that answers 5xx (or 4xx where the recording had 2xx) and an uncaught error the
recording did not have are regressions on their own; with a baseline, a page that shows another
table header, another number of rows, rows in another order or a missing link differs from the
baseline, which showed the same twice (Diffy's rule). The same version replays clean."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import async_playwright
from replay_shop import serve

from trodden.browser import launch_chromium
from trodden.models.events import Session
from trodden.models.suite import BrowserStep, Suite
from trodden.replay.options import ReplayOptions
from trodden.replay.pages import outline_script
from trodden.replay.runner import replay_suite
from trodden.synthesis.generate import SelectedInput, build_suite

pytestmark = pytest.mark.browser

RECORDED = "https://admin.recorded.test"
ROWS = [("1", "Socks", "3.50"), ("2", "Shoes", "59.00"), ("3", "Scarf", "12.00")]

LIST = """<!doctype html><html><head><title>Orders</title></head><body>
<nav aria-label="Breadcrumbs"><a href="/">Home</a> › <a href="/orders">Orders</a></nav>
<main><h1>Orders</h1>
<table id="result_list"><thead><tr><th>Order</th><th>Item</th><th>{total}</th></tr></thead><tbody>{rows}</tbody></table>
{next}
</main>{script}</body></html>"""
DETAIL = """<!doctype html><html><head><title>Order</title></head><body><main><h1>Order {id}</h1>
<a href="/orders">Back to orders</a></main></body></html>"""

PASSWORD = "Admin-pass-1"
LOGIN = """<!doctype html><html><head><title>Log in</title></head><body><main><h1>Log in</h1>
<form method="post" action="/login"><label for="id_username">Username:</label><input id="id_username" name="username">
<label for="id_password">Password:</label><input id="id_password" name="password" type="password">
<input type="submit" value="Log in"></form></main></body></html>"""

VARIANTS: dict[str, dict[str, Any]] = {
    "v1": {},
    "renamed-header": {"total": "Amount"},
    "fewer-rows": {"rows": ROWS[:2]},
    "unsorted": {"rows": ROWS[::-1]},
    "no-next-link": {"next": ""},
    "detail-500": {"detail_status": 500},
    "js-error": {"script": "<script>document.addEventListener('click', () => { throw new Error('boom'); });</script>"},
}


def make_app(variant: str) -> web.Application:
    v = VARIANTS[variant]

    async def orders(_r: web.Request) -> web.Response:
        rows = "".join(
            f'<tr><td><a href="/orders/{i}">#{i}</a></td><td>{item}</td><td>{total}</td></tr>'
            for i, item, total in v.get("rows", ROWS)
        )
        html = LIST.format(
            total=v.get("total", "Total"),
            rows=rows,
            script=v.get("script", ""),
            next=v.get("next", '<a href="/orders?page=2">Next page</a>'),
        )
        return web.Response(text=html, content_type="text/html")

    async def detail(request: web.Request) -> web.Response:
        status = v.get("detail_status", 200)
        text = DETAIL.format(id=request.match_info["id"]) if status == 200 else "<h1>Server Error (500)</h1>"
        return web.Response(text=text, content_type="text/html", status=status)

    async def login_form(_r: web.Request) -> web.Response:
        return web.Response(text=LOGIN, content_type="text/html")

    async def login(request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("password") != PASSWORD or form.get("username") != "replay.tester":
            return web.Response(
                text=LOGIN.replace("<form", '<p class="errornote">Wrong password</p><form'), content_type="text/html"
            )
        raise web.HTTPFound("/orders")

    app = web.Application()
    app.router.add_get("/orders", orders)
    app.router.add_get("/orders/{id}", detail)
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login)
    return app


@pytest.fixture(scope="module")
def sites() -> Iterator[dict[str, str]]:
    with serve(make_app("v1")) as v1, serve(make_app("v1")) as v1b:
        out = {"v1": v1, "v1-again": v1b}
        servers = [serve(make_app(name)) for name in VARIANTS if name != "v1"]
        try:
            for name, server in zip([n for n in VARIANTS if n != "v1"], servers, strict=True):
                out[name] = server.__enter__()
            yield out
        finally:
            for server in servers:
                server.__exit__(None, None, None)


def _session() -> Session:
    """As rum.js records a user opening the order list and clicking the second order."""
    url = f"{RECORDED}/orders"
    events: list[dict[str, Any]] = [
        {"kind": "page_view", "url": url, "load": {"status": 200, "duration_ms": 40}},
        {"kind": "click", "url": url, "target": {"role": "link", "name": "#2", "text": "#2", "tag": "a"}},
        {"kind": "page_view", "url": f"{RECORDED}/orders/2", "load": {"status": 200, "duration_ms": 30}},
    ]
    return Session.model_validate(
        {
            "source": "mini",
            "session_id": "s1",
            "user_id": "u1",
            "events": [{"session_id": "s1", "seq": i, "ts": 1000.0 + i, **e} for i, e in enumerate(events)],
        }
    )


def _suite() -> Suite:
    suite = build_suite("pages", "mini", [SelectedInput(_session())], None)
    suite.tests = [t for t in suite.tests if t.type == "browser"]
    return suite


def test_the_generated_test_expects_the_recorded_document_status() -> None:
    (test,) = _suite().tests
    goto, click = test.steps
    assert isinstance(goto, BrowserStep) and isinstance(click, BrowserStep)
    assert (goto.action, goto.expect.status, goto.expect.no_errors) == ("goto", 200, True)
    assert (click.action, click.expect.url, click.expect.status) == ("click", "/orders/{id}", 200)


async def test_a_500_is_never_a_pass_and_a_new_js_error_is_a_regression(sites: dict[str, str]) -> None:
    suite = _suite()
    same = await replay_suite(None, suite, sites["v1"], ReplayOptions(retries=0))
    assert [(r.outcome, r.failures) for r in same.results] == [("passed", [])]

    broken = await replay_suite(None, suite, sites["detail-500"], ReplayOptions(retries=0))
    [status] = [f for f in broken.regressions if f.assertion_id == "expect:page-status"]
    assert (status.step_id, status.expected, status.actual, status.endpoint) == ("b2", 200, 500, "PAGE /orders/2")

    thrown = await replay_suite(None, suite, sites["js-error"], ReplayOptions(retries=0))
    assert [(f.assertion_id, f.step_id, f.actual) for f in thrown.regressions] == [("expect:no-error", "b2", "boom")]


@pytest.mark.parametrize(
    ("variant", "field", "step"),
    [
        ("renamed-header", "table result_list columns", "b1"),
        ("fewer-rows", "table result_list rows", "b1"),
        ("unsorted", "table result_list rows", "b1"),  # the same number, in another order
        ("no-next-link", "links", "b1"),
    ],
)
async def test_what_the_page_shows_is_compared_with_the_baseline(
    sites: dict[str, str], variant: str, field: str, step: str
) -> None:
    suite = _suite()
    report = await replay_suite(None, suite, sites[variant], ReplayOptions(retries=0, baseline=sites["v1"]))
    found = [(f.assertion_id, f.step_id) for f in report.regressions]
    assert found == [(f"diff:{field}", step)], report.regressions
    control = await replay_suite(None, suite, sites["v1-again"], ReplayOptions(retries=0, baseline=sites["v1"]))
    assert control.regressions == []


def _login_suite() -> Suite:
    """A user logging in: the password was masked, never recorded."""
    events: list[dict[str, Any]] = [
        {"kind": "page_view", "url": f"{RECORDED}/login", "load": {"status": 200, "duration_ms": 20}},
        {"kind": "input", "target": {"id": "id_username", "name": "Username:", "tag": "input"}, "value": "admin"},
        {"kind": "input", "target": {"id": "id_password", "name": "Password:", "tag": "input"}, "masked": True},
        {"kind": "click", "target": {"role": "button", "name": "Log in", "tag": "input"}},
        {"kind": "page_view", "url": f"{RECORDED}/orders", "load": {"status": 200, "duration_ms": 30}},
    ]
    session = Session.model_validate(
        {
            "source": "mini",
            "session_id": "s2",
            "user_id": "u1",
            "events": [{"session_id": "s2", "seq": i, "ts": 1000.0 + i, **e} for i, e in enumerate(events)],
        }
    )
    suite = build_suite("login", "mini", [SelectedInput(session)], None)
    suite.tests = [t for t in suite.tests if t.type == "browser"]
    return suite


async def test_a_browser_login_types_the_password_replay_is_given(
    sites: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    suite = _login_suite()
    monkeypatch.setenv("TRODDEN_LOGIN_USERNAME", "replay.tester")  # the account replay is given
    monkeypatch.delenv("TRODDEN_LOGIN_PASSWORD", raising=False)
    missing = await replay_suite(None, suite, sites["v1"], ReplayOptions(retries=0))
    [result] = missing.results
    assert result.outcome == "skipped" and "TRODDEN_LOGIN_PASSWORD" in (result.reason or "")

    monkeypatch.setenv("TRODDEN_LOGIN_PASSWORD", PASSWORD)
    logged_in = await replay_suite(None, suite, sites["v1"], ReplayOptions(retries=0))
    assert [(r.outcome, r.failures) for r in logged_in.results] == [("passed", [])]

    monkeypatch.setenv("TRODDEN_LOGIN_PASSWORD", "not-the-password")
    refused = await replay_suite(None, suite, sites["v1"], ReplayOptions(retries=0))
    assert [f.assertion_id for f in refused.regressions] == ["expect:url"]  # still on the login page


def _outlined_session(sid: str, user: str) -> Session:
    """As rum.js records the v1 order list (outline included) and a click to an order."""
    outline = {
        "headings": ["Orders"],
        "landmarks": ["navigation", "main"],
        "tables": [{"name": "result_list", "headers": ["Order", "Item", "Total"], "rows": 3}],
        "links": ["Home", "Orders", "Next page"],
    }
    url = f"{RECORDED}/orders"
    events: list[dict[str, Any]] = [
        {"kind": "page_view", "url": url, "load": {"status": 200, "duration_ms": 40}, "page": outline},
        {"kind": "click", "url": url, "target": {"role": "link", "name": "#2", "text": "#2", "tag": "a"}},
        {
            "kind": "page_view",
            "url": f"{RECORDED}/orders/2",
            "load": {"status": 200, "duration_ms": 30},
            "page": {"headings": ["Order 2"], "links": ["Back to orders"]},
        },
    ]
    return Session.model_validate(
        {
            "source": "mini",
            "session_id": sid,
            "user_id": user,
            "events": [{"session_id": sid, "seq": i, "ts": 1000.0 + i, **e} for i, e in enumerate(events)],
        }
    )


async def test_mined_page_invariants_judge_pages_without_a_baseline(sites: dict[str, str]) -> None:
    from trodden.synthesis.mining import MiningOptions
    from trodden.synthesis.page_mining import PageMiner
    from trodden.synthesis.routes import RouteTemplater

    sessions = [_outlined_session(f"s{i}", f"u{i % 2}") for i in range(4)]
    miner = PageMiner(RouteTemplater.learn(["/orders", "/orders/1", "/orders/2"]), MiningOptions())
    for s in sessions:
        miner.add(s)
    assertions = miner.assertions()
    assert {a.description for a in assertions if a.kind == "page_structure"} >= {
        "pages of /orders show a table with columns Order, Item, Total",
        "pages of /orders show a non-empty table result_list",
    }
    suite = build_suite("mined", "mini", [SelectedInput(sessions[0])], None, assertions=assertions)
    suite.tests = [t for t in suite.tests if t.type == "browser"]
    assert suite.stats.assertions_dropped == []

    same = await replay_suite(None, suite, sites["v1"], ReplayOptions(retries=0))
    assert [(r.outcome, r.failures) for r in same.results] == [("passed", [])]
    renamed = await replay_suite(None, suite, sites["renamed-header"], ReplayOptions(retries=0))
    [finding] = renamed.regressions
    assert (finding.kind, finding.step_id, finding.field) == ("page_structure", "b1", "columns")
    assert finding.expected == ["Order | Item | Total"] and finding.endpoint == "PAGE /orders"
    broken = await replay_suite(None, suite, sites["detail-500"], ReplayOptions(retries=0))
    # the recorded expectation and the mined status class say it; the page's structure is not repeated
    assert {(f.kind, f.step_id) for f in broken.regressions} == {("status", "b2"), ("page_status", "b2")}


def _table(rows: list[tuple[str, str]], *, head: bool) -> str:
    thead = "<thead><tr><th>Name</th><th>Value</th></tr></thead>" if head else ""
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f"<!doctype html><html><body><main><table>{thead}<tbody>{body}</tbody></table></main></body></html>"


async def test_a_key_value_table_is_a_mapping_and_a_list_with_headers_keeps_its_order() -> None:
    """kinto-admin shows Kinto's settings as rows `<th>key</th><td>value</td>`, listed from a Python
    set in an order that differs per process: the control's home page "differed" in every test (35
    findings in one control). Such a table's rows are digested in no order; rows under column
    headers (Django's change list starts each row with a th too) keep theirs."""
    settings = [("readonly", "false"), ("batch_max_requests", "25"), ("explicit_permissions", "true")]
    digests: dict[tuple[bool, bool], str] = {}
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            page = await browser.new_page()
            for head in (False, True):
                for flipped in (False, True):
                    await page.set_content(_table(settings[::-1] if flipped else settings, head=head))
                    outline = await page.evaluate(outline_script(), [50, 2000])
                    (table,) = outline["page"]["tables"]
                    assert table["rows"] == 3
                    digests[(head, flipped)] = table["digest"]
        finally:
            await browser.close()
    assert digests[(False, False)] == digests[(False, True)]
    assert digests[(True, False)] != digests[(True, True)]


@pytest.mark.parametrize("stamp", ["2026-12-06T06:52:14.000Z", "Sunday, December 6, 2026 at 10:32:45 AM UTC"])
async def test_a_time_shown_relative_to_now_is_a_clock_in_a_table_s_rows(stamp: str) -> None:
    """kinto-admin's records list shows each record's "Last mod." as "12 seconds ago" (timeago, the
    date in the element's title), its history "just now" (the date written out in the title): two
    sides a second apart differed. Such text is digested as a clock; the rest of the row still counts."""

    def page(title: str, ago: str) -> str:
        row = f'<tr><td>{title}</td><td><span title="{stamp}">{ago}</span></td></tr>'
        head = "<thead><tr><th>Title</th><th>Last mod.</th></tr></thead>"
        return f"<!doctype html><html><body><main><table>{head}<tbody>{row}</tbody></table></main></body></html>"

    digests = []
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            tab = await browser.new_page()
            for title, ago in (("Hiring #4", "just now"), ("Hiring #4", "12 seconds ago"), ("Roadmap #5", "just now")):
                await tab.set_content(page(title, ago))
                (table,) = (await tab.evaluate(outline_script(), [50, 2000]))["page"]["tables"]
                digests.append(table["digest"])
        finally:
            await browser.close()
    assert digests[0] == digests[1] != digests[2]


async def test_a_list_rendered_as_rows_keyed_0_1_2_is_a_set_and_a_nested_table_is_its_own() -> None:
    """kinto-admin's home page: the user's principals (a Python set) as rows 0, 1, 2 in a table nested
    in the user's table. Both tables digest the same whatever the set's order; another principal
    still differs."""

    def page(principals: list[str]) -> str:
        inner = "".join(f"<tr><th>{i}</th><td>{p}</td></tr>" for i, p in enumerate(principals))
        return (
            "<!doctype html><html><body><main><table><tbody><tr><th>id</th><td>account:replay.tester</td></tr>"
            f"<tr><th>principals</th><td><table><tbody>{inner}</tbody></table></td></tr></tbody></table>"
            "</main></body></html>"
        )

    seen = []
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            tab = await browser.new_page()
            for principals in (
                ["account:replay.tester", "system.Authenticated", "system.Everyone"],
                ["system.Everyone", "account:replay.tester", "system.Authenticated"],
                ["account:replay.tester", "system.Authenticated", "group:editors"],
            ):
                await tab.set_content(page(principals))
                tables = (await tab.evaluate(outline_script(), [50, 2000]))["page"]["tables"]
                seen.append([t["digest"] for t in tables])
        finally:
            await browser.close()
    assert len(seen[0]) == 2
    assert seen[0] == seen[1]
    assert seen[0][0] == seen[2][0] and seen[0][1] != seen[2][1]  # the user's table: its nested table apart


async def test_a_version_in_the_path_is_no_record_id_links_under_v1_are_outlined() -> None:
    """kinto-admin is served at `/v1/admin/`: every link of the app (`/v1/admin/#/…`) had a digit in
    a path segment and was left out as "a link to one record", so its records list's "Create
    record" link, renamed, went unseen. A version segment names no record; ids still do."""
    page_html = (
        "<!doctype html><html><body><main>"
        '<a href="#/buckets/blog/collections/posts/records/create">Create record</a>'
        '<a href="/api/v2.1/docs">API docs</a>'
        '<a href="#/buckets/blog/collections/posts/records/42">Hiring #42</a>'
        '<a href="/v1/orders/17">Order 17</a>'
        "</main></body></html>"
    )
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            tab = await browser.new_page()

            async def fulfil(route: Any) -> None:
                await route.fulfill(status=200, content_type="text/html", body=page_html)

            await tab.route("http://app.test/**", fulfil)
            await tab.goto("http://app.test/v1/admin/")
            links = (await tab.evaluate(outline_script(), [50, 2000]))["page"]["links"]
        finally:
            await browser.close()
    assert sorted(links) == ["API docs", "Create record"]
