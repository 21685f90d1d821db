from __future__ import annotations

from datetime import UTC, datetime, timedelta

from trodden.models.instrumentation import InstrumentationConfig, Sampling, SamplingBoost
from trodden.operator import feedback
from trodden.operator.specs import InstrumentationSpec
from trodden.replay.results import FlakySummary, RegressionSummary, RunSummary

NOW = datetime(2025, 1, 1, tzinfo=UTC)
NOTHING = RunSummary(run_name="r")


def test_flaky_flow_raises_its_sampling_and_bumps_the_generation() -> None:
    base = InstrumentationConfig(sampling=Sampling(rate=0.1))
    summary = RunSummary(
        run_name="r", flaky=[FlakySummary(test="t1", endpoints=["POST /cart/{id}/items"], cause="timing")]
    )
    out = feedback.apply_feedback(base, summary, [], NOW)
    assert out.generation == base.generation + 1
    [boost] = out.sampling.boosts
    assert boost.route == "POST /cart/{id}/items" and boost.rate == 1.0 and boost.reason == "flaky"
    assert boost.until == "2025-01-08T00:00:00Z"
    assert out.sampling.rate == 0.1  # the base rate is the spec's, not feedback's


def test_regressions_state_dependence_and_uncovered_routes() -> None:
    summary = RunSummary(
        run_name="r",
        regressions=[RegressionSummary(test="t2", endpoint="GET /orders/{id}", expected="200", actual="500")],
        flaky=[FlakySummary(test="t3", endpoints=["POST /checkout"], cause="missing_state")],
    )
    out = feedback.apply_feedback(InstrumentationConfig(), summary, ["DELETE /cart/{id}"], NOW)
    reasons = {b.route: b.reason for b in out.sampling.boosts}
    assert reasons == {"GET /orders/{id}": "regressed", "POST /checkout": "flaky", "DELETE /cart/{id}": "uncovered"}
    [detail] = out.capture.detail
    assert detail.route == "POST /checkout" and detail.storage
    assert out.uncovered_routes == ["DELETE /cart/{id}"]


def test_nothing_learned_changes_nothing() -> None:
    base = InstrumentationConfig(generation=5)
    assert feedback.apply_feedback(base, NOTHING, [], NOW) == base


def test_expired_boosts_lapse_and_manual_ones_stay() -> None:
    base = InstrumentationConfig(
        sampling=Sampling(
            boosts=[
                SamplingBoost(route="GET /old", rate=1, reason="flaky", until="2024-12-01T00:00:00Z"),
                SamplingBoost(route="GET /mine", rate=0.5, reason="manual"),
            ]
        )
    )
    mine = RunSummary(run_name="r", regressions=[RegressionSummary(test="x", endpoint="GET /mine")])
    out = feedback.apply_feedback(base, mine, [], NOW)
    assert {b.route: (b.reason, b.rate) for b in out.sampling.boosts} == {"GET /mine": ("manual", 0.5)}
    later = feedback.apply_feedback(out, NOTHING, [], NOW + timedelta(days=1))
    assert later == out


def test_spec_changes_keep_feedback() -> None:
    flaky = RunSummary(run_name="r", flaky=[FlakySummary(test="t", endpoints=["GET /a"])])
    learned = feedback.apply_feedback(InstrumentationConfig(), flaky, [], NOW)
    out = feedback.instrumentation_from_spec(InstrumentationSpec(sampling_rate=0.25, bodies="none"), learned)
    assert out.sampling.rate == 0.25 and out.capture.bodies == "none"
    assert out.sampling.boosts == learned.sampling.boosts
    assert out.generation == learned.generation + 1
    again = feedback.instrumentation_from_spec(InstrumentationSpec(sampling_rate=0.25, bodies="none"), out)
    assert again == out  # idempotent: reconciling twice changes nothing
