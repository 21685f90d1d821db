"""`latency`: every response of the endpoint arrives within a bound mined from production timings."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import AliasChoices, Field, model_validator

from trodden.assertions.base import ExchangeAssertion, Params
from trodden.assertions.observation import JudgeContext, Observation, Violation


class LatencyParams(Params):
    max_ms: float = Field(validation_alias=AliasChoices("max_ms", "ms"))  # the bound
    # how the miner got it: max(quantile * margin, quantile + floor), the quantile at `percentile`
    percentile: float | None = None
    quantile_ms: float | None = None
    p99_ms: float | None = None  # older suites: the p99 (the bound when `max_ms` is absent)
    margin: float | None = None
    floor_ms: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _bound_from_p99(cls, data: Any) -> Any:
        if isinstance(data, dict) and "max_ms" not in data and "ms" not in data and "p99_ms" in data:
            return {**data, "max_ms": data["p99_ms"]}
        return data


class LatencyAssertion(ExchangeAssertion):
    """Fails when the duration exceeds `max_ms * latency_factor + slack` (the browser's wider
    slack when Chromium timed it). Replay then settles latency over the whole run."""

    kind: Literal["latency"] = "latency"
    params: LatencyParams

    about_timing: ClassVar[bool] = True

    def check(self, obs: Observation, ctx: JudgeContext) -> list[Violation]:
        limit = self.params.max_ms
        slack = ctx.browser_latency_slack_ms if obs.in_browser else ctx.latency_slack_ms
        if obs.duration_ms <= limit * ctx.latency_factor + slack:
            return []
        return [Violation(obs, f"≤ {limit:.0f} ms", f"{obs.duration_ms:.0f} ms", "latency")]

    def show(self, violation: Violation) -> str:
        return f"took {violation.actual}, expected {violation.expected}"
