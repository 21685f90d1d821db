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
    # Words that must appear in a finding's field, assertion, expected or actual value (e.g. the test id
    # of a changed element, or the other endpoint of an ordering rule).
    evidence: tuple[str, ...] = field(default_factory=tuple)
    # Assertion kinds of a replay finding that can be about this regression (empty: any kind).
    kinds: tuple[str, ...] = field(default_factory=tuple)
    also_at: tuple[str, ...] = field(default_factory=tuple)  # other endpoints where it shows
    exercised_by: str = ""  # which simulated users exercise the path in v1

    def matches(self, finding: Mapping[str, Any]) -> bool:
        """Is a replay report's regression entry (docs/replay.md) about this planted regression?"""
        assertion = finding.get("assertion") or {}
        if self.kinds and assertion.get("kind") not in self.kinds:
            return False
        evidence = " ".join(
            str(v)
            for v in (
                finding.get("field"),
                finding.get("expected"),
                finding.get("actual"),
                assertion.get("id"),
                assertion.get("description"),
            )
        ).lower()
        if not all(word.lower() in evidence for word in self.evidence):
            return False
        if self.endpoint.startswith("PAGE "):
            return True
        endpoint = finding.get("endpoint")
        return isinstance(endpoint, str) and any(
            _endpoint_matches(endpoint, *e.split(" ", 1)) for e in (self.endpoint, *self.also_at)
        )


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
        also_at=("POST /api/checkout",),
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
        kinds=("error_shape", "present", "not_null", "type", "value_set", "diff"),
        exercised_by="shoppers who try an out-of-stock product (SHOE-004, SHIRT-004)",
    ),
    PlantedRegression(
        id="login-wrong-password-403",
        kind="status",
        description="A wrong password answers 403 instead of 401.",
        endpoint="POST /api/auth/login",
        detect_by=("status", "expectation"),
        kinds=("status", "diff"),
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
        kinds=("preceded_by", "followed_by", "co_occurs"),
        exercised_by="browser shoppers who check out",
    ),
    PlantedRegression(
        id="search-slow",
        kind="latency",
        description="Product search/listing became 300 ms slower.",
        endpoint="GET /api/products",
        detect_by=("latency",),
        kinds=("latency",),
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


def _endpoint_matches(endpoint: str, method: str, route: str) -> bool:
    """ "GET /api/orders/{uuid}" (a learned template) or a concrete path against "GET /api/orders/{id}".
    A page of a single-page app that routes by the fragment (`PAGE /admin/#/posts/{id}`) is also on
    the page its document was loaded from (`PAGE /admin/`)."""
    m, _, path = endpoint.strip().partition(" ")
    pattern = "^" + r"[^/\s]+".join(re.escape(p) for p in re.split(r"\{[^}]*\}", route)) + "$"
    path = path.split("?", 1)[0]
    return m.upper() == method and any(re.match(pattern, p) is not None for p in {path, path.split("#", 1)[0]})
