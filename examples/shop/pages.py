"""Server-rendered pages (jinja2). The pages are thin: their own small JavaScript (static/shop.js)
calls the JSON API, so the browser tag sees the same requests an API client makes."""

from __future__ import annotations

from typing import Any

import jinja2
from aiohttp import web

from trodden.shop.api import ApiError, product_json, state_of, version_of, visit_of
from trodden.shop.catalogue import CATEGORIES, COUNTRIES, PRODUCTS, PRODUCTS_BY_SKU, REGIONS

ENV_KEY: web.AppKey[jinja2.Environment] = web.AppKey("jinja", jinja2.Environment)
TAG_KEY: web.AppKey[dict[str, str]] = web.AppKey("tag", dict)


def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("trodden.shop", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
    )


def render(request: web.Request, template: str, **context: Any) -> web.Response:
    visit = visit_of(request)
    user = state_of(request).users.get(visit.user_email) if visit.user_email else None
    version = version_of(request)
    html = (
        request.app[ENV_KEY]
        .get_template(template)
        .render(
            tag=request.app[TAG_KEY],
            shop={"version": version.number, "skipQuote": version.has("checkout-skips-quote")},
            v2_wishlist=version.has("wishlist-button-renamed"),
            user=user,
            cart_units=sum(visit.cart.lines.values()),
            categories=CATEGORIES,
            regions=REGIONS,
            countries=sorted(COUNTRIES),
            **context,
        )
    )
    return web.Response(text=html, content_type="text/html")


async def home(request: web.Request) -> web.Response:
    featured = [product_json(p) for p in PRODUCTS if p.rating >= 4.6]
    return render(request, "home.html", page="home", title="Trodden Outfitters", featured=featured)


async def catalogue(request: web.Request) -> web.Response:
    q = request.query
    return render(
        request,
        "catalogue.html",
        page="catalogue",
        title="Catalogue",
        q=q.get("q", ""),
        category=q.get("category", ""),
        sort=q.get("sort", "relevance"),
        max_price=q.get("max_price", ""),
    )


async def product(request: web.Request) -> web.Response:
    p = PRODUCTS_BY_SKU.get(request.match_info["sku"])
    if p is None:
        raise web.HTTPNotFound(text="no such product")
    return render(request, "product.html", page="product", title=p.name, product=product_json(p))


async def cart(request: web.Request) -> web.Response:
    return render(request, "cart.html", page="cart", title="Your cart")


async def checkout(request: web.Request) -> web.Response:
    return render(request, "checkout.html", page="checkout", title="Checkout")


async def order(request: web.Request) -> web.Response:
    return render(request, "order.html", page="order", title="Your order", order_id=request.match_info["id"])


async def account(request: web.Request) -> web.Response:
    return render(request, "account.html", page="account", title="Your account")


async def orders(request: web.Request) -> web.Response:
    return render(request, "orders.html", page="orders", title="Your orders")


async def wishlist(request: web.Request) -> web.Response:
    return render(request, "wishlist.html", page="wishlist", title="Your wishlist")


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/", home)
    r.add_get("/products", catalogue)
    r.add_get("/products/{sku}", product)
    r.add_get("/cart", cart)
    r.add_get("/checkout", checkout)
    r.add_get("/orders/{id}", order)
    r.add_get("/account", account)
    r.add_get("/account/orders", orders)
    r.add_get("/wishlist", wishlist)


__all__ = ["ENV_KEY", "TAG_KEY", "ApiError", "add_routes", "environment"]
