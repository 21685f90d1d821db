"""A small real shop API (aiohttp) for the synthesis tests: ids are fresh per server, so a test
that replays recorded ids verbatim fails against a second instance and a correlated one passes.
`broken` plants regressions: "null_price" (product prices became null), "coupon_error" (the
coupon error changed its structure), "renamed_button" (the add-to-cart button lost its test id
and its name: locator fallbacks still find it) and "no_button" (it is gone)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web


def make_app(broken: frozenset[str] = frozenset()) -> web.Application:
    carts: dict[str, list[int]] = {}
    orders: dict[str, dict[str, Any]] = {}
    tokens: set[str] = set()

    def price(pid: int) -> float:
        return round(5 + (pid % 97) * 1.5, 2)

    async def product(request: web.Request) -> web.Response:
        pid = int(request.match_info["pid"])
        return web.json_response(
            {
                "id": pid,
                "name": f"Product {pid}",
                "currency": "EUR",
                "price": None if "null_price" in broken else price(pid),
                "updated_at": datetime.now(UTC).isoformat(),
            }
        )

    async def login(request: web.Request) -> web.Response:
        body = await request.json()
        token = uuid.uuid4().hex + uuid.uuid4().hex
        tokens.add(token)
        return web.json_response({"token": token, "email": body.get("email")})

    async def create_cart(request: web.Request) -> web.Response:
        cid = str(uuid.uuid4())
        carts[cid] = []
        return web.json_response({"cart_id": cid, "items": []}, status=201, headers={"Location": f"/api/cart/{cid}"})

    async def add_item(request: web.Request) -> web.Response:
        cid = request.match_info["cid"]
        if cid not in carts:
            return web.json_response({"error": {"code": "no_cart", "message": "unknown cart"}}, status=404)
        body = await request.json()
        carts[cid].append(int(body["product_id"]))
        return web.json_response({"cart_id": cid, "total": round(sum(price(p) for p in carts[cid]), 2)})

    async def coupon(request: web.Request) -> web.Response:
        cid = request.match_info["cid"]
        body = await request.json()
        if body.get("code") != "SAVE10":
            if "coupon_error" in broken:
                return web.json_response({"message": "expired"}, status=409)
            return web.json_response({"error": {"code": "coupon_expired", "message": "expired"}}, status=409)
        total = round(sum(price(p) for p in carts.get(cid, [])) * 0.9, 2)
        return web.json_response({"discount_pct": 10, "total": total})

    async def checkout(request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in tokens:
            return web.json_response({"error": {"code": "unauthorized", "message": "log in"}}, status=401)
        body = await request.json()
        cid = body["cart_id"]
        if cid not in carts:
            return web.json_response({"error": {"code": "no_cart", "message": "unknown cart"}}, status=404)
        oid = str(uuid.uuid4())
        orders[oid] = {"order_id": oid, "status": "paid", "total": round(sum(price(p) for p in carts[cid]), 2)}
        return web.json_response(orders[oid], status=201)

    async def order(request: web.Request) -> web.Response:
        oid = request.match_info["oid"]
        if oid not in orders:
            return web.json_response({"error": {"code": "not_found", "message": "no such order"}}, status=404)
        return web.json_response(orders[oid])

    # pages for the browser tests: a home page linking a product, whose button creates a cart
    async def home(request: web.Request) -> web.Response:
        return web.Response(
            content_type="text/html",
            text=(
                "<html><body><h1>Mini shop</h1>"
                '<a href="/products/7" data-testid="product-7">Product 7</a></body></html>'
            ),
        )

    async def product_page(request: web.Request) -> web.Response:
        label = "Buy now" if "renamed_button" in broken else "Add to cart"
        test_id = "buy-now" if "renamed_button" in broken else "add-to-cart"
        return web.Response(
            content_type="text/html",
            text=(
                f"<html><body><h1>Product {request.match_info['pid']}</h1>"
                + ("" if "no_button" in broken else f'<button data-testid="{test_id}">{label}</button>')
                + "<script>"
                "const b = document.querySelector('button'); if (b) b.onclick = async () => {"
                "  const r = await fetch('/api/cart', {method: 'POST'}); const c = await r.json();"
                "  location.href = '/cart/' + c.cart_id; };"
                "</script></body></html>"
            ),
        )

    async def cart_page(request: web.Request) -> web.Response:
        return web.Response(content_type="text/html", text="<html><body><h1>Your cart</h1></body></html>")

    app = web.Application()
    app.router.add_get("/", home)
    app.router.add_get("/products/{pid}", product_page)
    app.router.add_get("/cart/{cid}", cart_page)
    app.router.add_get("/api/products/{pid}", product)
    app.router.add_post("/api/login", login)
    app.router.add_post("/api/cart", create_cart)
    app.router.add_post("/api/cart/{cid}/items", add_item)
    app.router.add_post("/api/cart/{cid}/coupon", coupon)
    app.router.add_post("/api/checkout", checkout)
    app.router.add_get("/api/orders/{oid}", order)
    return app


async def start(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"
