"""The shop's fixed data: products, discount codes, gift cards, shipping by region.

Everything here is deterministic so that replaying the same requests gives the same answers;
only ids and timestamps that the shop generates per request vary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Region = Literal["EU", "UK", "US"]
REGIONS: tuple[Region, ...] = ("EU", "UK", "US")
CURRENCY: dict[str, str] = {"EU": "EUR", "UK": "GBP", "US": "USD"}
# Shipping in cents by region, free from FREE_SHIPPING_FROM cents of merchandise after discounts.
SHIPPING: dict[str, int] = {"EU": 490, "UK": 390, "US": 590}
FREE_SHIPPING_FROM = 10000
# Delivery days by region, for an order's estimated delivery date.
DELIVERY_DAYS: dict[str, int] = {"EU": 3, "UK": 2, "US": 5}
COUNTRIES: dict[str, Region] = {
    "DE": "EU",
    "FR": "EU",
    "NL": "EU",
    "ES": "EU",
    "IT": "EU",
    "GB": "UK",
    "US": "US",
}


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    category: str
    brand: str
    price: int  # cents
    rating: float
    stock: Literal["high", "low", "out"]
    tags: tuple[str, ...] = ()

    @property
    def in_stock(self) -> bool:
        return self.stock != "out"


PRODUCTS: tuple[Product, ...] = (
    Product("SHOE-001", "Trail Runner", "shoes", "Northpeak", 8900, 4.6, "high", ("running", "trail")),
    Product("SHOE-002", "City Sneaker", "shoes", "Urbano", 6900, 4.2, "high", ("casual",)),
    Product("SHOE-003", "Leather Boot", "shoes", "Cobbler & Co", 14900, 4.8, "low", ("winter", "leather")),
    Product("SHOE-004", "Summer Sandal", "shoes", "Urbano", 3900, 3.9, "out", ("summer",)),
    Product("SOCK-001", "Merino Sock", "socks", "Northpeak", 1500, 4.7, "high", ("wool", "hiking")),
    Product("SOCK-002", "Cotton Sock 3-pack", "socks", "Basics", 1200, 4.1, "high", ("cotton",)),
    Product("SOCK-003", "Compression Sock", "socks", "Velo", 2200, 4.4, "high", ("running",)),
    Product("SHIRT-001", "Linen Shirt", "shirts", "Atelier", 5900, 4.3, "high", ("summer", "linen")),
    Product("SHIRT-002", "Oxford Shirt", "shirts", "Atelier", 4900, 4.5, "high", ("office",)),
    Product("SHIRT-003", "Running Tee", "shirts", "Velo", 2900, 4.0, "high", ("running",)),
    Product("SHIRT-004", "Flannel Shirt", "shirts", "Northpeak", 4500, 4.6, "out", ("winter",)),
    Product("JACK-001", "Rain Jacket", "jackets", "Northpeak", 12900, 4.7, "high", ("rain", "hiking")),
    Product("JACK-002", "Down Parka", "jackets", "Polar", 24900, 4.9, "low", ("winter",)),
    Product("JACK-003", "Denim Jacket", "jackets", "Urbano", 7900, 4.1, "high", ("casual",)),
    Product("BAG-001", "Day Pack 20L", "bags", "Northpeak", 6500, 4.5, "high", ("hiking",)),
    Product("BAG-002", "Tote Bag", "bags", "Basics", 1900, 4.0, "high", ("casual",)),
    Product("BAG-003", "Weekender", "bags", "Cobbler & Co", 18900, 4.8, "high", ("travel", "leather")),
    Product("HAT-001", "Wool Beanie", "hats", "Polar", 2400, 4.4, "high", ("winter", "wool")),
    Product("HAT-002", "Sun Cap", "hats", "Velo", 1900, 4.2, "high", ("summer", "running")),
)
PRODUCTS_BY_SKU: dict[str, Product] = {p.sku: p for p in PRODUCTS}
CATEGORIES: tuple[str, ...] = tuple(sorted({p.category for p in PRODUCTS}))

CodeKind = Literal["percent", "fixed", "free_shipping", "buy_x_get_y"]


@dataclass(frozen=True)
class DiscountCode:
    code: str
    kind: CodeKind
    value: int = 0  # percent for "percent", cents for "fixed"
    min_subtotal: int = 0  # cents
    expired: bool = False
    category: str | None = None  # buy_x_get_y applies to one category
    buy: int = 0
    free: int = 0

    @property
    def stackable(self) -> bool:
        """Free shipping stacks with anything; the money-off kinds do not stack with each other."""
        return self.kind == "free_shipping"


CODES: dict[str, DiscountCode] = {
    c.code: c
    for c in (
        DiscountCode("SPRING", "percent", value=15),
        DiscountCode("TENOFF", "fixed", value=1000, min_subtotal=5000),
        DiscountCode("FREESHIP", "free_shipping"),
        DiscountCode("SOCKS", "buy_x_get_y", category="socks", buy=2, free=1),
        DiscountCode("WINTER", "percent", value=20, expired=True),
    )
}

# Gift cards: a deterministic pool so each simulated session can use its own card and a replay
# against a freshly reset shop sees the same balances. Code GC-0000 … GC-0999, balance 50.00,
# except every tenth card, which holds 20.00 (partial redemption and split payment happen).
GIFT_CARD_COUNT = 1000


def gift_card_code(index: int) -> str:
    return f"GC-{index % GIFT_CARD_COUNT:04d}"


def initial_gift_cards() -> dict[str, int]:
    return {gift_card_code(i): (2000 if i % 10 == 0 else 5000) for i in range(GIFT_CARD_COUNT)}


# Payment tokens (the card is tokenised in the browser, as with real payment providers), so no
# card number ever reaches the shop and the outcome does not depend on sanitised values.
PAYMENT_TOKENS: dict[str, str] = {
    "tok_visa": "approved",
    "tok_mastercard": "approved",
    "tok_declined": "declined",
    "tok_insufficient_funds": "declined",
}
