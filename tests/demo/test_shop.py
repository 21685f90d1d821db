"""The shop's v1 features, over real HTTP."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp
from demo_helpers import ShopClient

Make = Callable[..., Awaitable[ShopClient]]
ADDRESS = {"name": "Ada Lovelace", "line1": "1 Analytical Way", "city": "Berlin", "postcode": "10115", "country": "DE"}


async def place(c: ShopClient, **extra: object) -> tuple[int, dict]:  # type: ignore[type-arg]
    status, q = await c.call("POST", "/api/checkout/quote", {})
    assert status == 200, q
    body = {
        "quote_id": q["quote"]["id"],
        "address": ADDRESS,
        "email": "ada@example.com",
        "payments": [{"method": "card", "token": "tok_visa"}],
        **extra,
    }
    return await c.call("POST", "/api/checkout", body)


async def test_catalogue_search_and_filters(client: Make) -> None:
    c = await client()
    status, body = await c.call("GET", "/api/products?q=sock")
    assert status == 200 and body["total"] == 3 and {p["category"] for p in body["items"]} == {"socks"}
    _, body = await c.call("GET", "/api/products?category=shoes&max_price=70&sort=price_asc")
    assert [p["sku"] for p in body["items"]] == ["SHOE-004", "SHOE-002"]
    status, body = await c.call("GET", "/api/products?category=spaceships")
    assert status == 400 and body["error"]["code"] == "invalid_category"
    status, body = await c.call("GET", "/api/products/NOPE")
    assert status == 404 and body["error"]["code"] == "not_found"


async def test_pages_render_with_test_ids(http: aiohttp.ClientSession, shop_urls: dict[str, str]) -> None:
    for path, test_id in (
        ("/", "featured"),
        ("/products/SHOE-001", "add-to-cart"),
        ("/cart", "apply-code"),
        ("/checkout", "place-order"),
        ("/account", "login-submit"),
    ):
        async with http.get(shop_urls["v1"] + path) as r:
            assert r.status == 200
            assert f'data-testid="{test_id}"' in await r.text()
    async with http.get(shop_urls["v1"] + "/products/SHOE-001") as r:
        html = await r.text()
    assert 'data-testid="add-to-wishlist"' in html and "rum.js" not in html  # no collector configured


async def test_cart_lines_and_out_of_stock(client: Make) -> None:
    c = await client()
    status, body = await c.call("POST", "/api/cart/items", {"sku": "SOCK-001", "quantity": 2})
    assert status == 201 and body["cart"]["units"] == 2 and body["cart"]["subtotal"] == 30.0
    status, body = await c.call("PATCH", "/api/cart/items/SOCK-001", {"quantity": 3})
    assert status == 200 and body["cart"]["units"] == 3
    status, body = await c.call("POST", "/api/cart/items", {"sku": "SHOE-004"})
    assert status == 409 and body == {
        "error": {"code": "out_of_stock", "message": "Summer Sandal is out of stock", "sku": "SHOE-004"}
    }
    assert (await c.call("POST", "/api/cart/items", {"sku": "SOCK-001", "quantity": 0}))[0] == 422
    assert (await c.call("POST", "/api/cart/items", raw="{not json"))[0] == 400
    status, body = await c.call("DELETE", "/api/cart/items/SOCK-001")
    assert status == 200 and body["cart"]["items"] == []
    assert (await c.call("DELETE", "/api/cart/items/SOCK-001"))[0] == 404


async def test_discount_kinds_and_stacking(client: Make) -> None:
    c = await client(region="US")
    await c.call("POST", "/api/cart/items", {"sku": "SOCK-001", "quantity": 2})
    await c.call("POST", "/api/cart/items", {"sku": "SOCK-002", "quantity": 1})  # 15+15+12 = 42
    status, body = await c.call("POST", "/api/cart/codes", {"code": "socks"})
    assert status == 200 and body["cart"]["discount"] == 12.0 and body["applied"]["kind"] == "buy_x_get_y"
    status, body = await c.call("POST", "/api/cart/codes", {"code": "SPRING"})
    assert status == 409 and body["error"]["code"] == "not_stackable"
    status, body = await c.call("POST", "/api/cart/codes", {"code": "FREESHIP"})
    assert status == 200 and body["cart"]["shipping"] == 0 and body["cart"]["total"] == 30.0
    status, body = await c.call("POST", "/api/cart/codes", {"code": "WINTER"})
    assert status == 422 and body["error"]["code"] == "code_expired"
    assert (await c.call("POST", "/api/cart/codes", {"code": "NOPE"}))[0] == 404
    status, body = await c.call("DELETE", "/api/cart/codes/SOCKS")
    assert status == 200 and body["cart"]["discount"] == 0
    status, body = await c.call("POST", "/api/cart/codes", {"code": "TENOFF"})  # needs 50.00
    assert status == 422 and body["error"]["code"] == "minimum_not_met"
    status, body = await c.call("POST", "/api/cart/codes", {"code": "SPRING"})
    assert status == 200 and body["cart"]["discount"] == 6.3


async def test_eu_bulk_percent_works_in_v1(client: Make) -> None:
    c = await client(region="EU")
    await c.call("POST", "/api/cart/items", {"sku": "SOCK-003", "quantity": 3})
    status, body = await c.call("POST", "/api/cart/codes", {"code": "SPRING"})
    assert status == 200 and body["cart"]["discount"] == 9.9 and body["cart"]["currency"] == "EUR"


async def test_guest_checkout_quote_and_order(client: Make) -> None:
    c = await client()
    await c.call("POST", "/api/cart/items", {"sku": "SHIRT-002", "quantity": 1})
    status, body = await c.call(
        "POST",
        "/api/checkout",
        {"address": ADDRESS, "email": "a@example.com", "payments": [{"method": "card", "token": "tok_visa"}]},
    )
    assert status == 409 and body["error"]["code"] == "quote_required"
    status, body = await place(c)
    assert status == 201, body
    order = body["order"]
    assert order["status"] == "confirmed" and order["guest"] and order["total"] == 53.9
    assert order["estimated_delivery"] and order["payments"] == [
        {"method": "card", "amount": 53.9, "status": "captured"}
    ]
    status, body = await c.call("GET", f"/api/orders/{order['id']}")
    assert status == 200 and body["order"]["id"] == order["id"]
    other = await client()
    assert (await other.call("GET", f"/api/orders/{order['id']}"))[0] == 404  # not theirs
    assert (await c.call("GET", "/api/cart"))[1]["cart"]["items"] == []


async def test_declined_then_retry(client: Make) -> None:
    c = await client()
    await c.call("POST", "/api/cart/items", {"sku": "BAG-002", "quantity": 1})
    status, body = await place(c, payments=[{"method": "card", "token": "tok_declined"}])
    assert status == 402 and body["error"]["decline_code"] == "card_declined"
    status, body = await place(c)
    assert status == 201


async def test_gift_card_partial_and_split_payment(client: Make) -> None:
    c = await client()
    status, body = await c.call("GET", "/api/giftcards/GC-0001")
    assert status == 200 and body["gift_card"]["balance"] == 50.0
    await c.call("POST", "/api/cart/items", {"sku": "HAT-001", "quantity": 1})  # 24 + 4.90 shipping
    status, body = await place(c, payments=[{"method": "gift_card", "code": "GC-0001"}])
    assert status == 201 and body["order"]["payments"][0]["remaining_balance"] == 21.1
    await c.call("POST", "/api/cart/items", {"sku": "SHOE-002", "quantity": 1})  # 69 + 4.90
    status, body = await place(c, payments=[{"method": "gift_card", "code": "GC-0001"}])
    assert status == 422 and body["error"]["code"] == "payment_incomplete"
    status, body = await place(
        c, payments=[{"method": "gift_card", "code": "GC-0001"}, {"method": "card", "token": "tok_visa"}]
    )
    assert status == 201
    assert [(p["method"], p["amount"]) for p in body["order"]["payments"]] == [("gift_card", 21.1), ("card", 52.8)]
    assert (await c.call("GET", "/api/giftcards/GC-0001"))[1]["gift_card"]["usable"] is False


async def test_accounts_order_history_and_fraud_review(client: Make) -> None:
    c = await client()
    creds = {"email": "grace@example.com", "password": "correct horse"}
    status, body = await c.call("POST", "/api/auth/register", {**creds, "name": "Grace", "region": "UK"})
    assert status == 201 and body["user"]["region"] == "UK"
    assert (await c.call("POST", "/api/auth/register", {**creds, "name": "G", "region": "UK"}))[0] == 409
    assert (await c.call("POST", "/api/auth/logout"))[0] == 204
    assert (await c.call("GET", "/api/orders"))[0] == 401
    status, body = await c.call("POST", "/api/auth/login", {**creds, "password": "wrong horse"})
    assert status == 401 and body["error"]["code"] == "invalid_credentials"
    assert (await c.call("POST", "/api/auth/login", creds))[0] == 200
    await c.call("POST", "/api/cart/items", {"sku": "JACK-002", "quantity": 1})
    status, body = await place(c, address={**ADDRESS, "country": "GB"}, billing_country="US")
    assert status == 201 and body["order"]["fraud_review"] is True and body["order"]["status"] == "review"
    assert body["order"]["guest"] is False and body["order"]["email"] == "grace@example.com"
    status, body = await c.call("GET", "/api/orders")
    assert status == 200 and body["count"] == 1


async def test_sessions_and_reset(client: Make, http: aiohttp.ClientSession, shop_urls: dict[str, str]) -> None:
    c = await client()
    c.token = "not-a-session"
    status, body = await c.call("GET", "/api/cart")
    assert status == 401 and body["error"]["code"] == "invalid_session"
    async with http.get(shop_urls["v1"] + "/cart") as r:  # a browser gets a cookie session
        assert "sid" in r.cookies
    # reset on a throwaway shop so other tests' sessions survive
    from demo_helpers import serve

    from trodden.shop import create_app

    runner, url = await serve(create_app())
    try:
        throwaway = await ShopClient(http, url).start()
        async with http.post(url + "/__reset") as r:
            assert r.status == 204
        assert (await throwaway.call("GET", "/api/cart"))[0] == 401
    finally:
        await runner.cleanup()
