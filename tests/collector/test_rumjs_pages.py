"""rum.js on a server-rendered site (HTML pages, links and forms, no fetch): every page view carries
how its document loaded (status, timings) and an outline of what the page showed; nothing typed,
masked or inside table bodies is read (nor a control of a data table's row,
named after its record)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import async_playwright

from trodden.browser import launch_chromium
from trodden.models.events import PageView

from .conftest import KEY, RunningCollector

pytestmark = pytest.mark.browser

TYPED = "Zebulon Quartermaine"
HIDDEN = "secret-code-77"
CUSTOMER = "Ophelia Brightwater"

LAYOUT = """<!doctype html><html><head><title>{title}</title>
<script src="{collector}/rum.js" data-key="{key}"></script></head>
<body><header><a href="/">Home</a><a href="/v1/docs">API</a><a href="/v1/orders/9">Latest order</a></header>
<nav aria-label="Breadcrumbs"><a href="/orders">Orders</a></nav>
<main><h1>{title}</h1>{body}</main><footer>Shop Ltd</footer></body></html>"""

ORDERS = """
<ul class="messagelist"><li class="success">{flash}</li></ul>
<div id="filters"><h3>By status</h3>
<ul><li><a href="?status=open">Open</a></li><li><a href="?status=paid">Paid</a></li></ul></div>
<form method="get" action="/orders" role="search"><label for="q">Search</label><input id="q" name="q">
<button type="submit">Search</button></form>
<table id="result_list"><caption>Orders</caption>
<thead><tr><th>Order</th><th>Customer</th><th>Total</th></tr></thead>
<tbody>
<tr><td><a href="/orders/1">#1</a></td><td>{customer}</td><td>3.50</td>
<td><input type="checkbox" aria-label="Select this object for an action - {customer}"></td></tr>
<tr><td><a href="/orders/2">#2</a></td><td>{customer}</td><td>9.00</td></tr>
</tbody></table>
<table id="settings"><tr><th>batch_max_requests</th><td>25</td></tr><tr><th>readonly</th><td>false</td></tr>
<tr><th>explicit_permissions</th><td>true</td></tr></table>
<table id="totals"><tr><th>Month</th><th>Orders</th></tr><tr><td>May</td><td>7</td></tr></table>
<section data-sensitive><h2>{hidden}</h2><a href="/x">{hidden}</a></section>
<p hidden><a href="/never">Never shown</a></p>
<form method="post" action="/orders/new"><label for="note">Note</label><input id="note" name="note">
<label for="pin">PIN</label><input id="pin" type="password" name="pin">
<input type="submit" value="Create order"></form>
"""


@pytest.fixture
def collector(collector_keeping_texts: RunningCollector) -> RunningCollector:
    """What the tag captured, kept as captured: one browser session is one user, under k (conftest)."""
    return collector_keeping_texts


@pytest.fixture
async def site(collector: RunningCollector) -> AsyncIterator[str]:
    def page(title: str, body: str, status: int = 200) -> web.Response:
        html = LAYOUT.format(title=title, body=body, collector=collector.url, key=KEY)
        return web.Response(text=html, content_type="text/html", status=status)

    async def orders(request: web.Request) -> web.Response:
        flash = "Order created" if request.query.get("created") else ""
        return page("Orders", ORDERS.format(flash=flash, customer=CUSTOMER, hidden=HIDDEN))

    async def create(request: web.Request) -> web.Response:
        await request.post()
        raise web.HTTPFound("/orders?created=1")

    async def missing(_r: web.Request) -> web.Response:
        return page("Not found", '<p class="errornote">No such order</p>', status=404)

    app = web.Application()
    app.router.add_get("/orders", orders)
    app.router.add_post("/orders/new", create)
    app.router.add_get("/orders/999", missing)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


async def test_page_views_carry_their_load_and_outline(collector: RunningCollector, site: str) -> None:
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            page = await browser.new_page()
            await page.goto(site + "/orders")
            await page.fill("#note", TYPED)
            await page.fill("#pin", HIDDEN)
            await page.click("input[type=submit]")  # POST, 302, GET /orders?created=1
            await page.wait_for_url("**/orders?created=1")
            await page.wait_for_function("window.trodden && document.readyState === 'complete'")
            await page.goto(site + "/orders/999")
            await page.wait_for_function("window.trodden && document.readyState === 'complete'")
            await page.evaluate("window.trodden.flush()")
            for _ in range(300):
                views = await _page_views(collector)
                if len(views) == 3 and all(v.page is not None for v in views):
                    break
                await asyncio.sleep(0.1)
        finally:
            await browser.close()

    first, created, missing = await _page_views(collector)
    assert first.load is not None and first.load.status == 200 and first.load.type == "navigate"
    assert first.load.duration_ms > 0 and first.load.ttfb_ms is not None
    assert created.load is not None and created.load.status == 200 and created.load.redirects == 1
    assert missing.load is not None and missing.load.status == 404

    shape = first.page
    assert shape is not None
    assert shape.headings == ["Orders", "By status"]  # the masked section's heading is left out
    assert shape.landmarks == ["banner", "navigation", "main", "search", "contentinfo"]
    [table, settings, totals] = shape.tables
    assert (table.name, table.headers, table.rows) == ("Orders", ["Order", "Customer", "Total"], 2)
    # key/value rows (a th, then a td) are data, not a header: kinto-admin lists its server's
    # settings so, in an order that differs per process, and their first key read as a column
    assert (settings.name, settings.headers, settings.rows) == ("settings", [], 3)
    assert (totals.name, totals.headers, totals.rows) == ("totals", ["Month", "Orders"], 1)  # th only: a header
    assert {"name": "filters", "items": 2} not in [lst.model_dump() for lst in shape.lists]  # named by the list
    assert any(lst.items == 2 for lst in shape.lists)
    # not "#1" (a table body), not masked or hidden, not "Latest order" (one record's); `/v1/` is a version
    assert shape.links == ["Home", "API", "Orders", "Open", "Paid"]
    assert shape.buttons == ["Search", "Create order"]
    assert shape.fields == ["Search", "Note"]  # the password field is masked, a row's checkbox is data
    assert shape.alerts == []
    assert created.page is not None and created.page.alerts == ["Order created"]
    assert missing.page is not None and missing.page.alerts == ["No such order"]

    everything = str(await collector.store.pool.fetch("SELECT t::text FROM events t"))
    assert HIDDEN not in everything and CUSTOMER not in everything  # masked, table cells
    outlines = str(await collector.store.pool.fetch("SELECT data->'page' FROM events"))
    assert TYPED not in outlines  # what was typed is the input event's business (sanitised there)


async def _page_views(collector: RunningCollector) -> list[PageView]:
    rows = await collector.store.pool.fetch(
        "SELECT session_id, seq, ts, url, data FROM events WHERE kind = 'page_view' ORDER BY seq"
    )
    out: list[PageView] = []
    for r in rows:
        data: dict[str, Any] = dict(r["data"])
        out.append(
            PageView(
                kind="page_view",
                session_id=r["session_id"],
                seq=r["seq"],
                ts=r["ts"].timestamp() * 1000,
                url=r["url"],
                **data,
            )
        )
    return out
