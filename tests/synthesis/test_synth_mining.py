"""Mining finds the planted invariants and none of the planted non-invariants; thresholds hold."""

from __future__ import annotations

from typing import Any

import pytest
from trodden.synthesis.corpus import PLANTED_INVARIANTS, PLANTED_NON_INVARIANTS
from trodden.synthesis.mining import MiningOptions, build_miner, mine_assertions
from trodden.synthesis.pytest_runtime import check_assertion, check_sequence

from trodden.models.events import Session
from trodden.models.suite import Assertion


def key(a: Assertion) -> tuple[str, str, str | None]:
    return (a.kind, a.endpoint, a.other if a.kind in ("followed_by", "preceded_by", "co_occurs") else a.field)


@pytest.fixture(scope="module")
def mined(shop_corpus: list[Session]) -> list[Assertion]:
    return mine_assertions(shop_corpus)


def test_every_planted_invariant_is_found(mined: list[Assertion]) -> None:
    keys = {key(a) for a in mined}
    missing = [p for p in PLANTED_INVARIANTS if p not in keys]
    assert missing == []


def test_no_planted_non_invariant_is_reported(mined: list[Assertion]) -> None:
    keys = {key(a) for a in mined}
    assert [p for p in PLANTED_NON_INVARIANTS if p in keys] == []


def test_assertions_carry_support_confidence_and_sessions(mined: list[Assertion]) -> None:
    assert all(a.support >= 3 and 0.99 <= a.confidence <= 1.0 and a.sessions and a.description for a in mined)
    assert len({a.id for a in mined}) == len(mined)
    status = next(a for a in mined if key(a) == ("status", "GET /api/products/{id}", None))
    assert status.params["class"] == "2xx" and status.support > 100


def test_volatile_values_are_asserted_by_format_never_by_value(mined: list[Assertion]) -> None:
    volatile = {"/cart_id", "/order_id", "/updated_at", "/created_at", "/email", "/token", "/expires_at"}
    assert not [a for a in mined if a.kind in ("value_set", "range") and a.field in volatile]
    fmt = {(a.endpoint, a.field): a.params["format"] for a in mined if a.kind == "format"}
    assert fmt[("POST /api/cart", "/cart_id")] == "uuid"
    assert fmt[("GET /api/products/{id}", "/updated_at")] == "datetime"


def test_error_structure_is_mined_per_status(mined: list[Assertion]) -> None:
    shape = next(a for a in mined if a.kind == "error_shape" and a.endpoint == "POST /api/cart/{uuid}/coupon")
    assert shape.condition == {"status": 409}
    assert shape.params["shape"] == {"/error": "object", "/error/code": "string", "/error/message": "string"}
    assert shape.params["values"] == {"/error/code": ["coupon_expired"]}
    changed = {"message": "expired"}
    assert check_assertion(shape.model_dump(), 409, changed) is not None
    assert check_assertion(shape.model_dump(), 409, {"error": {"code": "coupon_expired", "message": "x"}}) is None


def test_mined_assertions_hold_on_the_sessions_they_came_from(
    shop_corpus: list[Session], mined: list[Assertion]
) -> None:
    """An unchanged application gives zero failures: every mined single-response assertion holds
    on every recorded response of its endpoint (confidence 1.0 ones), temporal rules on every session."""
    miner = build_miner(shop_corpus[:1])  # only for its templater
    by_endpoint: dict[str, list[dict[str, Any]]] = {}
    for a in mined:
        if a.confidence == 1.0 and a.kind not in ("latency", "followed_by", "preceded_by", "co_occurs"):
            by_endpoint.setdefault(a.endpoint, []).append(a.model_dump())
    temporal = [a.model_dump() for a in mined if a.kind in ("followed_by", "preceded_by", "co_occurs")]
    failures = []
    for s in shop_corpus[:300]:
        endpoints = []
        for ev in s.events:
            if ev.kind != "request":
                continue
            endpoint = miner.endpoint_of(ev)  # type: ignore[arg-type]
            if endpoint is None:
                continue
            endpoints.append(endpoint)
            for a in by_endpoint.get(endpoint, []):
                problem = check_assertion(a, ev.status, ev.response_body, ev.duration_ms)  # type: ignore[union-attr]
                if problem:
                    failures.append((s.session_id, a["description"], problem))
        failures.extend((s.session_id, a["description"], p) for a in temporal if (p := check_sequence(a, endpoints)))
    assert failures == []


def test_checks_catch_the_regressions_assertions_are_for(mined: list[Assertion]) -> None:
    def find(kind: str, endpoint: str, field: str | None = None) -> dict[str, Any]:
        return next(a.model_dump() for a in mined if (a.kind, a.endpoint, a.field) == (kind, endpoint, field))

    product = {"id": 3, "name": "P", "price": 9.5, "currency": "EUR", "updated_at": "2026-01-01T00:00:00Z"}
    assert check_assertion(find("status", "GET /api/products/{id}"), 500, {}) is not None
    assert check_assertion(find("not_null", "GET /api/products/{id}", "/price"), 200, {**product, "price": None})
    assert check_assertion(find("present", "GET /api/products/{id}", "/price"), 200,
                           {k: v for k, v in product.items() if k != "price"})  # fmt: skip
    assert check_assertion(find("type", "GET /api/products/{id}", "/price"), 200, {**product, "price": "9.5"})
    usd = {**product, "currency": "USD"}
    assert check_assertion(find("value_set", "GET /api/products/{id}", "/currency"), 200, usd)
    assert check_assertion(find("format", "GET /api/products/{id}", "/updated_at"), 200, {**product, "updated_at": "x"})
    latency = find("latency", "GET /api/products/{id}")
    assert check_assertion(latency, 200, product, latency["params"]["max_ms"] * 2) is not None
    follow = find("followed_by", "POST /api/checkout")
    assert check_sequence(follow, ["POST /api/checkout"]) is not None
    assert check_sequence(follow, ["POST /api/checkout", "GET /api/orders/{uuid}"]) is None
    for a in (find("status", "GET /api/products/{id}"), find("type", "GET /api/products/{id}", "/price")):
        assert check_assertion(a, 200, product) is None


def test_thresholds_are_options(shop_corpus: list[Session]) -> None:
    strict = mine_assertions(shop_corpus[:200], MiningOptions(min_support=10_000))
    assert [a for a in strict if a.kind != "latency"] == []
    loose = {key(a) for a in mine_assertions(shop_corpus, MiningOptions(min_confidence=0.95))}
    assert ("status", "GET /api/search", None) in loose  # 97% 2xx is enough at 0.95
    few = {key(a) for a in mine_assertions(shop_corpus, MiningOptions(latency_min_support=10))}
    assert ("latency", "GET /api/rare", None) in few
