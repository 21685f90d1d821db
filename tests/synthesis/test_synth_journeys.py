"""Journeys: which events are steps, templated step text, repeats collapsed, stable signatures."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from trodden.models.events import Session
from trodden.synthesis.journeys import build_journeys, journey_signature
from trodden.synthesis.steps import RawStep, raw_steps


def _session(events: list[dict[str, object]]) -> Session:
    return Session.model_validate(
        {
            "source": "t",
            "session_id": "s1",
            "events": [{"session_id": "s1", "seq": i, "ts": 1000.0 + i, **e} for i, e in enumerate(events)],
        }
    )


def test_static_assets_beacons_and_telemetry_are_not_steps() -> None:
    s = _session(
        [
            {"kind": "page_view", "url": "https://shop.test/products/12"},
            {
                "kind": "request",
                "method": "GET",
                "request_url": "https://shop.test/static/app.js",
                "status": 200,
                "duration_ms": 3,
            },
            {
                "kind": "request",
                "method": "POST",
                "request_url": "https://collector.test/v1/rum?key=k1",
                "status": 204,
                "duration_ms": 3,
            },
            {
                "kind": "request",
                "method": "GET",
                "request_url": "https://shop.test/api/products/12?x=1",
                "status": 200,
                "duration_ms": 30,
            },
            {"kind": "vital", "name": "LCP", "value": 1200},
            {"kind": "click", "target": {"test_id": "add", "role": "button", "name": "Add"}},
            {"kind": "custom", "name": "add_to_cart_failed"},
            {"kind": "error", "error_type": "uncaught", "message": "boom"},
        ]
    )
    steps = raw_steps(s.events)
    assert [st[:3] for st in steps] == [
        ("page", "view", "/products/12"),
        ("http", "GET", "/api/products/12"),
        ("ui", "click", "test_id=add"),
        ("event", "custom", "add_to_cart_failed"),
        ("error", "uncaught", ""),
    ]
    j = build_journeys([("s1", steps)])
    assert j.journey_texts(0) == [
        "page /products/{id}",
        "GET /api/products/{id} 2xx",
        "click test_id=add",
        "event add_to_cart_failed",
        "error uncaught",
    ]


def _http(path: str, status: int = 200) -> RawStep:
    return ("http", "GET", path, status, 10.0)


def test_equal_journeys_share_a_signature_and_repeats_collapse() -> None:
    j = build_journeys(
        [
            ("a", [_http("/orders/1"), _http("/orders/2/items")]),
            ("b", [_http("/orders/7"), _http("/orders/7"), _http("/orders/9/items")]),  # a double fetch
            ("c", [_http("/orders/7"), _http("/orders/9/items", 500)]),
        ]
    )
    assert j.session_journey.tolist() == [0, 0, 1]
    assert j.journey_counts.tolist() == [2, 1]
    assert j.journey_signatures[0] == journey_signature(["GET /orders/{id} 2xx", "GET /orders/{id}/items 2xx"])
    assert len(j.step_ids) == 7  # occurrences are all kept (durations, statuses) even when collapsed


def test_sessions_without_steps_are_kept_as_an_empty_journey() -> None:
    j = build_journeys([("a", []), ("b", [_http("/x")]), ("c", [])])
    assert j.session_journey.tolist() == [0, 1, 0]


journey = st.lists(
    st.sampled_from(
        [
            _http("/api/cart"),
            _http("/api/orders/17"),
            _http("/api/orders/99"),
            _http("/api/checkout", 500),
            ("page", "view", "/products/3", 0, 0.0),
            ("ui", "click", "test_id=pay", 0, 0.0),
            ("event", "custom", "coupon_failed", 0, 0.0),
        ]
    ),
    min_size=0,
    max_size=12,
)


@settings(max_examples=80, deadline=None)
@given(st.lists(journey, min_size=1, max_size=25), st.randoms(use_true_random=False))
def test_signatures_are_stable_under_reordering_of_sessions(journeys: list[list[RawStep]], rnd: object) -> None:
    sessions = [(f"s{i}", steps) for i, steps in enumerate(journeys)]
    shuffled = list(sessions)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    a, b = build_journeys(sessions), build_journeys(shuffled)
    sig_a = {a.session_ids[s]: a.journey_signatures[j] for s, j in enumerate(a.session_journey.tolist())}
    sig_b = {b.session_ids[s]: b.journey_signatures[j] for s, j in enumerate(b.session_journey.tolist())}
    assert sig_a == sig_b
    # equal step sequences ⇔ equal signatures
    for i, x in enumerate(journeys):
        for k, y in enumerate(journeys):
            same = [s[:4] for s in x] == [s[:4] for s in y]
            if same:
                assert sig_a[f"s{i}"] == sig_a[f"s{k}"]
