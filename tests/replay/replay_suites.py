"""Suites in the IR, built by hand for the replay shop (the replay engine's input is the IR)."""

from __future__ import annotations

from typing import Any

from trodden.assertions import make_assertion
from trodden.models.suite import (
    Assertion,
    AuthProfile,
    BrowserExpectation,
    BrowserStep,
    Expectation,
    Extraction,
    HttpRequest,
    HttpStep,
    Locator,
    Suite,
    TestCase,
    ValueFrom,
)

RECORDED_ORIGIN = "https://shop.example.com"


def get(step_id: str, endpoint: str, url: str, **expect: Any) -> HttpStep:
    return HttpStep(
        id=step_id, endpoint=endpoint, request=HttpRequest(method="GET", url=url), expect=Expectation(**expect)
    )


def post(
    step_id: str, endpoint: str, url: str, body: Any, extract: list[Extraction] | None = None, **expect: Any
) -> HttpStep:
    return HttpStep(
        id=step_id,
        endpoint=endpoint,
        unsafe=True,
        request=HttpRequest(
            method="POST",
            url=url,
            body=body,
            body_kind="json",
            headers={"Content-Type": "application/json", "Cookie": "stale=1"},
        ),
        extract=extract or [],
        expect=Expectation(**expect),
    )


def http_test(test_id: str, steps: list[HttpStep], **kw: Any) -> TestCase:
    return TestCase(
        id=test_id,
        name=test_id.removeprefix("t-").replace("-", " "),
        type="http",
        session_id=f"s-{test_id}",
        steps=list(steps),
        **kw,
    )


def a(aid: str, kind: str, endpoint: str, **kw: Any) -> Assertion:
    return make_assertion(
        {
            "id": aid,
            "kind": kind,
            "endpoint": endpoint,
            "support": kw.pop("support", 40),
            "confidence": kw.pop("confidence", 1.0),
            **kw,
        }
    )


ADD_TO_CART = [
    Locator(strategy="test_id", value="add-to-cart"),
    Locator(strategy="role", value="button", name="Add to cart"),
    Locator(strategy="text", value="Add to cart"),
]


def shop_suite(origin: str | None = RECORDED_ORIGIN, *, browser: bool = True, expectations: bool = True) -> Suite:
    """Every planted regression of replay_shop has an assertion here that must catch it;
    `expectations=False` leaves only statuses recorded (the baseline tests use it)."""

    def ex(**kw: Any) -> dict[str, Any]:
        return kw if expectations else {k: v for k, v in kw.items() if k == "status"}

    o = "{{origin}}"
    tests = [
        http_test(
            "t-categories",
            [get("s1", "GET /api/categories", f"{o}/api/categories", **ex(status=200, shape={"/0/id": "integer"}))],
        ),
        http_test(
            "t-product",
            [
                get(
                    "s1",
                    "GET /api/products/{id}",
                    f"{origin or RECORDED_ORIGIN}/api/products/1",
                    **ex(
                        status=200,
                        shape={"/price": "number", "/name": "string"},
                        values={"/name": "Book"},
                        formats={"/updated_at": "datetime", "/request_id": "uuid"},
                        headers={"Content-Type": "application/json; charset=utf-8"},
                    ),
                )
            ],
        ),
        http_test("t-me", [get("s1", "GET /api/me", "/api/me", **ex(status=200))], auth_profile="alice"),
        http_test(
            "t-order-invalid",
            [post("s1", "POST /api/orders", f"{o}/api/orders", {"product_id": 1, "qty": 0}, status=400)],
        ),
        http_test(
            "t-order-flow",
            [
                post(
                    "s1",
                    "POST /api/orders",
                    f"{o}/api/orders",
                    {"product_id": "{{product}}", "qty": 2},
                    extract=[Extraction(var="order_id", source="json", path="/order_id", recorded="3f1c…")],
                    **ex(status=201, formats={"/order_id": "uuid"}),
                ),
                get(
                    "s2",
                    "GET /api/orders/{order_id}",
                    f"{o}/api/orders/{{{{order_id}}}}",
                    **ex(status=200, values={"/status": "pending", "/qty": 2}),
                ),
            ],
            variables={"product": 1},
        ),
        http_test("t-search", [get("s1", "GET /api/search", f"{o}/api/search?q=book", **ex(status=200))]),
    ]
    if browser:
        tests += [
            TestCase(
                id="b-home",
                name="home page",
                type="browser",
                session_id="s-b-home",
                steps=[
                    BrowserStep(
                        id="b1",
                        action="goto",
                        url=f"{o}/",
                        network=["GET /api/session", "GET /api/cart"],
                        expect=BrowserExpectation(url="/", visible_text=["Welcome to the shop"]),
                    ),
                ],
            ),
            TestCase(
                id="b-add-to-cart",
                name="add to cart",
                type="browser",
                session_id="s-b-add",
                steps=[
                    BrowserStep(id="b1", action="goto", url=f"{o}/", network=["GET /api/session", "GET /api/cart"]),
                    BrowserStep(
                        id="b2",
                        action="click",
                        locators=ADD_TO_CART,
                        network=["POST /api/cart/items"],
                        expect=BrowserExpectation(visible_text=["Added 1 item"]),
                        timeout_s=3.0,
                    ),
                ],
            ),
        ]
    assertions = [
        a(
            "a-status-categories",
            "status",
            "GET /api/categories",
            params={"class": "2xx"},
            description="GET /api/categories always answers 2xx",
        ),
        a(
            "a-type-price",
            "type",
            "GET /api/products/{id}",
            field="/price",
            params={"type": "number"},
            condition={"status": 200},
            description="price is a number",
        ),
        a("a-format-request-id", "format", "GET /api/products/{id}", field="/request_id", params={"format": "uuid"}),
        a(
            "a-present-email",
            "present",
            "GET /api/me",
            field="/user/email",
            condition={"status": 200},
            description="the signed-in user's email is present",
        ),
        a("a-not-null-user", "not_null", "GET /api/me", field="/user/id", condition={"status": 200}),
        a(
            "a-error-shape-orders",
            "error_shape",
            "POST /api/orders",
            condition={"status": 400},
            params={"keys": ["/error/code", "/error/message"], "shape": {"/error/code": "string"}},
            description="a 400 from POST /api/orders has error.code and error.message",
        ),
        a(
            "a-value-set-status",
            "value_set",
            "GET /api/orders/{order_id}",
            field="/status",
            params={"values": ["pending", "paid"]},
        ),
        a("a-range-qty", "range", "GET /api/orders/{order_id}", field="/qty", params={"min": 1, "max": 10}),
        a(
            "a-latency-search",
            "latency",
            "GET /api/search",
            params={"max_ms": 600},
            description="GET /api/search answers within 600 ms",
        ),
        a(
            "a-cart-after-session",
            "preceded_by",
            "GET /api/cart",
            other="GET /api/session",
            description="GET /api/cart is always preceded by GET /api/session",
        ),
        a("a-type-results", "type", "GET /api/search", field="/results/*/id", params={"type": "integer"}),
    ]
    profiles = [
        AuthProfile(
            name="alice",
            kind="login",
            headers={"Authorization": ValueFrom(value="Bearer {{token}}")},
            login=[
                post(
                    "login",
                    "POST /api/login",
                    f"{o}/api/login",
                    {"user": "alice", "password": "{{password}}"},
                    extract=[Extraction(var="token", source="json", path="/token")],
                    status=200,
                )
            ],
        )
    ]
    for t in tests:
        if t.auth_profile:
            t.variables["password"] = "s3cret"
    return Suite(
        name="shop",
        revision=1,
        source="shop",
        origin=origin,
        created_at="2026-01-01T00:00:00Z",
        tests=tests,
        assertions=assertions,
        auth_profiles=profiles,
    )


def flaky_suite(run: str) -> Suite:
    """Tests whose first attempt fails for a known reason and whose retry passes; `run` makes
    the server's per-key state fresh."""
    url = "{{origin}}/api/flaky/%s?key={{key}}"
    tests = [
        http_test(
            f"t-flaky-{kind}",
            [get("s1", f"GET /api/flaky/{kind}", url % kind, status=200)],
            variables={"key": f"{run}-{kind}"},
        )
        for kind in ("status", "state", "slow")
    ]
    assertions = [a("a-latency-slow", "latency", "GET /api/flaky/slow", params={"max_ms": 600})]
    return Suite(
        name="flaky",
        revision=1,
        source="shop",
        origin=RECORDED_ORIGIN,
        created_at="2026-01-01T00:00:00Z",
        tests=tests,
        assertions=assertions,
    )


def checkout_suite(note: str) -> Suite:
    """A browser checkout whose recording holds both the click on "Place order" and the form's
    submit event (one user action), and whose page navigates away as soon as the order is created."""
    steps = [
        BrowserStep(id="b1", action="goto", url="{{origin}}/checkout"),
        BrowserStep(id="b2", action="fill", value="{{note}}", locators=[Locator(strategy="test_id", value="note")]),
        BrowserStep(id="b3", action="click", locators=[Locator(strategy="test_id", value="place-order")]),
        BrowserStep(
            id="b4",
            action="submit",
            locators=[Locator(strategy="test_id", value="checkout-form")],
            network=["POST /api/orders"],
            expect=BrowserExpectation(url="/thanks"),
        ),
    ]
    test = TestCase(
        id="b-checkout",
        name="checkout",
        type="browser",
        session_id="s-b-checkout",
        steps=list(steps),
        variables={"note": note},
    )
    assertions = [
        a(
            "a-order-created-status",
            "value_set",
            "POST /api/orders",
            field="/status",
            params={"values": ["pending"]},
            condition={"status": 201},
        )
    ]
    return Suite(
        name="checkout",
        revision=1,
        source="shop",
        origin=RECORDED_ORIGIN,
        created_at="2026-01-01T00:00:00Z",
        tests=[test],
        assertions=assertions,
    )
