"""A small real shop for replay tests: v1, and v2 with planted regressions (PLANTED below).

Served by aiohttp on loopback, in a thread with its own event loop, so both async tests and
subprocess CLI tests can reach it.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from aiohttp import web

# planted regression -> (test id, assertion id that must catch it); the tests read this.
PLANTED: dict[str, tuple[str, str]] = {
    "status change": ("t-categories", "a-status-categories"),
    "missing field": ("t-me", "a-present-email"),
    "wrong type": ("t-product", "a-type-price"),
    "changed error structure": ("t-order-invalid", "a-error-shape-orders"),
    "broken ordering": ("b-home", "a-cart-after-session"),
    "slower endpoint": ("t-search", "a-latency-search"),
    "changed UI element": ("b-add-to-cart", "expect:locator"),
}

SLOW_S = 1.5

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Shop</title></head>
<body>
<h1>Welcome to the shop</h1>
<p id="who">…</p>
<button data-testid="{button_id}" id="{button_id}">{button_text}</button>
<p id="status"></p>
<script>
async function load() {{
  const order = {order};
  const out = {{}};
  for (const path of order) {{
    const r = await fetch(path);
    out[path] = await r.json();
  }}
  document.getElementById("who").textContent = "Hello " + out["/api/session"].user;
}}
document.querySelector("button").addEventListener("click", async () => {{
  const r = await fetch("/api/cart/items", {{method: "POST", headers: {{"Content-Type": "application/json"}},
                                             body: JSON.stringify({{product_id: 1}})}});
  const data = await r.json();
  document.getElementById("status").textContent = "Added " + data.count + " item";
}});
load();
</script>
</body></html>
"""


CHECKOUT = """<!doctype html>
<html><head><meta charset="utf-8"><title>Checkout</title></head>
<body>
<h1>Checkout</h1>
<form id="checkout-form" data-testid="checkout-form">
  <label>Note <input name="note" data-testid="note"></label>
  <button type="submit" data-testid="place-order">Place order</button>
</form>
<script>
document.getElementById("checkout-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const note = e.target.note.value;
  const r = await fetch("/api/orders", {method: "POST", headers: {"Content-Type": "application/json"},
                                        body: JSON.stringify({product_id: 1, qty: 1, note})});
  const data = await r.json();
  location.href = "/thanks?order=" + data.order_id;   // navigates away right after the response
});
</script>
</body></html>
"""


def make_app(version: str = "v1") -> web.Application:
    v2 = version == "v2"
    tokens: set[str] = set()
    orders: dict[str, dict[str, object]] = {}
    calls: dict[str, int] = {}

    async def categories(_r: web.Request) -> web.Response:
        if v2:
            return web.json_response({"error": {"code": "internal", "message": "boom"}}, status=500)
        return web.json_response([{"id": 1, "name": "Books"}, {"id": 2, "name": "Games"}])

    async def product(r: web.Request) -> web.Response:
        pid = int(r.match_info["id"])
        price: object = "12.50" if v2 else 12.5
        return web.json_response(
            {
                "id": pid,
                "name": "Book",
                "price": price,
                "stock": 3,
                "updated_at": datetime.now(UTC).isoformat(),
                "request_id": str(uuid.uuid4()),
            }
        )

    async def login(r: web.Request) -> web.Response:
        body = await r.json()
        if body.get("user") != "alice":
            return web.json_response({"error": {"code": "bad_credentials", "message": "who?"}}, status=401)
        token = uuid.uuid4().hex
        tokens.add(token)
        return web.json_response({"token": token})

    async def me(r: web.Request) -> web.Response:
        token = r.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in tokens:
            return web.json_response({"error": {"code": "unauthorized", "message": "log in"}}, status=401)
        user: dict[str, object] = {"id": 7, "name": "Alice"}
        if not v2:
            user["email"] = "alice@example.com"
        return web.json_response({"user": user})

    async def create_order(r: web.Request) -> web.Response:
        body = await r.json()
        qty = body.get("qty", 0)
        if not isinstance(qty, int) or qty <= 0:
            if v2:
                return web.json_response({"message": "quantity must be positive", "code": 400}, status=400)
            return web.json_response(
                {"error": {"code": "invalid_quantity", "message": "quantity must be positive"}}, status=400
            )
        order_id = str(uuid.uuid4())
        orders[order_id] = {
            "order_id": order_id,
            "status": "pending",
            "qty": qty,
            "total": 12.5 * qty,
            "note": body.get("note"),
        }
        created = "PENDING" if v2 else "pending"
        return web.json_response(
            {"order_id": order_id, "total": 12.5 * qty, "status": created},
            status=201,
            headers={"Location": f"/api/orders/{order_id}"},
        )

    async def get_order(r: web.Request) -> web.Response:
        order = orders.get(r.match_info["order_id"])
        if order is None:
            return web.json_response({"error": {"code": "not_found", "message": "no such order"}}, status=404)
        return web.json_response(order)

    async def orders_with_note(r: web.Request) -> web.Response:
        note = r.query.get("note")
        return web.json_response({"count": sum(1 for o in orders.values() if o.get("note") == note)})

    async def checkout(_r: web.Request) -> web.Response:
        return web.Response(text=CHECKOUT, content_type="text/html")

    async def thanks(_r: web.Request) -> web.Response:
        return web.Response(text="<!doctype html><h1>Thank you</h1>", content_type="text/html")

    async def search(r: web.Request) -> web.Response:
        if v2:
            await asyncio.sleep(SLOW_S)
        return web.json_response({"q": r.query.get("q", ""), "results": [{"id": 1, "name": "Book"}]})

    async def session(_r: web.Request) -> web.Response:
        return web.json_response({"user": "guest", "session_id": str(uuid.uuid4())})

    async def cart(_r: web.Request) -> web.Response:
        return web.json_response({"items": [], "count": 0})

    async def add_item(_r: web.Request) -> web.Response:
        return web.json_response({"count": 1}, status=201)

    async def flaky(r: web.Request) -> web.Response:
        """First call per key misbehaves (how depends on the kind), later calls are fine."""
        kind, key = r.match_info["kind"], r.query.get("key", "")
        n = calls[kind + key] = calls.get(kind + key, 0) + 1
        if n == 1:
            if kind == "status":  # (a 503 would be asked again within the step)
                return web.json_response({"error": {"code": "busy", "message": "try again"}}, status=502)
            if kind == "state":
                return web.json_response({"error": {"code": "not_found", "message": "not yet"}}, status=404)
            if kind == "slow":
                await asyncio.sleep(SLOW_S)
        return web.json_response({"ok": True, "n": n})

    async def hello(_r: web.Request) -> web.Response:
        return web.Response(text="hello", content_type="text/plain")

    async def page(_r: web.Request) -> web.Response:
        order = '["/api/cart", "/api/session"]' if v2 else '["/api/session", "/api/cart"]'
        html = PAGE.format(
            order=order,
            button_id="add-item" if v2 else "add-to-cart",
            button_text="Add to basket" if v2 else "Add to cart",
        )
        return web.Response(text=html, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/hello", hello)
    app.router.add_get("/api/categories", categories)
    app.router.add_get("/api/products/{id}", product)
    app.router.add_post("/api/login", login)
    app.router.add_get("/api/me", me)
    app.router.add_post("/api/orders", create_order)
    app.router.add_get("/api/orders/count", orders_with_note)
    app.router.add_get("/api/orders/{order_id}", get_order)
    app.router.add_get("/checkout", checkout)
    app.router.add_get("/thanks", thanks)
    app.router.add_get("/api/search", search)
    app.router.add_get("/api/session", session)
    app.router.add_get("/api/cart", cart)
    app.router.add_post("/api/cart/items", add_item)
    app.router.add_get("/api/flaky/{kind}", flaky)
    return app


@contextmanager
def serve(app: web.Application) -> Iterator[str]:
    """Run `app` on 127.0.0.1 (a free port) in a thread; yields its base URL."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, object] = {}

    async def start() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        holder["port"] = runner.addresses[0][1]
        holder["runner"] = runner
        ready.set()

    def main() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield f"http://127.0.0.1:{holder['port']}"
    finally:
        runner = holder["runner"]
        assert isinstance(runner, web.AppRunner)
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


if __name__ == "__main__":  # `python tests/replay/replay_shop.py v2 8080`: look at it by hand
    import sys

    web.run_app(
        make_app(sys.argv[1] if len(sys.argv) > 1 else "v1"),
        host="127.0.0.1",
        port=int(sys.argv[2]) if len(sys.argv) > 2 else 8080,
    )
