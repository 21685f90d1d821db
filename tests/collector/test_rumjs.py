"""rum.js in real Chromium against a page served locally: what a user does arrives in PostgreSQL
with the expected selectors, masked values masked, one session across pages, traceparent linked."""

from __future__ import annotations

import asyncio
import gzip
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from playwright.async_api import async_playwright

from trodden.browser import launch_chromium
from trodden.collector.app import rum_js
from trodden.collector.sanitize import Sanitizer

from .conftest import KEY, PSEUDONYM_KEY, RunningCollector, StartCollector

pytestmark = pytest.mark.browser

EMAIL = "shopper.one@example.com"
PASSWORD = "Hunter2-secret!"
SECRET_NOTE = "my-private-diary-entry"

INDEX = """<!doctype html><html><head><title>Shop</title>
<script src="{collector}/rum.js" data-key="{key}" data-user-id="u-1" async></script></head>
<body><nav><a href="/" data-testid="nav-home">Home</a></nav><main id="main">
<h1 data-testid="page-title">Shop</h1>
<p data-testid="cart-toast" role="status" hidden></p>
<p data-testid="promo-alert" role="alert" hidden>Code sent to {email}</p>
<section data-testid="promo-box" data-sensitive hidden>Your code: {note}</section>
<form id="login" onsubmit="event.preventDefault()">
  <label for="email">Email</label><input id="email" type="email" data-testid="email-input">
  <label for="pw">Password</label><input id="pw" type="password">
  <input id="note" data-sensitive placeholder="Note">
  <select id="size" name="size"><option>S</option><option>M</option></select>
  <button type="submit">Sign in</button>
</form>
<div class="product"><button data-testid="add-to-cart" onclick="addToCart()">Add to cart</button></div>
<button id="promo"
  onclick="window.trodden.track('promo_clicked', {{code: 'SPRING', pct: 10}}); showPromo()">Promo</button>
<a href="/checkout" id="to-checkout">Checkout</a>
<div style="height: 3000px"></div>
<ul id="feed"><li data-testid="feed-end">More products below</li></ul>
</main>
<script>
let loadedMore = false;
window.addEventListener('scroll', () => {{
  if (!loadedMore && innerHeight + scrollY >= document.body.scrollHeight - 50) {{
    loadedMore = true;
    fetch('/api/more').then(r => r.json()).then(() => {{ document.body.dataset.more = '1'; }});
  }}
}});
async function addToCart() {{
  const r = await fetch('/api/cart', {{method: 'POST', headers: {{'Content-Type': 'application/json'}},
                                      body: JSON.stringify({{sku: 'SKU-1', qty: 2}})}});
  await r.json();
  const toast = document.querySelector('[data-testid=cart-toast]');
  toast.textContent = 'Added to cart';
  toast.hidden = false;
  history.pushState({{}}, '', '/cart');
  document.title = 'Cart';
}}
function showPromo() {{
  for (const id of ['promo-alert', 'promo-box']) document.querySelector(`[data-testid=${{id}}]`).hidden = false;
}}
</script></body></html>"""

CHECKOUT = """<!doctype html><html><head><title>Checkout</title>
<script src="{collector}/rum.js" data-key="{key}" async></script></head>
<body><button id="pay" onclick="pay()">Pay now</button><h2 id="paid" hidden>Paid, thank you</h2>
<script>
function pay() {{
  const x = new XMLHttpRequest();
  x.open('GET', '/api/summary');
  x.onload = () => {{ document.getElementById('paid').hidden = false; document.body.dataset.done = '1'; }};
  x.send();
}}
</script></body></html>"""


@pytest.fixture
def collector(collector_keeping_texts: RunningCollector) -> RunningCollector:
    """What the tag captured, kept as captured: one browser session is one user, under k (conftest)."""
    return collector_keeping_texts


@pytest.fixture
async def shop(collector: RunningCollector) -> AsyncIterator[tuple[str, list[str]]]:
    traceparents: list[str] = []

    async def page(template: str) -> web.Response:
        text = template.format(collector=collector.url, key=KEY, email=EMAIL, note=SECRET_NOTE)
        return web.Response(text=text, content_type="text/html")

    async def index(_r: web.Request) -> web.Response:
        return await page(INDEX)

    async def checkout(_r: web.Request) -> web.Response:
        return await page(CHECKOUT)

    async def cart(request: web.Request) -> web.Response:
        traceparents.append(request.headers.get("traceparent", ""))
        # longer than the tag's 300 ms DOM quiet period: the snapshot must wait for the response
        await asyncio.sleep(0.6)
        return web.json_response({"cart_id": "c-1", "items": [{"sku": "SKU-1", "qty": 2}]}, status=201)

    async def summary(request: web.Request) -> web.Response:
        traceparents.append(request.headers.get("traceparent", ""))
        return web.json_response({"total": 42.5})

    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_get("/cart", index)
    app.router.add_get("/checkout", checkout)
    app.router.add_post("/api/cart", cart)
    app.router.add_get("/api/summary", summary)
    app.router.add_get("/api/more", summary)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}", traceparents
    await runner.cleanup()


async def _events(collector: RunningCollector) -> list[dict[str, Any]]:
    rows = await collector.store.pool.fetch(
        "SELECT session_id, seq, kind, url, trace_id, data FROM events ORDER BY seq"
    )
    return [
        {
            **dict(r["data"]),
            "session_id": r["session_id"],
            "seq": r["seq"],
            "kind": r["kind"],
            "url": r["url"],
            "trace_id_col": r["trace_id"],
        }
        for r in rows
    ]


async def test_a_journey_arrives_in_postgres(collector: RunningCollector, shop: tuple[str, list[str]]) -> None:
    base, traceparents = shop
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            page = await browser.new_page()
            await page.goto(base + "/")
            await page.wait_for_function("window.trodden && window.trodden.sessionId")
            session_id = await page.evaluate("window.trodden.sessionId")
            await page.fill("#email", EMAIL)
            await page.fill("#pw", PASSWORD)
            await page.fill("#note", SECRET_NOTE)
            await page.select_option("#size", "M")
            await page.press("#email", "Enter")
            await page.click("[data-testid=add-to-cart]")
            await page.wait_for_url("**/cart")
            await page.click("#promo")
            await page.evaluate("setTimeout(() => { throw new TypeError('boom at checkout') }, 0)")
            await page.evaluate("() => { Promise.reject(new Error('payment widget failed')); }")
            await page.mouse.wheel(0, 4000)  # an infinite list: the scroll loads more
            await page.wait_for_function("document.body.dataset.more === '1'")
            await page.click("#to-checkout")  # a full page load: the first page flushes on pagehide
            await page.wait_for_url("**/checkout")
            await page.wait_for_function("window.trodden && window.trodden.sessionId")
            assert await page.evaluate("window.trodden.sessionId") == session_id
            await page.click("#pay")
            await page.wait_for_function("document.body.dataset.done === '1'")
            await page.evaluate("window.trodden.flush()")

            async def arrived() -> bool:
                kinds = {e["kind"] for e in await _events(collector)}
                return {
                    "click",
                    "input",
                    "change",
                    "key",
                    "request",
                    "navigation",
                    "custom",
                    "scroll",
                } <= kinds and sum(1 for e in await _events(collector) if e["kind"] == "request") >= 3

            for _ in range(300):
                if await arrived():
                    break
                await asyncio.sleep(0.1)
        finally:
            await browser.close()

    events = await _events(collector)
    assert {e["session_id"] for e in events} == {session_id}
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(set(seqs))  # one sequence across both pages
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        by_kind.setdefault(e["kind"], []).append(e)

    assert [p["url"].rsplit("/", 1)[1] for p in by_kind["page_view"]] == ["", "checkout"]
    inputs = {e["target"].get("id"): e for e in by_kind["input"]}
    email = inputs["email"]
    assert email["target"]["test_id"] == "email-input" and email["target"]["name"] == "Email"
    assert email["target"]["role"] == "textbox" and email["target"]["css"] == "#email"
    assert email["target"]["xpath"] == '//*[@id="email"]'
    assert email["value"] != EMAIL and "@" in email["value"]  # pseudonymised, email-shaped
    assert inputs["pw"]["masked"] is True and inputs["pw"].get("value") is None
    assert inputs["note"]["masked"] is True and inputs["note"].get("value") is None
    [size] = by_kind["change"]
    assert size["target"]["id"] == "size" and size["value"] == "M" and size["target"]["role"] == "combobox"
    assert by_kind["key"][0]["key"] == "Enter"

    clicks = {c["target"].get("test_id") or c["target"].get("id"): c for c in by_kind["click"]}
    add = clicks["add-to-cart"]["target"]
    assert (add["role"], add["name"], add["text"], add["tag"]) == ("button", "Add to cart", "Add to cart", "button")
    assert add["css"] == "#main > div:nth-of-type(1) > button" and add["xpath"] == '//*[@id="main"]/div[1]/button'
    assert clicks["to-checkout"]["target"]["role"] == "link"

    requests = {r["request_url"].rsplit("/", 1)[1]: r for r in by_kind["request"]}
    cart = requests["cart"]
    assert (cart["method"], cart["status"], cart["initiator"]) == ("POST", 201, "fetch")
    assert cart["request_body"] == {"sku": "SKU-1", "qty": 2}
    assert cart["response_body"]["cart_id"] == "c-1"
    assert cart["response_headers"]["content-type"].startswith("application/json")
    # The traceparent the backend received carries the trace id the event recorded.
    assert f"00-{cart['trace_id']}-{cart['span_id']}-01" in traceparents
    assert cart["trace_id_col"] == cart["trace_id"]
    xhr = requests["summary"]
    assert xhr["initiator"] == "xhr" and xhr["response_body"] == {"total": 42.5}
    assert any(tp.split("-")[1] == xhr["trace_id"] for tp in traceparents)

    [scroll] = by_kind["scroll"]
    assert scroll["target"]["test_id"] == "feed-end"
    more = next(r for r in by_kind["request"] if r["request_url"].endswith("/api/more"))
    assert scroll["seq"] < more["seq"]

    [nav] = by_kind["navigation"]
    assert nav["trigger"] == "push" and nav["to_url"].endswith("/cart")
    errors = {e["error_type"]: e for e in by_kind["error"]}
    assert "boom at checkout" in errors["uncaught"]["message"] and errors["uncaught"]["stack"]
    assert errors["unhandled_rejection"]["message"] == "payment widget failed"
    # Web vitals of the first page, reported when it was hidden by the navigation.
    assert {"TTFB", "FCP"} <= {v["name"] for v in by_kind["vital"]}
    assert all(v["value"] >= 0 and v["rating"] in ("good", "needs-improvement", "poor") for v in by_kind["vital"])
    [promo] = by_kind["custom"]
    assert promo["name"] == "promo_clicked" and promo["properties"] == {"code": "SPRING", "pct": 10}

    # What became visible: the page as it loaded (chrome left out), the toast the click's request
    # led to (the tag waited for the response), masked content without its text, a heading.
    first_view = by_kind["page_view"][0]["visible"]
    assert first_view[0]["test_id"] == "page-title"  # headings before other elements
    assert first_view[0]["role"] == "heading" and first_view[0]["text"] == "Shop"
    shown_ids = {v.get("test_id") for v in first_view}
    assert {"add-to-cart", "email-input", "feed-end"} <= shown_ids
    assert not shown_ids & {"nav-home", "cart-toast", "promo-alert", "promo-box"}  # chrome, hidden
    assert all("css" not in v and "xpath" not in v for v in first_view)
    toast = next(v for v in nav["visible"] if v.get("test_id") == "cart-toast")
    assert toast["role"] == "status" and toast["text"] == "Added to cart"
    promo_click = next(c for c in by_kind["click"] if c["target"].get("id") == "promo")
    promo = {v.get("test_id"): v for v in promo_click["visible"]}
    assert list(promo) == ["promo-alert", "promo-box"]  # alerts first
    assert promo["promo-alert"]["role"] == "alert" and promo["promo-alert"]["text"].startswith("Code sent to ")
    assert "text" not in promo["promo-box"] and "name" not in promo["promo-box"]  # masked: no text
    pay = next(c for c in by_kind["click"] if c["target"].get("id") == "pay")
    assert {"role": "heading", "name": "Paid, thank you", "text": "Paid, thank you", "tag": "h2", "id": "paid"} in pay[
        "visible"
    ]
    assert all(v["target"].get("id") != "email" or "visible" not in v for v in by_kind["input"])

    everything = str(await collector.store.pool.fetch("SELECT t::text FROM events t"))
    assert PASSWORD not in everything and SECRET_NOTE not in everything and EMAIL not in everything
    # the user id is stored as its pseudonym (the collector's key in these tests: PSEUDONYM_KEY)
    assert await collector.store.pool.fetchval("SELECT user_id FROM sessions") == Sanitizer(PSEUDONYM_KEY).user_id(
        "u-1"
    )


def test_rum_js_is_small() -> None:
    """Minified with terser (npm, the figure the README states) and gzipped, it stays under 7.5 KB.
    Where npm cannot be reached the unminified source is measured, against a looser bound."""
    source = rum_js()
    minified, bound = source, 10 * 1024
    npx = shutil.which("npx")
    if npx:
        result = subprocess.run(
            [npx, "--yes", "terser", "--compress", "--mangle"],
            input=source,
            capture_output=True,
            timeout=180,
            check=False,
        )
        if result.returncode == 0 and result.stdout:
            minified, bound = result.stdout, 7.5 * 1024
    size = len(gzip.compress(minified, 9))
    print(f"rum.js: {len(source)} bytes source, {len(minified)} minified, {size} minified+gzipped")
    assert size < bound


async def test_the_tag_obeys_the_sampling_rate(start_collector: StartCollector, tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text('{"sampling": {"rate": 0.0}, "generation": 9}')
    collector = await start_collector(instrumentation_file=config)

    async def index(_r: web.Request) -> web.Response:
        page = INDEX.format(collector=collector.url, key=KEY, email=EMAIL, note=SECRET_NOTE).replace(
            "async></script>", "></script>", 1
        )
        return web.Response(text=page, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", index)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        async with async_playwright() as pw:
            browser = await launch_chromium(pw)
            try:
                page = await browser.new_page()
                await page.goto(f"http://127.0.0.1:{runner.addresses[0][1]}/")
                await page.wait_for_function("sessionStorage.getItem('trodden.sampled') === '0'")
                await page.click("#promo")
                await page.evaluate("window.trodden.flush()")
                cached = await page.evaluate("JSON.parse(sessionStorage.getItem('trodden.cfg')).generation")
                assert cached == 9
            finally:
                await browser.close()
    finally:
        await runner.cleanup()
    assert await collector.store.pool.fetchval("SELECT count(*) FROM events") == 0


async def test_capture_detail_widens_capture_for_its_routes(start_collector: StartCollector, tmp_path: Path) -> None:
    """The operator's feedback: bodies off in general, on for one flaky route, plus a header and
    the storage keys of the landing page."""
    config = tmp_path / "config.json"
    config.write_text(
        orjson.dumps(
            {
                "capture": {
                    "bodies": "none",
                    "detail": [
                        {"route": "POST /api/cart", "headers": ["X-Cart-Version"], "reason": "flaky"},
                        {"route": "PAGE /", "storage": True, "request_bodies": False, "response_bodies": False},
                    ],
                }
            }
        ).decode()
    )
    collector = await start_collector(instrumentation_file=config)

    async def index(_r: web.Request) -> web.Response:
        text = INDEX.format(collector=collector.url, key=KEY, email=EMAIL, note=SECRET_NOTE)
        return web.Response(text=text, content_type="text/html")

    async def cart(_r: web.Request) -> web.Response:
        return web.json_response({"cart_id": "c-9"}, status=201, headers={"X-Cart-Version": "7"})

    async def summary(_r: web.Request) -> web.Response:
        return web.json_response({"total": 1})

    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_get("/cart", index)
    app.router.add_post("/api/cart", cart)
    app.router.add_get("/api/summary", summary)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        async with async_playwright() as pw:
            browser = await launch_chromium(pw)
            try:
                page = await browser.new_page()
                await page.add_init_script(
                    "localStorage.setItem('cart_token', 'x'); localStorage.setItem('theme', 'd')"
                )
                await page.goto(f"http://127.0.0.1:{runner.addresses[0][1]}/")
                await page.wait_for_function("sessionStorage.getItem('trodden.sampled') === '1'")
                await page.click("[data-testid=add-to-cart]")
                await page.wait_for_url("**/cart")
                await page.evaluate("fetch('/api/summary').then(r => r.json())")
                await page.wait_for_timeout(200)
                await page.evaluate("window.trodden.flush()")
                for _ in range(200):
                    kinds = await collector.store.pool.fetch("SELECT data FROM events WHERE kind = 'request'")
                    if len(kinds) >= 2:
                        break
                    await asyncio.sleep(0.1)
            finally:
                await browser.close()
    finally:
        await runner.cleanup()
    rows = await collector.store.pool.fetch("SELECT kind, data FROM events ORDER BY seq")
    requests = {r["data"]["request_url"].rsplit("/", 1)[1]: r["data"] for r in rows if r["kind"] == "request"}
    assert requests["cart"]["request_body"] == {"sku": "SKU-1", "qty": 2}
    assert requests["cart"]["response_body"] == {"cart_id": "c-9"}
    assert requests["cart"]["response_headers"]["x-cart-version"] == "7"
    assert requests["summary"].get("response_body") is None  # bodies stay off elsewhere
    [storage] = [r["data"] for r in rows if r["kind"] == "custom" and r["data"]["name"] == "$storage"]
    assert sorted(storage["properties"]["local"]) == ["cart_token", "theme"]


SAME_ORIGIN = """<!doctype html><html><head><title>Items</title>
<script src="/rum.js" data-key="{key}"></script></head>
<body><button id="load" onclick="load()">Load</button>
<script>
async function load() {{
  for (const path of ['/v1/items', '/v1/configuration', '/api/v2/items', '/rest/items', '/items']) {{
    await (await fetch(path)).json();
  }}
  await fetch('/v1/config?key={key}');  // the app asking for the tag's config itself: still the collector's
  document.body.dataset.done = '1';
}}
</script></body></html>"""


async def test_the_tag_records_an_api_under_v1_on_its_own_origin(collector: RunningCollector) -> None:
    """The collector served behind the application's own origin (one ingress): the tag skips only its
    exact endpoints, so the application's `/v1/items` is recorded, its beacons and config fetch never."""
    import aiohttp

    async def proxy(request: web.Request) -> web.Response:
        async with (
            aiohttp.ClientSession() as http,
            http.request(
                request.method,
                collector.url + request.path_qs,
                data=await request.read(),
                headers={k: v for k, v in request.headers.items() if k.lower() in ("content-type", "origin")},
            ) as resp,
        ):
            return web.Response(
                body=await resp.read(), status=resp.status, content_type=resp.content_type or "application/octet-stream"
            )

    async def page(_r: web.Request) -> web.Response:
        return web.Response(text=SAME_ORIGIN.format(key=KEY), content_type="text/html")

    async def items(request: web.Request) -> web.Response:
        return web.json_response({"items": [{"id": 1}], "path": request.path})

    app = web.Application()
    app.router.add_get("/", page)
    for path in ("/rum.js", "/v1/config"):
        app.router.add_get(path, proxy)
    app.router.add_post("/v1/rum", proxy)
    for path in ("/v1/items", "/v1/configuration", "/api/v2/items", "/rest/items", "/items"):
        app.router.add_get(path, items)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        async with async_playwright() as pw:
            browser = await launch_chromium(pw)
            try:
                page_ = await browser.new_page()
                await page_.goto(f"http://127.0.0.1:{runner.addresses[0][1]}/")
                await page_.wait_for_function("window.trodden && window.trodden.sessionId")
                await page_.click("#load")
                await page_.wait_for_function("document.body.dataset.done === '1'")
                await page_.evaluate("window.trodden.flush()")
                for _ in range(100):
                    paths = [
                        e["request_url"].split("/", 3)[3] for e in await _events(collector) if e["kind"] == "request"
                    ]
                    if len(paths) >= 5:
                        break
                    await asyncio.sleep(0.1)
            finally:
                await browser.close()
    finally:
        await runner.cleanup()
    assert sorted(paths) == sorted(["v1/items", "v1/configuration", "api/v2/items", "rest/items", "items"])
