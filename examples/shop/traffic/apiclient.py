"""API clients (the shop's "mobile app"): one simulated session per `SessionPlan`, over real HTTP."""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from faker import Faker

from trodden.shop.catalogue import PRODUCTS, gift_card_code
from trodden.shop.traffic.population import COUNTRY_OF_REGION, SessionPlan
from trodden.shop.traffic.recorder import Recorder, new_trace

IN_STOCK = [p.sku for p in PRODUCTS if p.in_stock]
OUT_OF_STOCK = [p.sku for p in PRODUCTS if not p.in_stock]
SOCKS = [p.sku for p in PRODUCTS if p.category == "socks"]
CHEAP = [p.sku for p in PRODUCTS if p.in_stock and p.price < 2000]
PRICEY = [p.sku for p in PRODUCTS if p.in_stock and p.price >= 12000]
SEARCHES = ("sock", "running", "winter", "leather", "rain jacket", "wool", "bag", "summer")
CATEGORIES = sorted({p.category for p in PRODUCTS})


class ApiUser:
    """A client with its own shop session (X-Session-Token) that records what it does."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str, plan: SessionPlan, recorder: Recorder) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.plan = plan
        self.rec = recorder
        self.rng = random.Random(plan.seed)
        self.fake = Faker()
        self.fake.seed_instance(plan.seed)
        first, last = self.fake.first_name(), self.fake.last_name()
        self.name = f"{first} {last}"
        self.email = f"{first.lower()}.{last.lower()}.{plan.index}@{self.fake.free_email_domain()}"
        self.password = self.fake.password(length=12)
        self.token: str | None = None
        self.country = self.rng.choice(COUNTRY_OF_REGION[plan.region])
        self.statuses: list[int] = []

    async def call(self, method: str, path: str, body: Any = None, *, raw: str | None = None) -> tuple[int, Any]:
        trace_id, span_id, traceparent = new_trace()
        headers = {"Accept": "application/json", "X-Trodden-Session": self.rec.session_id, "traceparent": traceparent}
        if self.token:
            headers["X-Session-Token"] = self.token
        data: str | None = raw
        if body is not None:
            import orjson

            data = orjson.dumps(body).decode()
        if data is not None:
            headers["Content-Type"] = "application/json"
        url = self.base_url + path
        started = time.perf_counter()
        async with self.http.request(method, url, data=data, headers=headers) as response:
            text = await response.text()
            duration = (time.perf_counter() - started) * 1000
            parsed: Any = None
            if text and response.content_type == "application/json":
                import orjson

                parsed = orjson.loads(text)
            self.rec.request(
                method,
                url,
                status=response.status,
                duration_ms=duration,
                request_headers=headers,
                response_headers=dict(response.headers),
                request_body=body if body is not None else raw,
                response_body=parsed,
                trace_id=trace_id,
                span_id=span_id,
            )
            self.statuses.append(response.status)
            return response.status, parsed

    # --- building blocks ---

    async def start(self) -> None:
        status, body = await self.call("POST", "/api/sessions")
        if status != 201:
            raise RuntimeError(f"the shop refused a session: {status}")
        self.token = body["session"]["token"]
        await self.call("GET", "/api/products?sort=rating")  # the app's home screen: top-rated products
        if self.plan.region != "EU" or self.rng.random() < 0.3:
            await self.call("PUT", "/api/cart/region", {"region": self.plan.region})

    async def look_around(self, products: int = 2) -> None:
        if self.rng.random() < 0.6:
            await self.call("GET", f"/api/products?q={self.rng.choice(SEARCHES).replace(' ', '+')}")
        else:
            await self.call("GET", f"/api/products?category={self.rng.choice(CATEGORIES)}&sort=rating")
        for sku in self.rng.sample(IN_STOCK, products):
            await self.call("GET", f"/api/products/{sku}")

    async def add(self, sku: str, quantity: int = 1) -> int:
        status, _ = await self.call("POST", "/api/cart/items", {"sku": sku, "quantity": quantity})
        self.rec.custom("add_to_cart" if status == 201 else "add_to_cart_failed", {"sku": sku, "status": status})
        return status

    def address(self, country: str | None = None) -> dict[str, str]:
        return {
            "name": self.name,
            "line1": self.fake.street_address(),
            "city": self.fake.city(),
            "postcode": self.fake.postcode(),
            "country": country or self.country,
        }

    async def checkout(
        self,
        payments: list[dict[str, Any]] | None = None,
        *,
        guest: bool = True,
        billing: str | None = None,
        country: str | None = None,
    ) -> tuple[int, Any]:
        status, q = await self.call("POST", "/api/checkout/quote", {})
        if status != 200:
            return status, q
        body: dict[str, Any] = {
            "quote_id": q["quote"]["id"],
            "address": self.address(country),
            "billing_country": billing or country or self.country,
            "payments": payments or [{"method": "card", "token": self.rng.choice(["tok_visa", "tok_mastercard"])}],
        }
        if guest:
            body["email"] = self.email
        status, order = await self.call("POST", "/api/checkout", body)
        if status == 201:
            self.rec.custom("order_placed", {"total": order["order"]["total"], "status": order["order"]["status"]})
            await self.call("GET", f"/api/orders/{order['order']['id']}")
        elif status == 402:
            self.rec.custom("payment_declined", {"code": order["error"].get("decline_code")})
        return status, order

    async def register(self) -> None:
        await self.call(
            "POST",
            "/api/auth/register",
            {"email": self.email, "password": self.password, "name": self.name, "region": self.plan.region},
        )
        self.rec.user_id = self.email


# --- journeys ---


async def browse(u: ApiUser) -> None:
    await u.look_around(u.rng.randint(1, 3))
    if u.rng.random() < 0.4:
        await u.call("GET", f"/api/products?category={u.rng.choice(CATEGORIES)}&max_price=60&sort=price_asc")
    await u.call("GET", "/api/cart")


async def guest_checkout(u: ApiUser) -> None:
    await u.look_around(2)
    for sku in u.rng.sample(IN_STOCK, u.rng.randint(1, 2)):
        await u.add(sku, 1)
    await u.call("GET", "/api/cart")
    await u.checkout()


async def eu_bulk_percent(u: ApiUser) -> None:
    await u.look_around(1)
    if u.rng.random() < 0.5:
        await u.add(u.rng.choice(SOCKS), 3)
    else:
        await u.add(u.rng.choice(IN_STOCK), 2)
        await u.add(u.rng.choice(CHEAP), 1)
    await u.call("POST", "/api/cart/codes", {"code": "SPRING"})
    u.rec.custom("discount_applied", {"code": "SPRING"})
    await u.checkout()


async def discount_checkout(u: ApiUser) -> None:
    code = u.rng.choice(["SPRING", "TENOFF", "FREESHIP", "SOCKS"])
    await u.look_around(1)
    if code == "SOCKS":
        await u.add(SOCKS[0], 2)
        await u.add(SOCKS[1], 1)
    elif code == "TENOFF":
        await u.add(u.rng.choice(PRICEY), 1)
    elif code == "SPRING" and u.plan.region == "EU":
        await u.add(u.rng.choice(IN_STOCK), u.rng.randint(1, 2))  # small EU carts
    else:
        await u.add(u.rng.choice(IN_STOCK), u.rng.randint(1, 3))
    status, _ = await u.call("POST", "/api/cart/codes", {"code": code.lower() if u.rng.random() < 0.2 else code})
    u.rec.custom("discount_applied" if status == 200 else "discount_rejected", {"code": code})
    await u.checkout()


async def member_checkout(u: ApiUser) -> None:
    await u.register()
    await u.call("GET", "/api/me")
    await u.look_around(1)
    for sku in u.rng.sample(IN_STOCK, 2):
        await u.add(sku, 1)
    card = gift_card_code(u.plan.index)
    await u.call("GET", f"/api/giftcards/{card}")
    await u.checkout([{"method": "gift_card", "code": card}, {"method": "card", "token": "tok_visa"}], guest=False)
    await u.call("GET", "/api/orders")


async def returning_mistype(u: ApiUser) -> None:
    await u.register()
    await u.call("POST", "/api/auth/logout")
    typo = u.password[:-1] + ("x" if u.password[-1] != "x" else "y")
    status, _ = await u.call("POST", "/api/auth/login", {"email": u.email, "password": typo})
    u.rec.custom("login_failed", {"status": status})
    if u.rng.random() < 0.3:  # some mistype twice
        await u.call("POST", "/api/auth/login", {"email": u.email, "password": typo + "1"})
    await u.call("POST", "/api/auth/login", {"email": u.email, "password": u.password})
    await u.call("GET", "/api/orders")
    if u.rng.random() < 0.5:
        await u.add(u.rng.choice(IN_STOCK), 1)
        await u.checkout(guest=False)


async def out_of_stock(u: ApiUser) -> None:
    sku = u.rng.choice(OUT_OF_STOCK)
    status, product = await u.call("GET", f"/api/products/{sku}")
    await u.add(sku, 1)
    alternatives = [r["sku"] for r in product["related"] if r["in_stock"]] if status == 200 else IN_STOCK
    await u.add(u.rng.choice(alternatives or IN_STOCK), 1)
    if u.rng.random() < 0.6:
        await u.checkout()


async def declined_retry(u: ApiUser) -> None:
    await u.look_around(1)
    await u.add(u.rng.choice(IN_STOCK), 1)
    status, _ = await u.checkout(
        [{"method": "card", "token": u.rng.choice(["tok_declined", "tok_insufficient_funds"])}]
    )
    if status == 402:
        await u.checkout([{"method": "card", "token": "tok_visa"}])


async def code_mistakes(u: ApiUser) -> None:
    await u.add(u.rng.choice(PRICEY), 1)
    await u.call("POST", "/api/cart/codes", {"code": "WINTER"})
    await u.call("POST", "/api/cart/codes", {"code": "SPRNG"})
    await u.call("POST", "/api/cart/codes", {"code": "TENOFF"})
    await u.call("POST", "/api/cart/codes", {"code": "SPRING"})  # not stackable with TENOFF
    await u.call("POST", "/api/cart/codes", {"code": "FREESHIP"})
    await u.call("DELETE", "/api/cart/codes/TENOFF")
    await u.call("GET", "/api/cart")
    if u.rng.random() < 0.5:
        await u.checkout()


async def cart_edit(u: ApiUser) -> None:
    skus = u.rng.sample(IN_STOCK, 3)
    for sku in skus:
        await u.add(sku, 1)
    await u.call("PATCH", f"/api/cart/items/{skus[0]}", {"quantity": 2})
    await u.call("DELETE", f"/api/cart/items/{skus[1]}")
    await u.call("PUT", "/api/cart/region", {"region": u.rng.choice(["EU", "UK", "US"])})
    await u.call("GET", "/api/cart")


async def gift_card_only(u: ApiUser) -> None:
    card = gift_card_code(u.plan.index)
    await u.call("GET", f"/api/giftcards/{card}")
    await u.call("GET", "/api/giftcards/GC-NOPE")  # a typo first
    await u.add(u.rng.choice(CHEAP), 1)
    await u.checkout([{"method": "gift_card", "code": card}])


async def fraud_review(u: ApiUser) -> None:
    await u.add(PRICEY[-1], 1)
    await u.add(u.rng.choice(PRICEY), 1)
    ship = u.rng.choice(["DE", "FR", "GB"])
    await u.checkout(country=ship, billing="US")


async def bad_input(u: ApiUser) -> None:
    await u.call("POST", "/api/cart/items", {"sku": IN_STOCK[0], "quantity": 0})
    await u.call("POST", "/api/cart/items", {"sku": "NOPE-404", "quantity": 1})
    await u.call("POST", "/api/cart/items", raw="{sku: SOCK-001")
    await u.call("GET", "/api/products?category=spaceships")
    await u.add(IN_STOCK[0], 1)
    await u.call("GET", "/api/cart")


API_JOURNEYS: dict[str, Callable[[ApiUser], Awaitable[None]]] = {
    "browse": browse,
    "guest_checkout": guest_checkout,
    "eu_bulk_percent": eu_bulk_percent,
    "discount_checkout": discount_checkout,
    "member_checkout": member_checkout,
    "returning_mistype": returning_mistype,
    "out_of_stock": out_of_stock,
    "declined_retry": declined_retry,
    "code_mistakes": code_mistakes,
    "cart_edit": cart_edit,
    "gift_card_only": gift_card_only,
    "fraud_review": fraud_review,
    "bad_input": bad_input,
}


async def run_api_session(http: aiohttp.ClientSession, base_url: str, plan: SessionPlan, session_id: str) -> ApiUser:
    recorder = Recorder(session_id, attributes={"client": "mobile-app", "app_version": "3.2.0", "region": plan.region})
    user = ApiUser(http, base_url, plan, recorder)
    await user.start()
    await API_JOURNEYS[plan.journey](user)
    return user
