"""The simulated population: planning (pure) and real runs against the shop over loopback."""

from __future__ import annotations

from collections import Counter

import aiohttp
from demo_helpers import serve
from hypothesis import given
from hypothesis import strategies as st

from trodden.models.events import EVENT_ADAPTER, BeaconBatch
from trodden.shop import create_app
from trodden.shop.traffic.apiclient import API_JOURNEYS, run_api_session
from trodden.shop.traffic.browser import BROWSER_JOURNEYS
from trodden.shop.traffic.population import JOURNEYS, allocate, plan_population
from trodden.shop.traffic.run import TrafficConfig, run_traffic


@given(st.integers(0, 500), st.dictionaries(st.text(min_size=1, max_size=4), st.floats(0.1, 50), min_size=1))
def test_allocation_sums_and_keeps_the_long_tail(total: int, weights: dict[str, float]) -> None:
    counts = allocate(total, weights)
    assert sum(counts.values()) == total
    if total >= len(weights):
        assert min(counts.values()) >= 1


def test_population_is_seeded_weighted_and_complete() -> None:
    plans = plan_population(100, 20, seed=3)
    assert plans == plan_population(100, 20, seed=3)
    assert plans != plan_population(100, 20, seed=4)
    api = Counter(p.journey for p in plans if p.client == "api")
    assert set(api) == {j.name for j in JOURNEYS if "api" in j.clients} == set(API_JOURNEYS)
    assert set(BROWSER_JOURNEYS) == {j.name for j in JOURNEYS if "browser" in j.clients}
    assert api["browse"] > api["eu_bulk_percent"] > api["fraud_review"]
    assert all(p.region == "EU" for p in plans if p.journey == "eu_bulk_percent")
    assert len({p.index for p in plans}) == len(plans)  # each session its own gift card / e-mail


async def test_api_session_is_a_valid_beacon_batch() -> None:
    plan = next(p for p in plan_population(40, 0, seed=1) if p.journey == "member_checkout")
    runner, url = await serve(create_app())  # its own shop: other tests spend gift cards
    try:
        async with aiohttp.ClientSession() as http:
            user = await run_api_session(http, url, plan, "app-test-1")
    finally:
        await runner.cleanup()
    batch = BeaconBatch.model_validate(user.rec.batch())
    events = [EVENT_ADAPTER.validate_python(e) for e in batch.events]
    requests = [e for e in events if e.kind == "request"]
    assert [e.seq for e in events] == list(range(len(events)))
    assert requests[0].method == "POST" and requests[0].request_url.endswith("/api/sessions")
    # the session token a later request sends is the one the first response produced (correlation)
    token = requests[0].response_body["session"]["token"]
    assert all(r.request_headers.get("X-Session-Token") == token for r in requests[1:])
    assert any(r.request_url.endswith("/api/checkout") and r.status == 201 for r in requests)
    assert {e.name for e in events if e.kind == "custom"} >= {"add_to_cart", "order_placed"}


async def test_population_run_is_varied(shop_urls: dict[str, str]) -> None:
    report = await run_traffic(
        TrafficConfig(shop_urls["v1"], api_sessions=30, browser_sessions=2, duration_s=120, seed=5)
    )
    summary = report.summary()
    assert summary["failed"] == 0, summary["errors"]
    assert summary["sessions"] == 32 and summary["by_client"] == {"api": 30, "browser": 2}
    assert len(summary["by_journey"]) >= 12 and len(summary["by_region"]) >= 2
    # mistakes and plausible errors happen, not only happy paths
    assert {"401", "402", "404", "409", "422"} <= set(summary["statuses"])
