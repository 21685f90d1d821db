"""The shop's JSON API, used by its own pages and by API clients (the "mobile app").

Errors are `{"error": {"code", "message", ...}}` with a 4xx status and a reason; version 2 changes
some of that on purpose (see `trodden.shop.regressions`).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from trodden.shop.catalogue import (
    CATEGORIES,
    CODES,
    COUNTRIES,
    CURRENCY,
    DELIVERY_DAYS,
    PAYMENT_TOKENS,
    PRODUCTS,
    PRODUCTS_BY_SKU,
    REGIONS,
    Product,
)
from trodden.shop.pricing import CodeRefusal, check_code, money, price
from trodden.shop.regressions import SEARCH_DELAY_S, ShopVersion
from trodden.shop.state import Cart, ShopState, Visit

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_QUANTITY = 10
FRAUD_REVIEW_FROM = 15000  # cents: orders above this shipped to another country than billed are reviewed
STATE_KEY: web.AppKey[ShopState] = web.AppKey("state", ShopState)
VERSION_KEY: web.AppKey[ShopVersion] = web.AppKey("version", ShopVersion)
VISIT_KEY: web.RequestKey[Visit] = web.RequestKey("visit", Visit)


class ApiError(Exception):
    """A 4xx with a JSON body and a reason; raised by handlers, rendered by the app's middleware."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"code": code, "message": message, **extra}}

    def response(self) -> web.Response:
        return ok(self.body, status=self.status)


def _dumps(value: Any) -> str:
    import orjson

    return orjson.dumps(value).decode()


def ok(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=_dumps)


def visit_of(request: web.Request) -> Visit:
    return request[VISIT_KEY]


def state_of(request: web.Request) -> ShopState:
    return request.app[STATE_KEY]


def version_of(request: web.Request) -> ShopVersion:
    return request.app[VERSION_KEY]


async def json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise ApiError(400, "invalid_json", f"the body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object")
    return body


def string_field(body: dict[str, Any], name: str, *, required: bool = True) -> str:
    value = body.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise ApiError(422, "invalid_field", f"{name} must be a non-empty string", field=name)
    return value.strip()


# --- catalogue ---------------------------------------------------------------------------------


def product_json(p: Product) -> dict[str, Any]:
    return {
        "sku": p.sku,
        "name": p.name,
        "category": p.category,
        "brand": p.brand,
        "price": money(p.price),
        "rating": p.rating,
        "in_stock": p.in_stock,
        "stock_level": p.stock,
        "tags": list(p.tags),
        "url": f"/products/{p.sku}",
    }


def search_products(q: str, category: str, max_price: float | None, sort: str, in_stock: bool) -> list[Product]:
    words = q.lower().split()
    found = [
        p
        for p in PRODUCTS
        if (not category or p.category == category)
        and (max_price is None or p.price <= max_price * 100)
        and (not in_stock or p.in_stock)
        and all(w in f"{p.name} {p.brand} {p.category} {' '.join(p.tags)}".lower() for w in words)
    ]
    keys = {
        "price_asc": lambda p: (p.price, p.sku),
        "price_desc": lambda p: (-p.price, p.sku),
        "rating": lambda p: (-p.rating, p.sku),
        "relevance": lambda p: (0, p.sku),
    }
    return sorted(found, key=keys[sort])


async def list_products(request: web.Request) -> web.Response:
    if version_of(request).has("search-slow"):
        await asyncio.sleep(SEARCH_DELAY_S)  # planted: a slower search
    query = request.query
    category = query.get("category", "")
    if category and category not in CATEGORIES:
        raise ApiError(400, "invalid_category", f"unknown category {category!r}", categories=list(CATEGORIES))
    sort = query.get("sort", "relevance")
    if sort not in ("relevance", "price_asc", "price_desc", "rating"):
        raise ApiError(400, "invalid_sort", f"unknown sort {sort!r}")
    max_price: float | None = None
    if query.get("max_price"):
        try:
            max_price = float(query["max_price"])
        except ValueError:
            raise ApiError(400, "invalid_max_price", "max_price must be a number") from None
    items = search_products(query.get("q", ""), category, max_price, sort, query.get("in_stock") == "1")
    facets: dict[str, int] = {}
    for p in items:
        facets[p.category] = facets.get(p.category, 0) + 1
    return ok({"items": [product_json(p) for p in items], "total": len(items), "facets": {"category": facets}})


async def get_product(request: web.Request) -> web.Response:
    product = PRODUCTS_BY_SKU.get(request.match_info["sku"])
    if product is None:
        raise ApiError(404, "not_found", f"no product {request.match_info['sku']!r}")
    related = [product_json(p) for p in PRODUCTS if p.category == product.category and p.sku != product.sku][:3]
    return ok({"product": product_json(product), "related": related})


# --- cart --------------------------------------------------------------------------------------


def cart_json(cart: Cart) -> dict[str, Any]:
    totals = price(cart.lines, cart.codes, cart.region)
    return {
        "items": [
            {
                "sku": sku,
                "name": PRODUCTS_BY_SKU[sku].name,
                "unit_price": money(PRODUCTS_BY_SKU[sku].price),
                "quantity": qty,
                "line_total": money(PRODUCTS_BY_SKU[sku].price * qty),
            }
            for sku, qty in cart.lines.items()
        ],
        "codes": [{"code": c, "kind": CODES[c].kind} for c in cart.codes],
        "region": cart.region,
        "currency": CURRENCY[cart.region],
        "units": totals.units,
        "subtotal": money(totals.subtotal),
        "discount": money(totals.discount),
        "shipping": money(totals.shipping),
        "total": money(totals.total),
    }


def drop_invalid_codes(cart: Cart, version: ShopVersion) -> None:
    """After the cart changed, keep only the codes that still apply (a real shop re-validates)."""
    kept: list[str] = []
    for code in cart.codes:
        if isinstance(check_code(code, cart.lines, kept, cart.region, version), CodeRefusal):
            continue
        kept.append(code)
    cart.codes = kept


async def get_cart(request: web.Request) -> web.Response:
    return ok({"cart": cart_json(visit_of(request).cart)})


async def set_region(request: web.Request) -> web.Response:
    body = await json_body(request)
    region = body.get("region")
    if region not in REGIONS:
        raise ApiError(422, "invalid_region", f"region must be one of {', '.join(REGIONS)}")
    cart = visit_of(request).cart
    cart.region = str(region)
    drop_invalid_codes(cart, version_of(request))
    return ok({"cart": cart_json(cart)})


def quantity_field(body: dict[str, Any]) -> int:
    qty = body.get("quantity", 1)
    if not isinstance(qty, int) or isinstance(qty, bool) or not 1 <= qty <= MAX_QUANTITY:
        raise ApiError(422, "invalid_quantity", f"quantity must be an integer from 1 to {MAX_QUANTITY}")
    return qty


def out_of_stock(request: web.Request, product: Product) -> web.Response:
    message = f"{product.name} is out of stock"
    if version_of(request).has("out-of-stock-error-shape"):
        # planted: a changed error structure
        return ok({"message": message, "error_code": "OUT_OF_STOCK"}, status=409)
    return ok({"error": {"code": "out_of_stock", "message": message, "sku": product.sku}}, status=409)


async def add_item(request: web.Request) -> web.Response:
    body = await json_body(request)
    sku = string_field(body, "sku")
    product = PRODUCTS_BY_SKU.get(sku)
    if product is None:
        raise ApiError(404, "not_found", f"no product {sku!r}")
    qty = quantity_field(body)
    if not product.in_stock:
        return out_of_stock(request, product)
    cart = visit_of(request).cart
    new_qty = cart.lines.get(sku, 0) + qty
    if new_qty > MAX_QUANTITY:
        raise ApiError(422, "invalid_quantity", f"at most {MAX_QUANTITY} of one product per order")
    cart.lines[sku] = new_qty
    drop_invalid_codes(cart, version_of(request))
    return ok({"cart": cart_json(cart)}, status=201)


async def update_item(request: web.Request) -> web.Response:
    cart = visit_of(request).cart
    sku = request.match_info["sku"]
    if sku not in cart.lines:
        raise ApiError(404, "not_in_cart", f"{sku} is not in the cart")
    cart.lines[sku] = quantity_field(await json_body(request))
    drop_invalid_codes(cart, version_of(request))
    return ok({"cart": cart_json(cart)})


async def remove_item(request: web.Request) -> web.Response:
    cart = visit_of(request).cart
    sku = request.match_info["sku"]
    if cart.lines.pop(sku, None) is None:
        raise ApiError(404, "not_in_cart", f"{sku} is not in the cart")
    drop_invalid_codes(cart, version_of(request))
    return ok({"cart": cart_json(cart)})


async def apply_code(request: web.Request) -> web.Response:
    body = await json_body(request)
    raw = string_field(body, "code")
    cart = visit_of(request).cart
    checked = check_code(raw, cart.lines, cart.codes, cart.region, version_of(request))
    if isinstance(checked, CodeRefusal):
        raise ApiError(checked.status, checked.code, checked.message)
    cart.codes.append(checked.code)
    return ok({"cart": cart_json(cart), "applied": {"code": checked.code, "kind": checked.kind}})


async def remove_code(request: web.Request) -> web.Response:
    cart = visit_of(request).cart
    code = request.match_info["code"].upper()
    if code not in cart.codes:
        raise ApiError(404, "code_not_applied", f"{code} is not applied")
    cart.codes.remove(code)
    return ok({"cart": cart_json(cart)})


# --- accounts ----------------------------------------------------------------------------------


def user_json(request: web.Request, email: str) -> dict[str, Any]:
    user = state_of(request).users[email]
    return {"email": user.email, "name": user.name, "region": user.region, "member_since": user.created_at.isoformat()}


async def start_session(request: web.Request) -> web.Response:
    visit = visit_of(request)
    return ok({"session": {"token": visit.token, "region": visit.cart.region}}, status=201)


async def register(request: web.Request) -> web.Response:
    body = await json_body(request)
    email = string_field(body, "email")
    if not EMAIL_RE.match(email):
        raise ApiError(422, "invalid_email", "email must look like name@example.com", field="email")
    password = string_field(body, "password")
    if len(password) < 8:
        raise ApiError(422, "weak_password", "the password needs at least 8 characters", field="password")
    name = string_field(body, "name")
    region = body.get("region", "EU")
    if region not in REGIONS:
        raise ApiError(422, "invalid_region", f"region must be one of {', '.join(REGIONS)}")
    state = state_of(request)
    if email.lower() in state.users:
        raise ApiError(409, "email_taken", "an account with this email exists; log in instead")
    user = state.register(email, password, name, str(region))
    visit = visit_of(request)
    visit.user_email = user.email
    visit.cart.region = user.region
    return ok({"user": user_json(request, user.email)}, status=201)


async def login(request: web.Request) -> web.Response:
    body = await json_body(request)
    email = string_field(body, "email")
    password = string_field(body, "password")
    user = state_of(request).check_password(email, password)
    if user is None:
        # planted (v2): the status of a failed login changed
        status = 403 if version_of(request).has("login-wrong-password-403") else 401
        raise ApiError(status, "invalid_credentials", "wrong email or password")
    visit = visit_of(request)
    visit.user_email = user.email
    visit.cart.region = user.region
    drop_invalid_codes(visit.cart, version_of(request))
    return ok({"user": user_json(request, user.email)})


async def logout(request: web.Request) -> web.Response:
    visit_of(request).user_email = None
    return web.Response(status=204)


def require_user(request: web.Request) -> str:
    email = visit_of(request).user_email
    if email is None:
        raise ApiError(401, "login_required", "log in to see this")
    return email


async def me(request: web.Request) -> web.Response:
    return ok({"user": user_json(request, require_user(request))})


# --- gift cards, checkout, orders --------------------------------------------------------------


async def gift_card(request: web.Request) -> web.Response:
    code = request.match_info["code"].upper()
    balance = state_of(request).gift_cards.get(code)
    if balance is None:
        raise ApiError(404, "unknown_gift_card", f"no gift card {code}")
    return ok({"gift_card": {"code": code, "balance": money(balance), "usable": balance > 0}})


async def quote(request: web.Request) -> web.Response:
    visit = visit_of(request)
    cart = visit.cart
    if not cart.lines:
        raise ApiError(422, "cart_empty", "the cart is empty")
    totals = price(cart.lines, cart.codes, cart.region)
    q = state_of(request).new_quote(visit.token, totals.subtotal, totals.discount, totals.shipping, totals.total)
    return ok(
        {
            "quote": {
                "id": q.id,
                "subtotal": money(q.subtotal),
                "discount": money(q.discount),
                "shipping": money(q.shipping),
                "total": money(q.total),
                "currency": CURRENCY[cart.region],
            }
        }
    )


def address_field(body: dict[str, Any]) -> dict[str, str]:
    address = body.get("address")
    if not isinstance(address, dict):
        raise ApiError(422, "invalid_address", "address is required", fields=["address"])
    missing = [k for k in ("name", "line1", "city", "postcode", "country") if not str(address.get(k) or "").strip()]
    if missing:
        raise ApiError(422, "invalid_address", f"address is missing {', '.join(missing)}", fields=missing)
    if address["country"] not in COUNTRIES:
        raise ApiError(422, "invalid_address", f"we do not ship to {address['country']}", fields=["country"])
    return {k: str(address[k]).strip() for k in ("name", "line1", "city", "postcode", "country")}


def check_quote(request: web.Request, body: dict[str, Any], visit: Visit, total: int) -> None:
    quote_id = body.get("quote_id")
    if quote_id is None:
        if version_of(request).has("checkout-skips-quote"):
            return  # planted (v2): the page no longer asks for a quote, and the server lets it
        raise ApiError(409, "quote_required", "ask for a quote (POST /api/checkout/quote) first")
    q = state_of(request).quotes.get(str(quote_id))
    if q is None or q.token != visit.token:
        raise ApiError(409, "quote_invalid", "this quote does not belong to this cart")
    if q.total != total:
        raise ApiError(409, "quote_stale", "the cart changed since the quote; ask for a new one")


def plan_payments(
    request: web.Request, payments: Any, total: int
) -> tuple[list[dict[str, Any]], dict[str, int], str | None]:
    """Gift cards first (partial redemption), then the card for the rest. Returns the payment lines,
    the new gift card balances and the card token (None when gift cards covered everything)."""
    if not isinstance(payments, list) or not payments:
        raise ApiError(422, "payment_required", "payments must be a non-empty list")
    cards = state_of(request).gift_cards
    lines: list[dict[str, Any]] = []
    balances: dict[str, int] = {}
    remaining = total
    token: str | None = None
    for p in payments:
        if not isinstance(p, dict) or p.get("method") not in ("gift_card", "card"):
            raise ApiError(422, "invalid_payment", "each payment needs method gift_card or card")
        if p["method"] == "card":
            token = str(p.get("token") or "")
            if token not in PAYMENT_TOKENS:
                raise ApiError(422, "invalid_payment", "unknown card token")
            continue
        code = str(p.get("code") or "").upper()
        if code not in cards:
            raise ApiError(422, "unknown_gift_card", f"no gift card {code}")
        balance = balances.get(code, cards[code])
        used = min(balance, remaining)
        if used <= 0:
            raise ApiError(422, "gift_card_empty", f"the gift card {code} has no balance left")
        balances[code] = balance - used
        remaining -= used
        lines.append(
            {"method": "gift_card", "code": code, "amount": money(used), "remaining_balance": money(balance - used)}
        )
    if remaining > 0:
        if token is None:
            raise ApiError(422, "payment_incomplete", f"{money(remaining):.2f} is left to pay; add a card")
        lines.append({"method": "card", "amount": money(remaining), "status": "captured"})
    else:
        token = None
    return lines, balances, token


async def checkout(request: web.Request) -> web.Response:
    body = await json_body(request)
    visit = visit_of(request)
    state = state_of(request)
    cart = visit.cart
    if not cart.lines:
        raise ApiError(422, "cart_empty", "the cart is empty")
    totals = price(cart.lines, cart.codes, cart.region)
    check_quote(request, body, visit, totals.total)
    if visit.user_email is None:
        email = string_field(body, "email")
        if not EMAIL_RE.match(email):
            raise ApiError(422, "invalid_email", "email must look like name@example.com", field="email")
    else:
        email = visit.user_email
    address = address_field(body)
    lines, balances, token = plan_payments(request, body.get("payments"), totals.total)
    if token is not None and PAYMENT_TOKENS[token] == "declined":
        reason = "insufficient_funds" if token == "tok_insufficient_funds" else "card_declined"
        raise ApiError(402, "payment_declined", "the card was declined; try another card", decline_code=reason)
    state.gift_cards.update(balances)
    billing = str(body.get("billing_country") or address["country"])
    fraud_review = billing != address["country"] and totals.total > FRAUD_REVIEW_FROM
    created = datetime.now(UTC)
    delivery = (created + timedelta(days=DELIVERY_DAYS[COUNTRIES[address["country"]]])).date().isoformat()
    order = {
        "id": str(uuid.uuid4()),
        "status": "review" if fraud_review else "confirmed",
        "fraud_review": fraud_review,
        "email": email,
        "guest": visit.user_email is None,
        "items": cart_json(cart)["items"],
        "codes": list(cart.codes),
        "subtotal": money(totals.subtotal),
        "discount": money(totals.discount),
        "shipping": money(totals.shipping),
        "total": money(totals.total),
        "currency": CURRENCY[cart.region],
        "payments": lines,
        "shipping_address": address,
        "billing_country": billing,
        "created_at": created.isoformat(),
        # planted (v2): the delivery estimate is lost
        "estimated_delivery": None if version_of(request).has("order-delivery-null") else delivery,
    }
    state.orders[order["id"]] = order
    if visit.user_email is not None:
        state.user_orders.setdefault(visit.user_email, []).append(order["id"])
    visit.orders.append(order["id"])
    visit.cart = Cart(region=cart.region)
    return ok({"order": order}, status=201)


async def list_orders(request: web.Request) -> web.Response:
    email = require_user(request)
    state = state_of(request)
    orders = [state.orders[i] for i in reversed(state.user_orders.get(email, []))]
    return ok(
        {
            "orders": [
                {
                    "id": o["id"],
                    "status": o["status"],
                    "total": o["total"],
                    "currency": o["currency"],
                    "items": len(o["items"]),
                    "created_at": o["created_at"],
                }
                for o in orders
            ],
            "count": len(orders),
        }
    )


async def get_order(request: web.Request) -> web.Response:
    visit = visit_of(request)
    state = state_of(request)
    order_id = request.match_info["id"]
    order = state.orders.get(order_id)
    mine = order is not None and (
        order_id in visit.orders
        or (visit.user_email is not None and order_id in state.user_orders.get(visit.user_email, []))
    )
    if order is None or not mine:
        raise ApiError(404, "not_found", "no such order")
    return ok({"order": order})


async def get_wishlist(request: web.Request) -> web.Response:
    visit = visit_of(request)
    return ok({"items": [product_json(PRODUCTS_BY_SKU[s]) for s in visit.wishlist]})


async def add_to_wishlist(request: web.Request) -> web.Response:
    body = await json_body(request)
    sku = string_field(body, "sku")
    if sku not in PRODUCTS_BY_SKU:
        raise ApiError(404, "not_found", f"no product {sku!r}")
    visit = visit_of(request)
    if sku not in visit.wishlist:
        visit.wishlist.append(sku)
    return ok({"items": [product_json(PRODUCTS_BY_SKU[s]) for s in visit.wishlist]}, status=201)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/products", list_products)
    r.add_get("/api/products/{sku}", get_product)
    r.add_post("/api/sessions", start_session)
    r.add_get("/api/cart", get_cart)
    r.add_put("/api/cart/region", set_region)
    r.add_post("/api/cart/items", add_item)
    r.add_patch("/api/cart/items/{sku}", update_item)
    r.add_delete("/api/cart/items/{sku}", remove_item)
    r.add_post("/api/cart/codes", apply_code)
    r.add_delete("/api/cart/codes/{code}", remove_code)
    r.add_post("/api/auth/register", register)
    r.add_post("/api/auth/login", login)
    r.add_post("/api/auth/logout", logout)
    r.add_get("/api/me", me)
    r.add_get("/api/giftcards/{code}", gift_card)
    r.add_post("/api/checkout/quote", quote)
    r.add_post("/api/checkout", checkout)
    r.add_get("/api/orders", list_orders)
    r.add_get("/api/orders/{id}", get_order)
    r.add_get("/api/wishlist", get_wishlist)
    r.add_post("/api/wishlist", add_to_wishlist)
