"""Replay summary in → instrumentation config out. Pure functions.

What a replay learns changes what the tag captures next:
- a regressed flow is sampled at 100% for a while, so the next suite revision sees more of it;
- a flaky flow (timing, unstable selector) too, so there are enough sessions to tell noise apart;
- a flow whose replay depended on state the capture lacked gets more capture detail (bodies,
  headers, storage keys);
- routes seen in backend traces that no browser session covered are listed, so the tag boosts them.
The RumSource's own spec gives the base values; `instrumentation_from_spec` keeps the feedback
already written when the spec changes, and `apply_feedback` keeps the spec's base values.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from trodden.models.instrumentation import CaptureDetail, InstrumentationConfig, Sampling, SamplingBoost
from trodden.operator.specs import InstrumentationSpec
from trodden.replay.results import RunSummary

BOOST_TTL = timedelta(days=7)
STATE_CAUSES = ("missing_state", "state", "capture")  # a flaky cause meaning "capture lacked state"


def instrumentation_from_spec(
    spec: InstrumentationSpec, previous: InstrumentationConfig | None
) -> InstrumentationConfig:
    """The spec's base values with the feedback of `previous` kept (boosts, detail, uncovered routes)."""
    prev = previous or InstrumentationConfig()
    config = InstrumentationConfig(
        generation=prev.generation,
        sampling=Sampling(rate=spec.sampling_rate, boosts=prev.sampling.boosts),
        capture=prev.capture.model_copy(
            update={"bodies": spec.bodies, "max_body_bytes": spec.max_body_bytes, "detail": prev.capture.detail}
        ),
        uncovered_routes=prev.uncovered_routes,
        flush_interval_ms=spec.flush_interval_ms,
    )
    if config != prev:
        config = config.model_copy(update={"generation": prev.generation + 1})
    return config


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _iso(t: datetime) -> str:
    return t.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def apply_feedback(
    previous: InstrumentationConfig,
    summary: RunSummary,
    uncovered: list[str],
    now: datetime,
) -> InstrumentationConfig:
    """Fold one replay's summary into the config. Expired boosts are dropped; the strongest boost per
    route wins; `generation` is bumped only when something changed, so tags can tell configs apart."""
    until = _iso(now + BOOST_TTL)
    boosts: dict[str, SamplingBoost] = {}
    for b in previous.sampling.boosts:
        expires = _parse_time(b.until)
        if expires is None or expires > now:
            boosts[b.route] = b

    def boost(route: str, reason: str) -> None:
        old = boosts.get(route)
        if old is not None and old.reason == "manual":
            return  # a person set this one; feedback does not override it
        boosts[route] = SamplingBoost(route=route, rate=1.0, reason=reason, until=until)  # type: ignore[arg-type]

    for reg in summary.regressions:
        if reg.endpoint:
            boost(reg.endpoint, "regressed")
    details = {d.route: d for d in previous.capture.detail}
    for flaky in summary.flaky:
        cause = flaky.cause.lower()
        for route in flaky.endpoints:
            if any(cause.startswith(c) for c in STATE_CAUSES):
                details[route] = CaptureDetail(route=route, storage=True, reason=f"replay depended on state: {cause}")
            boost(route, "flaky")
    for route in uncovered:
        if route not in boosts:
            boost(route, "uncovered")

    config = previous.model_copy(
        update={
            "sampling": previous.sampling.model_copy(update={"boosts": sorted(boosts.values(), key=lambda b: b.route)}),
            "capture": previous.capture.model_copy(update={"detail": sorted(details.values(), key=lambda d: d.route)}),
            "uncovered_routes": sorted(set(uncovered)),
        }
    )
    if config.model_dump(exclude={"generation"}) != previous.model_dump(exclude={"generation"}):
        config = config.model_copy(update={"generation": previous.generation + 1})
    return config
