"""Browser users: Playwright in Chromium, clicking through the shop's pages, so rum.js captures
them for real (clicks, inputs, navigation, the pages' fetches, custom events)."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from typing import Any

from faker import Faker

from trodden.shop.catalogue import PRODUCTS
from trodden.shop.traffic.population import COUNTRY_OF_REGION, SessionPlan

IN_STOCK = [p.sku for p in PRODUCTS if p.in_stock]
OUT_OF_STOCK = [p.sku for p in PRODUCTS if not p.in_stock]
SOCKS = [p.sku for p in PRODUCTS if p.category == "socks"]
PRICEY = [p.sku for p in PRODUCTS if p.in_stock and p.price >= 12000]
SEARCHES = ("sock", "running", "winter", "rain", "wool", "bag")
STEP_TIMEOUT_MS = 15000


class BrowserUser:
    def __init__(self, page: Any, base_url: str, plan: SessionPlan) -> None:
        self.page = page
        self.base_url = base_url.rstrip("/")
        self.plan = plan
        self.rng = random.Random(plan.seed)
        self.fake = Faker()
        self.fake.seed_instance(plan.seed)
        self.country = self.rng.choice(COUNTRY_OF_REGION[plan.region])
        self.orders = 0

    def tid(self, test_id: str) -> Any:
        return self.page.get_by_test_id(test_id)

    async def goto(self, path: str) -> None:
        await self.page.goto(self.base_url + path, wait_until="load")

    async def click_and_wait(self, test_id: str, url_part: str) -> int:
        """Click, and wait for the API response the click causes; returns its status."""
        async with self.page.expect_response(lambda r: url_part in r.url, timeout=STEP_TIMEOUT_MS) as info:
            await self.tid(test_id).click()
        response = await info.value
        return int(response.status)

    async def view_product(self, sku: str) -> None:
        await self.goto(f"/products/{sku}")
        await self.page.wait_for_load_state("networkidle")

    async def add_to_cart(self, sku: str, quantity: int = 1) -> int:
        await self.view_product(sku)
        if quantity != 1:
            await self.tid("quantity").select_option(str(quantity))
        return await self.click_and_wait("add-to-cart", "/api/cart/items")

    async def open_cart(self) -> None:
        await self.tid("nav-cart").click()
        await self.page.wait_for_url("**/cart")
        await self.page.wait_for_load_state("networkidle")
        if self.plan.region != "EU":
            async with self.page.expect_response(lambda r: "/api/cart/region" in r.url, timeout=STEP_TIMEOUT_MS):
                await self.tid("region-select").select_option(self.plan.region)

    async def apply_code(self, code: str) -> int:
        await self.tid("discount-code").fill(code)
        return await self.click_and_wait("apply-code", "/api/cart/codes")

    async def checkout(self, card: str = "tok_visa") -> int:
        await self.tid("go-to-checkout").click()
        await self.page.wait_for_url("**/checkout")
        await self.page.wait_for_load_state("networkidle")
        email = self.tid("checkout-email")
        if await email.count():
            await email.fill(f"{self.fake.user_name()}.{self.plan.index}@{self.fake.free_email_domain()}")
        await self.tid("address-name").fill(self.fake.name())
        await self.tid("address-line1").fill(self.fake.street_address())
        await self.tid("address-city").fill(self.fake.city())
        await self.tid("address-postcode").fill(self.fake.postcode())
        await self.tid("address-country").select_option(self.country)
        await self.tid("billing-country").select_option(self.country)
        return await self.place_order(card)

    async def place_order(self, card: str) -> int:
        await self.tid("card-select").select_option(card)
        # Version 1's page asks for a quote first; wait for the order request itself.
        async with self.page.expect_response(
            lambda r: r.url.endswith("/api/checkout") and r.request.method == "POST", timeout=STEP_TIMEOUT_MS
        ) as info:
            await self.tid("place-order").click()
        status = int((await info.value).status)
        if status == 201:
            await self.page.wait_for_url("**/orders/*", timeout=STEP_TIMEOUT_MS)
            await self.page.wait_for_load_state("networkidle")
            self.orders += 1
        else:
            await self.tid("checkout-error").wait_for(state="visible", timeout=STEP_TIMEOUT_MS)
        return status

    async def search(self) -> None:
        await self.tid("search-input").fill(self.rng.choice(SEARCHES))
        await self.tid("search-input").press("Enter")
        await self.page.wait_for_url("**/products?**")
        await self.page.wait_for_load_state("networkidle")


async def browse(u: BrowserUser) -> None:
    await u.goto("/")
    await u.tid(f"category-{u.rng.choice(['shoes', 'socks', 'jackets', 'bags'])}").click()
    await u.page.wait_for_load_state("networkidle")
    await u.search()
    links = u.page.locator('[data-testid^="product-link-"]')
    if await links.count():
        await links.nth(u.rng.randrange(await links.count())).click()
        await u.page.wait_for_load_state("networkidle")


async def guest_checkout(u: BrowserUser) -> None:
    await u.goto("/")
    await u.search()
    await u.add_to_cart(u.rng.choice(IN_STOCK))
    await u.open_cart()
    await u.checkout()


async def eu_bulk_percent(u: BrowserUser) -> None:
    await u.add_to_cart(u.rng.choice(SOCKS), 3)
    await u.open_cart()
    await u.apply_code("SPRING")
    await u.checkout()


async def discount_checkout(u: BrowserUser) -> None:
    code = u.rng.choice(["FREESHIP", "TENOFF", "SPRING"])
    await u.add_to_cart(u.rng.choice(PRICEY) if code == "TENOFF" else u.rng.choice(IN_STOCK))
    await u.open_cart()
    await u.apply_code(code)
    await u.checkout()


async def out_of_stock(u: BrowserUser) -> None:
    await u.add_to_cart(u.rng.choice(OUT_OF_STOCK))
    await u.tid("flash").wait_for(state="visible")
    await u.add_to_cart(u.rng.choice(IN_STOCK))
    await u.open_cart()


async def declined_retry(u: BrowserUser) -> None:
    await u.add_to_cart(u.rng.choice(IN_STOCK))
    await u.open_cart()
    if await u.checkout(card="tok_declined") == 402:
        await u.place_order("tok_visa")


async def wishlist(u: BrowserUser) -> None:
    for sku in u.rng.sample(IN_STOCK, 2):
        await u.view_product(sku)
        await u.click_and_wait("add-to-wishlist", "/api/wishlist")
    await u.tid("nav-wishlist").click()
    await u.page.wait_for_load_state("networkidle")


BROWSER_JOURNEYS: dict[str, Callable[[BrowserUser], Awaitable[None]]] = {
    "browse": browse,
    "guest_checkout": guest_checkout,
    "eu_bulk_percent": eu_bulk_percent,
    "discount_checkout": discount_checkout,
    "out_of_stock": out_of_stock,
    "declined_retry": declined_retry,
    "wishlist": wishlist,
}


async def run_browser_session(browser: Any, base_url: str, plan: SessionPlan) -> BrowserUser:
    """One tab's session in a fresh context; ends on about:blank so the tag flushes on page hide."""
    context = await browser.new_context(locale="en-GB" if plan.region == "UK" else "en-US")
    context.set_default_timeout(STEP_TIMEOUT_MS)
    try:
        page = await context.new_page()
        user = BrowserUser(page, base_url, plan)
        await BROWSER_JOURNEYS[plan.journey](user)
        await page.goto("about:blank")
        await page.wait_for_timeout(300)  # let the tag's page-hide beacon leave
        return user
    finally:
        await context.close()
