"""The planted regressions of shop version 2: the ONE list that the shop, its tests, `trodden demo`
and `bench/detection.py` read.

Each entry says what changed, where (the endpoint as "METHOD /route/{param}", or the page for UI
changes), which kinds of oracle should catch it, and how to recognise a replay finding that is
about it (`matches`). The shop enables a regression with `ShopVersion.has(id)`; version 2 enables
all of them, and `--regressions a,b` enables a chosen subset (for focused tests and benches).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PlantedRegression:
    id: str
    kind: str  # what sort of change: logic, null_field, error_shape, status, ordering, latency, ui
    description: str
    endpoint: str  # "METHOD /route/{param}" or "PAGE /route" for UI changes
    detect_by: tuple[str, ...]  # oracle kinds expected to catch it (recorded expectation or mined assertion kinds)
    # Words that identify a finding about this regression beyond its endpoint (e.g. the test id of a
    # changed element, or the other endpoint of an ordering rule); all of them must appear.
    evidence: tuple[str, ...] = field(default_factory=tuple)
    exercised_by: str = ""  # which simulated users exercise the path in v1

    def matches(self, finding: Mapping[str, Any]) -> bool:
        """Is a replay report's regression entry about this planted regression?"""
        text = _flatten(finding)
        if self.endpoint.startswith("PAGE "):
            return all(word.lower() in text for word in self.evidence)
        method, route = self.endpoint.split(" ", 1)
        route_re = _route_regex(route)
        endpoints = [str(v) for v in _values_named(finding, ("endpoint", "other", "network"))]
        hit = any(_endpoint_matches(e, method, route_re) for e in endpoints) or bool(
            re.search(rf"\b{method}\s+{route_re.pattern.strip('^$')}(?![\w/{{-])", finding_text_raw(finding))
        )
        return hit and all(word.lower() in text for word in self.evidence)


PLANTED: tuple[PlantedRegression, ...] = (
    PlantedRegression(
        id="discount-eu-bulk-percent",
        kind="logic",
        description=(
            "A percent-off code is refused (422 code_not_applicable) when the cart holds 3 or more "
            "units and the shopper's region is EU; every other combination still works."
        ),
        endpoint="POST /api/cart/codes",
        detect_by=("status", "expectation"),
        exercised_by="EU shoppers applying SPRING to a cart of 3+ units (api and browser)",
    ),
    PlantedRegression(
        id="order-delivery-null",
        kind="null_field",
        description="An order's estimated_delivery became null.",
        endpoint="GET /api/orders/{id}",
        detect_by=("not_null", "type", "format", "expectation"),
        evidence=("estimated_delivery",),
        exercised_by="every checkout: the confirmation page and API clients read the order",
    ),
    PlantedRegression(
        id="out-of-stock-error-shape",
        kind="error_shape",
        description=(
            'Adding an out-of-stock product answers {"message", "error_code"} instead of '
            '{"error": {"code", "message", "sku"}} (same 409 status).'
        ),
        endpoint="POST /api/cart/items",
        detect_by=("error_shape", "present", "expectation"),
        evidence=("error",),
        exercised_by="shoppers who try an out-of-stock product (SHOE-004, SHIRT-004)",
    ),
    PlantedRegression(
        id="login-wrong-password-403",
        kind="status",
        description="A wrong password answers 403 instead of 401.",
        endpoint="POST /api/auth/login",
        detect_by=("status", "expectation"),
        exercised_by="returning customers who mistype their password, then retry",
    ),
    PlantedRegression(
        id="checkout-skips-quote",
        kind="ordering",
        description=(
            "The checkout page places the order without asking for a quote first: "
            "POST /api/checkout is no longer preceded by POST /api/checkout/quote."
        ),
        endpoint="POST /api/checkout",
        detect_by=("preceded_by", "followed_by"),
        evidence=("quote",),
        exercised_by="browser shoppers who check out",
    ),
    PlantedRegression(
        id="search-slow",
        kind="latency",
        description="Product search/listing became 300 ms slower.",
        endpoint="GET /api/products",
        detect_by=("latency",),
        exercised_by="everyone: the catalogue page and API clients list and search products",
    ),
    PlantedRegression(
        id="wishlist-button-renamed",
        kind="ui",
        description=(
            'The product page\'s "Add to wishlist" button (data-testid add-to-wishlist) became a '
            '"Save for later" link (data-testid save-for-later) in another place.'
        ),
        endpoint="PAGE /products/{sku}",
        detect_by=("browser",),
        evidence=("wishlist",),
        exercised_by="browser shoppers who add to the wishlist",
    ),
)
PLANTED_BY_ID: dict[str, PlantedRegression] = {r.id: r for r in PLANTED}
SEARCH_DELAY_S = 0.3


@dataclass(frozen=True)
class ShopVersion:
    """Which behaviour a running shop has: version 1, or version 2 with (some) planted regressions."""

    number: int = 1
    regressions: frozenset[str] = frozenset()

    @classmethod
    def of(cls, number: int, only: Iterable[str] | None = None) -> ShopVersion:
        if number not in (1, 2):
            raise ValueError(f"shop version must be 1 or 2, not {number}")
        if number == 1:
            return cls(1, frozenset())
        chosen = frozenset(only) if only is not None else frozenset(PLANTED_BY_ID)
        unknown = chosen - set(PLANTED_BY_ID)
        if unknown:
            raise ValueError(f"unknown regression ids: {', '.join(sorted(unknown))}")
        return cls(2, chosen)

    def has(self, regression_id: str) -> bool:
        assert regression_id in PLANTED_BY_ID, regression_id
        return regression_id in self.regressions


def caught_by(findings: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """Group a replay report's regression entries by the planted regression they are about."""
    found: dict[str, list[Mapping[str, Any]]] = {r.id: [] for r in PLANTED}
    for finding in findings:
        for planted in PLANTED:
            if planted.matches(finding):
                found[planted.id].append(finding)
    return found


def _route_regex(route: str) -> re.Pattern[str]:
    parts = re.split(r"\{[^}]*\}", route)
    return re.compile("^" + r"[^/\s]+".join(re.escape(p) for p in parts) + "$")


def _endpoint_matches(endpoint: str, method: str, route_re: re.Pattern[str]) -> bool:
    m, _, path = endpoint.strip().partition(" ")
    path = path.split("?", 1)[0]
    return m.upper() == method and bool(route_re.match(path))


def _values_named(value: Any, names: tuple[str, ...]) -> list[Any]:
    out: list[Any] = []
    if isinstance(value, Mapping):
        for k, v in value.items():
            if k in names and isinstance(v, (str, list)):
                out.extend(v if isinstance(v, list) else [v])
            out.extend(_values_named(v, names))
    elif isinstance(value, list):
        for v in value:
            out.extend(_values_named(v, names))
    return out


def finding_text_raw(value: Any) -> str:
    if isinstance(value, Mapping):
        return " ".join(f"{k} {finding_text_raw(v)}" for k, v in value.items())
    if isinstance(value, list):
        return " ".join(finding_text_raw(v) for v in value)
    return str(value)


def _flatten(value: Any) -> str:
    return finding_text_raw(value).lower()
