"""Mining finds the planted invariants and none of the planted non-invariants; thresholds hold."""

from __future__ import annotations

from typing import Any

import pytest

from trodden.assertions import ExchangeAssertion, JudgeContext, Observation, SequenceAssertion
from trodden.assertions.pointer import MISSING
from trodden.models.events import NetworkRequest, Session
from trodden.models.suite import Assertion
from trodden.synthesis.corpus import PLANTED_INVARIANTS, PLANTED_NON_INVARIANTS
from trodden.synthesis.mining import MiningOptions, build_miner, mine_assertions

CTX = JudgeContext()


def _obs(endpoint: str, status: int = 200, body: Any = None, duration_ms: float = 5.0) -> Observation:
    return Observation(
        method=endpoint.split(maxsplit=1)[0],
        url="http://t/",
        endpoint=endpoint,
        status=status,
        headers={},
        body=MISSING if body is None else body,
        duration_ms=duration_ms,
        is_json=body is not None,
    )


def problems(a: Assertion, status: int, body: Any, duration_ms: float = 5.0) -> list[str]:
    """What the shared semantics (`trodden.assertions`) say of one response of `a`'s endpoint."""
    assert isinstance(a, ExchangeAssertion)
    return [a.show(v) for v in a.judge(_obs(a.endpoint, status, body, duration_ms), CTX)]


def sequence_problems(a: Assertion, endpoints: list[str]) -> list[str]:
    assert isinstance(a, SequenceAssertion)
    recorded = {a.endpoint, a.other or ""}
    return [a.show(v) for v in a.judge_sequence([_obs(e) for e in endpoints], recorded, CTX)]


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
    assert status.kind == "status" and status.params.class_ == "2xx" and status.support > 100


def test_volatile_values_are_asserted_by_format_never_by_value(mined: list[Assertion]) -> None:
    volatile = {"/cart_id", "/order_id", "/updated_at", "/created_at", "/email", "/token", "/expires_at"}
    assert not [a for a in mined if a.kind in ("value_set", "range") and a.field in volatile]
    fmt = {(a.endpoint, a.field): a.params.format for a in mined if a.kind == "format"}
    assert fmt[("POST /api/cart", "/cart_id")] == "uuid"
    assert fmt[("GET /api/products/{id}", "/updated_at")] == "datetime"


def test_error_structure_is_mined_per_status(mined: list[Assertion]) -> None:
    shape = next(a for a in mined if a.kind == "error_shape" and a.endpoint == "POST /api/cart/{uuid}/coupon")
    assert shape.kind == "error_shape" and shape.condition == {"status": 409}
    assert shape.params.shape == {"/error": "object", "/error/code": "string", "/error/message": "string"}
    assert shape.params.values == {"/error/code": ["coupon_expired"]}
    changed = {"message": "expired"}
    assert problems(shape, 409, changed)
    assert not problems(shape, 409, {"error": {"code": "coupon_expired", "message": "x"}})


def test_mined_assertions_hold_on_the_sessions_they_came_from(
    shop_corpus: list[Session], mined: list[Assertion]
) -> None:
    """An unchanged application gives zero failures: every mined single-response assertion holds
    on every recorded response of its endpoint (confidence 1.0 ones), temporal rules on every session."""
    miner = build_miner(shop_corpus[:1])  # only for its templater
    by_endpoint: dict[str, list[ExchangeAssertion]] = {}
    for a in mined:
        if a.confidence == 1.0 and isinstance(a, ExchangeAssertion) and not a.about_timing:
            by_endpoint.setdefault(a.endpoint, []).append(a)
    temporal = [a for a in mined if isinstance(a, SequenceAssertion)]
    failures = []
    for s in shop_corpus[:300]:
        requests = [ev for ev in s.events if isinstance(ev, NetworkRequest)]
        observed = [Observation.recorded(ev, miner.endpoint_of(ev)) for ev in requests]
        observed = [o for o in observed if o.endpoint is not None]
        for o in observed:
            failures.extend(
                (s.session_id, a.description, a.show(v))
                for a in by_endpoint.get(o.endpoint or "", [])
                for v in a.judge(o, CTX)
            )
        recorded = {o.endpoint or "" for o in observed}
        failures.extend(
            (s.session_id, a.description, a.show(v))
            for a in temporal
            for v in a.judge_sequence(observed, recorded, CTX)
        )
    assert failures == []


def test_checks_catch_the_regressions_assertions_are_for(mined: list[Assertion]) -> None:
    def find(kind: str, endpoint: str, field: str | None = None) -> Assertion:
        return next(a for a in mined if (a.kind, a.endpoint, a.field) == (kind, endpoint, field))

    product = {"id": 3, "name": "P", "price": 9.5, "currency": "EUR", "updated_at": "2026-01-01T00:00:00Z"}
    assert problems(find("status", "GET /api/products/{id}"), 500, {})
    assert problems(find("not_null", "GET /api/products/{id}", "/price"), 200, {**product, "price": None})
    assert problems(
        find("present", "GET /api/products/{id}", "/price"), 200, {k: v for k, v in product.items() if k != "price"}
    )
    assert problems(find("type", "GET /api/products/{id}", "/price"), 200, {**product, "price": "9.5"})
    usd = {**product, "currency": "USD"}
    assert problems(find("value_set", "GET /api/products/{id}", "/currency"), 200, usd)
    assert problems(find("format", "GET /api/products/{id}", "/updated_at"), 200, {**product, "updated_at": "x"})
    latency = find("latency", "GET /api/products/{id}")
    assert latency.kind == "latency"
    assert problems(latency, 200, product, latency.params.max_ms * 2)
    follow = find("followed_by", "POST /api/checkout")
    assert sequence_problems(follow, ["POST /api/checkout", "GET /api/cart"])
    assert not sequence_problems(follow, ["POST /api/checkout", "GET /api/orders/{uuid}"])
    for a in (find("status", "GET /api/products/{id}"), find("type", "GET /api/products/{id}", "/price")):
        assert not problems(a, 200, product)


def test_thresholds_are_options(shop_corpus: list[Session]) -> None:
    strict = mine_assertions(shop_corpus[:200], MiningOptions(min_support=10_000))
    assert [a for a in strict if a.kind != "latency"] == []
    loose = {key(a) for a in mine_assertions(shop_corpus, MiningOptions(min_confidence=0.95))}
    assert ("status", "GET /api/search", None) in loose  # 97% 2xx is enough at 0.95
    few = {key(a) for a in mine_assertions(shop_corpus, MiningOptions(latency_min_support=10))}
    assert ("latency", "GET /api/rare", None) in few
