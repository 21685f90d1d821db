"""Cart pricing and discount-code rules, as pure functions over plain data.

Money is in integer cents. Rules: at most one money-off code (percent, fixed, buy-x-get-y) plus any
number of free-shipping codes; fixed codes need a minimum subtotal; expired codes are refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from trodden.shop.catalogue import CODES, FREE_SHIPPING_FROM, PRODUCTS_BY_SKU, SHIPPING, DiscountCode
from trodden.shop.regressions import ShopVersion


@dataclass(frozen=True)
class CodeRefusal:
    status: int
    code: str
    message: str


@dataclass(frozen=True)
class Totals:
    subtotal: int
    discount: int
    shipping: int
    total: int
    units: int


def units_in(lines: Mapping[str, int]) -> int:
    return sum(lines.values())


def subtotal_of(lines: Mapping[str, int]) -> int:
    return sum(PRODUCTS_BY_SKU[sku].price * qty for sku, qty in lines.items())


def check_code(
    raw_code: str, lines: Mapping[str, int], applied: Sequence[str], region: str, version: ShopVersion
) -> DiscountCode | CodeRefusal:
    """May `raw_code` be added to a cart with these lines and codes, for a shopper in `region`?"""
    code = CODES.get(raw_code.strip().upper())
    if code is None:
        return CodeRefusal(404, "unknown_code", f"there is no discount code {raw_code!r}")
    if code.expired:
        return CodeRefusal(422, "code_expired", f"the code {code.code} has expired")
    if code.code in applied:
        return CodeRefusal(409, "code_already_applied", f"the code {code.code} is already applied")
    if not lines:
        return CodeRefusal(422, "cart_empty", "add something to the cart before using a code")
    if not code.stackable and any(not CODES[c].stackable for c in applied):
        return CodeRefusal(409, "not_stackable", "only one money-off code can be used per order")
    if code.min_subtotal and subtotal_of(lines) < code.min_subtotal:
        return CodeRefusal(
            422, "minimum_not_met", f"the code {code.code} needs a subtotal of at least {code.min_subtotal / 100:.2f}"
        )
    if code.kind == "buy_x_get_y" and sum(
        q for s, q in lines.items() if PRODUCTS_BY_SKU[s].category == code.category
    ) < (code.buy + code.free):
        return CodeRefusal(
            422, "not_applicable", f"the code {code.code} needs {code.buy + code.free} items from {code.category}"
        )
    # Planted regression (v2): a new "bulk order" rule for the EU compares units with the wrong
    # threshold and refuses percent codes on any EU cart of 3+ units.
    if version.has("discount-eu-bulk-percent") and code.kind == "percent" and region == "EU" and units_in(lines) >= 3:
        return CodeRefusal(422, "code_not_applicable", f"the code {code.code} does not apply to this cart")
    return code


def discount_of(code: DiscountCode, lines: Mapping[str, int], subtotal: int) -> int:
    if code.kind == "percent":
        return subtotal * code.value // 100
    if code.kind == "fixed":
        return min(code.value, subtotal)
    if code.kind == "buy_x_get_y":
        # For every buy+free units of the category, the cheapest `free` ones are free.
        prices = sorted(
            price
            for sku, qty in lines.items()
            if PRODUCTS_BY_SKU[sku].category == code.category
            for price in [PRODUCTS_BY_SKU[sku].price] * qty
        )
        groups = len(prices) // (code.buy + code.free)
        return sum(prices[: groups * code.free])
    return 0


def price(lines: Mapping[str, int], codes: Sequence[str], region: str) -> Totals:
    subtotal = subtotal_of(lines)
    discount = min(subtotal, sum(discount_of(CODES[c], lines, subtotal) for c in codes))
    merchandise = subtotal - discount
    free_shipping = any(CODES[c].kind == "free_shipping" for c in codes) or merchandise >= FREE_SHIPPING_FROM
    shipping = 0 if (free_shipping or not lines) else SHIPPING[region]
    return Totals(subtotal, discount, shipping, merchandise + shipping, units_in(lines))


def money(cents: int) -> float:
    return round(cents / 100, 2)
