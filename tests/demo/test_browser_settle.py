"""A browser test is judged only once the page has made the requests its recording made.

The v1 false alarm this guards against: a checkout test, replayed on the unchanged shop, failed
"POST /api/checkout is always followed by GET /api/orders/{uuid}" because the replay took a quiet
network for a settled page. Between the order's response and the order page's own request the
shop's code works (parses, tracks, navigates by script); on a busy machine that is longer than
the quiet period, and the test ended before the order page asked for the order.

Here the page's code is made slow on purpose, so the gap is there on every run rather than on a
busy one: the real shop v1 is served with a script that hands each fetch response to the page's
code only after a while (as a slow device or a loaded CI machine does). Nothing is timed in the
assertions: the replay must see the order page's request and raise nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from demo_helpers import serve

from trodden.assertions import make_assertion
from trodden.models.suite import Assertion, BrowserExpectation, BrowserStep, Locator, Suite, TestCase
from trodden.replay.options import ReplayOptions
from trodden.replay.runner import replay_suite
from trodden.shop import create_app
from trodden.shop.regressions import ShopVersion

pytestmark = pytest.mark.browser

# Each response reaches the page's code this long after it arrived: network quiet, page busy.
# Well over the replay's quiet period, well under a step's settle budget.
SLOW_PAGE = """<script>
(function () {
  var fetch0 = window.fetch;
  window.fetch = function () {
    return fetch0.apply(this, arguments).then(function (r) {
      return new Promise(function (done) { setTimeout(function () { done(r); }, 600); });
    });
  };
})();
</script>"""


@web.middleware
async def slow_page_code(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    response = await handler(request)
    if isinstance(response, web.Response) and response.content_type == "text/html" and response.text:
        response.text = response.text.replace("<head>", "<head>" + SLOW_PAGE, 1)
    return response


@pytest.fixture
async def slow_shop_v1() -> AsyncIterator[str]:
    app = create_app(ShopVersion.of(1))
    app.middlewares.append(slow_page_code)
    runner, url = await serve(app)
    yield url
    await runner.cleanup()


def _tid(value: str) -> list[Locator]:
    return [Locator(strategy="test_id", value=value)]


def _checkout_suite() -> Suite:
    """A guest checkout as the generator writes it from a rum.js recording: the click on "Place
    order" and the form's submit event are two steps, the submit holding what the page requested
    (quote, order, then the order page's own request); temporal rules as mined from the demo."""
    fill = [
        ("checkout-email", "ada@example.com"),
        ("address-name", "Ada Lovelace"),
        ("address-line1", "1 Analytical Row"),
        ("address-city", "London"),
        ("address-postcode", "N1 9GU"),
    ]
    steps = [
        BrowserStep(id="b1", action="goto", url="{{origin}}/products/SOCK-001", network=["GET /api/products/{slug}"]),
        BrowserStep(id="b2", action="click", locators=_tid("add-to-cart"), network=["POST /api/cart/items"]),
        BrowserStep(id="b3", action="goto", url="{{origin}}/checkout", network=["GET /api/cart"]),
        *(
            BrowserStep(id=f"b{4 + i}", action="fill", locators=_tid(test_id), value=value)
            for i, (test_id, value) in enumerate(fill)
        ),
        BrowserStep(id="b9", action="click", locators=_tid("place-order")),
        BrowserStep(
            id="b10",
            action="submit",
            locators=_tid("checkout-form"),
            network=["POST /api/checkout/quote", "POST /api/checkout", "GET /api/orders/{uuid}"],
            expect=BrowserExpectation(url="/orders/{uuid}"),
        ),
    ]
    test = TestCase(id="b-guest-checkout", name="guest checkout", type="browser", session_id="s-checkout", steps=steps)

    def rule(kind: str, endpoint: str, other: str) -> Assertion:
        return make_assertion(
            {
                "id": f"a-{kind}-{endpoint}-{other}",
                "kind": kind,
                "endpoint": endpoint,
                "other": other,
                "support": 28,
                "confidence": 1.0,
            }
        )

    assertions = [
        rule("followed_by", "POST /api/checkout", "GET /api/orders/{uuid}"),
        rule("followed_by", "POST /api/checkout/quote", "GET /api/orders/{uuid}"),
        rule("preceded_by", "GET /api/orders/{uuid}", "POST /api/checkout"),
    ]
    return Suite(
        name=f"settle-{uuid.uuid4().hex[:8]}",
        revision=1,
        source="shop",
        origin="https://shop.example",
        created_at="2026-01-01T00:00:00Z",
        tests=[test],
        assertions=assertions,
    )


async def test_a_checkout_is_judged_after_the_order_page_asked_for_the_order(slow_shop_v1: str) -> None:
    report = await replay_suite(None, _checkout_suite(), slow_shop_v1, ReplayOptions(retries=0))
    result = report.results[0]
    assert [(f.assertion_id, f.actual) for f in result.failures] == []
    assert result.outcome == "passed"
    seen = result.endpoints
    assert "GET /api/orders/{uuid}" in seen
    assert seen.index("GET /api/orders/{uuid}") > seen.index("POST /api/checkout")
