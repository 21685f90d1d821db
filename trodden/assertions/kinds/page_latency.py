"""`page_latency`: pages of a template load (`timing: load`, the document's load event) or settle
after an SPA route change (`timing: settle`) within a bound mined from production timings."""

from __future__ import annotations

from typing import ClassVar, Literal

from trodden.assertions.base import ExchangeAssertion, Params
from trodden.assertions.observation import JudgeContext, Observation, Violation
from trodden.assertions.page import arrived, loaded_document


class PageLatencyParams(Params):
    timing: Literal["load", "settle"]
    max_ms: float
    # how the miner got it: max(quantile * margin, quantile + floor), the quantile at `percentile`
    percentile: float | None = None
    quantile_ms: float | None = None
    margin: float | None = None
    floor_ms: float | None = None


class PageLatencyAssertion(ExchangeAssertion):
    """Fails when the page took longer than `max_ms * latency_factor + browser slack`: a browser
    times it, so only gross slowdowns count."""

    kind: Literal["page_latency"] = "page_latency"
    params: PageLatencyParams

    on_pages: ClassVar[bool] = True

    about_timing: ClassVar[bool] = True

    def check(self, obs: Observation, ctx: JudgeContext) -> list[Violation]:
        document = loaded_document(obs)
        if (self.params.timing == "load") != document or not arrived(obs) or obs.duration_ms <= 0:
            return []
        if obs.status >= 400:  # an error page's speed is not the page's
            return []
        limit = self.params.max_ms
        if obs.duration_ms <= limit * ctx.latency_factor + ctx.browser_latency_slack_ms:
            return []
        return [Violation(obs, f"≤ {limit:.0f} ms", f"{obs.duration_ms:.0f} ms", "latency")]

    def show(self, violation: Violation) -> str:
        return f"the page took {violation.actual} to {self.params.timing}, expected {violation.expected}"
