"""A recorded text or accessible name is the element's whole text: replay clicks the element that
shows exactly it before one that merely contains it (Playwright matches substrings)."""

from __future__ import annotations

import pytest
from aiohttp import web
from replay_shop import serve

from trodden.models.suite import BrowserExpectation, BrowserStep, Locator, Suite, TestCase
from trodden.replay.options import ReplayOptions
from trodden.replay.runner import replay_suite

pytestmark = pytest.mark.browser

HOME = """<!doctype html><html><head><title>Admin</title></head><body>
<header><a href="/admin/">Django administration</a></header><main><h1>Books</h1>
<p><a href="/years/">2019</a> <a href="/books/page2/">2</a></p>
<form method="post" action="/books/run"><select name="action"><option>mark</option></select>
<button type="submit">Go</button></form></main></body></html>"""


def app() -> web.Application:
    async def page(_r: web.Request) -> web.Response:
        return web.Response(text=HOME, content_type="text/html")

    async def run(_r: web.Request) -> web.Response:
        raise web.HTTPFound("/books/done/")

    application = web.Application()
    for path in ("/books/", "/books/page2/", "/books/done/", "/years/", "/admin/"):
        application.router.add_get(path, page)
    application.router.add_post("/books/run", run)
    return application


async def test_the_element_with_exactly_the_recorded_text_is_clicked() -> None:
    steps = [
        BrowserStep(id="b1", action="goto", url="{{origin}}/books/", expect=BrowserExpectation(url="/books")),
        BrowserStep(
            id="b2",
            action="click",
            locators=[Locator(strategy="role", value="link", name="2")],
            expect=BrowserExpectation(url="/books/page2"),
        ),
        BrowserStep(
            id="b3",
            action="click",
            locators=[Locator(strategy="text", value="Go")],
            expect=BrowserExpectation(url="/books/done"),
        ),
    ]
    test = TestCase(id="t-go", name="go", type="browser", session_id="s", steps=steps)
    suite = Suite(name="loc", revision=1, source="s", origin="https://admin.test", created_at="now", tests=[test])
    with serve(app()) as target:
        report = await replay_suite(None, suite, target, ReplayOptions(retries=0))
    assert report.results[0].outcome == "passed", report.results[0].failures
    assert [s.locator_index for s in report.results[0].steps[1:]] == [0, 0]
