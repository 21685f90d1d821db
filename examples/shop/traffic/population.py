"""Who the simulated users are and what they do: a seeded, weighted population of journeys.

Pure planning, no I/O: `plan_population(...)` returns one `SessionPlan` per simulated session.
Counts per journey follow the weights (largest remainder), every journey appears at least once
when there is room (the long tail is present even in a small run), and the order is shuffled.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

Client = Literal["api", "browser"]


@dataclass(frozen=True)
class Journey:
    name: str
    weight: float
    clients: tuple[Client, ...]
    description: str


# Weights are relative within each client kind. The EU bulk + percent-code combination is common on
# purpose: mining and selection need it in several sessions to learn that it works.
JOURNEYS: tuple[Journey, ...] = (
    Journey("browse", 20, ("api", "browser"), "list, search and filter the catalogue, look at a few products"),
    Journey("guest_checkout", 16, ("api", "browser"), "add one or two products and check out as a guest"),
    Journey("eu_bulk_percent", 12, ("api", "browser"), "an EU shopper with 3+ units applies SPRING and checks out"),
    Journey(
        "discount_checkout",
        10,
        ("api", "browser"),
        "apply a code (percent, fixed, free shipping, buy-2-get-1) and check out",
    ),
    Journey(
        "member_checkout", 9, ("api",), "register, pay with a gift card plus a card (split payment), read order history"
    ),
    Journey(
        "returning_mistype", 7, ("api",), "register, log out, mistype the password (401), retry, read order history"
    ),
    Journey("out_of_stock", 7, ("api", "browser"), "try an out-of-stock product, then buy an alternative"),
    Journey(
        "declined_retry", 6, ("api", "browser"), "the card is declined (402), the shopper retries with another card"
    ),
    Journey("wishlist", 5, ("browser",), "save products to the wishlist and look at it"),
    Journey("code_mistakes", 4, ("api",), "expired, unknown and non-stackable codes, then free shipping"),
    Journey("cart_edit", 3, ("api",), "change quantities, remove a line, switch region"),
    Journey("gift_card_only", 2, ("api",), "check a gift card's balance and pay a small order with it alone"),
    Journey("fraud_review", 2, ("api",), "a large order shipped to another country than billed lands in review"),
    Journey("bad_input", 1, ("api",), "a buggy client: bad quantity, unknown product, malformed body"),
)
JOURNEYS_BY_NAME: dict[str, Journey] = {j.name: j for j in JOURNEYS}
REGION_WEIGHTS: dict[str, float] = {"EU": 0.5, "US": 0.3, "UK": 0.2}
COUNTRY_OF_REGION: dict[str, tuple[str, ...]] = {"EU": ("DE", "FR", "NL", "ES", "IT"), "UK": ("GB",), "US": ("US",)}


@dataclass(frozen=True)
class SessionPlan:
    index: int  # unique in the run; picks the session's own gift card and e-mail address
    client: Client
    journey: str
    region: str
    seed: int  # the journey's own randomness (products, quantities, typos)


def allocate(total: int, weights: dict[str, float]) -> dict[str, int]:
    """Split `total` by weight (largest remainder), at least one each when total allows."""
    names = list(weights)
    if total <= 0 or not names:
        return dict.fromkeys(names, 0)
    floor_each = 1 if total >= len(names) else 0
    rest = total - floor_each * len(names)
    wsum = sum(weights.values())
    exact = {n: rest * weights[n] / wsum for n in names}
    counts = {n: floor_each + int(exact[n]) for n in names}
    left = total - sum(counts.values())
    for n in sorted(names, key=lambda n: (-(exact[n] - int(exact[n])), names.index(n)))[:left]:
        counts[n] += 1
    return counts


def plan_population(api_sessions: int, browser_sessions: int, seed: int = 7) -> list[SessionPlan]:
    rng = random.Random(seed)
    plans: list[SessionPlan] = []
    for client, total in (("api", api_sessions), ("browser", browser_sessions)):
        weights = {j.name: j.weight for j in JOURNEYS if client in j.clients}
        for name, count in allocate(total, weights).items():
            for _ in range(count):
                region = (
                    "EU"
                    if name == "eu_bulk_percent"
                    else rng.choices(list(REGION_WEIGHTS), weights=list(REGION_WEIGHTS.values()))[0]
                )
                plans.append(SessionPlan(0, client, name, region, rng.randrange(2**31)))  # type: ignore[arg-type]
    rng.shuffle(plans)
    return [SessionPlan(i, p.client, p.journey, p.region, p.seed) for i, p in enumerate(plans)]
