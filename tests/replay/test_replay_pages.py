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
from replay_shop import serve
from trodden.replay.options import ReplayOptions
from trodden.replay.runner import replay_suite
from trodden.synthesis.generate import SelectedInput, build_suite

from trodden.models.events import Session
from trodden.models.suite import BrowserStep, Suite

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
        rows = "".join(f'<tr><td><a href="/orders/{i}">#{i}</a></td><td>{item}</td><td>{total}</td></tr>'
                       for i, item, total in v.get("rows", ROWS))  # fmt: skip
        html = LIST.format(total=v.get("total", "Total"), rows=rows, script=v.get("script", ""),
                           next=v.get("next", '<a href="/orders?page=2">Next page</a>'))  # fmt: skip
        return web.Response(text=html, content_type="text/html")

    async def detail(request: web.Request) -> web.Response:
        status = v.get("detail_status", 200)
        text = DETAIL.format(id=request.match_info["id"]) if status == 200 else "<h1>Server Error (500)</h1>"
        return web.Response(text=text, content_type="text/html", status=status)

    app = web.Application()
    app.router.add_get("/orders", orders)
    app.router.add_get("/orders/{id}", detail)
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
    return Session.model_validate({"source": "mini", "session_id": "s1", "user_id": "u1", "events": [
        {"session_id": "s1", "seq": i, "ts": 1000.0 + i, **e} for i, e in enumerate(events)]})  # fmt: skip


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
