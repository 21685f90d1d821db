"""A page is outlined once it has rendered what its own requests return.

The demo shop's catalogue (and any page that fills a list from a fetch after its load) is quiet
between its load and the response: no DOM change, document complete. On a busy machine that gap
outlasted the DOM-quiet period, so an unchanged v1 was outlined with an empty results list and
"pages of /products show a non-empty list" failed (a false alarm in a v1 replay of
`bench/detection.py`). A fetch or XHR in flight now means the page is not rendered yet.
"""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from playwright.async_api import async_playwright
from replay_shop import serve

from trodden.browser import launch_chromium
from trodden.replay.pages import MAX_WAIT_MS, MUTATIONS_INIT, QUIET_MS, PageReader

pytestmark = pytest.mark.browser

# Longer than QUIET_MS (the DOM is still meanwhile), well inside MAX_WAIT_MS.
SLOW_API_S = 4 * QUIET_MS / 1000
assert SLOW_API_S * 1000 < MAX_WAIT_MS / 2

PAGE = """<!doctype html><html><head><title>Catalogue</title></head><body><main><h1>Catalogue</h1>
<ul data-testid="results"></ul></main><script>
document.addEventListener("DOMContentLoaded", function () {
  var list = document.querySelector("ul");
  var via = new URLSearchParams(location.search).get("via");
  function fill(items) {
    items.forEach(function (name) {
      var li = document.createElement("li"); li.textContent = name; list.appendChild(li);
    });
  }
  if (via === "xhr") {
    var x = new XMLHttpRequest();
    x.open("GET", "/api/items");
    x.onload = function () { fill(JSON.parse(x.responseText)); };
    x.send();
  } else {
    fetch("/api/items").then(function (r) { return r.json(); }).then(fill);
  }
});
</script></body></html>"""


def make_app() -> web.Application:
    async def page(_r: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    async def items(_r: web.Request) -> web.Response:
        await asyncio.sleep(SLOW_API_S)
        return web.json_response(["Socks", "Shoes", "Scarf"])

    app = web.Application()
    app.router.add_get("/products", page)
    app.router.add_get("/api/items", items)
    return app


async def _outline(url: str) -> dict[str, object]:
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            context = await browser.new_context()
            await context.add_init_script(MUTATIONS_INIT)
            page = await context.new_page()
            await page.goto(url, wait_until="load")
            shown = await PageReader().capture(page, None)
            assert shown is not None
            return shown.outline
        finally:
            await browser.close()


@pytest.mark.parametrize("via", ["fetch", "xhr"])
def test_a_list_filled_by_a_slow_request_is_outlined_filled(via: str) -> None:
    with serve(make_app()) as base:
        outline = asyncio.run(_outline(f"{base}/products?via={via}"))
        lists = outline.get("lists")
        assert lists, outline
        assert any(item.get("items") == 3 for item in lists if isinstance(item, dict)), outline
