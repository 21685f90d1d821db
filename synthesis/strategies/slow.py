"""`slow:pNN`: sessions with a request slower than its route's NNth percentile (routes with at
least `SLOW_MIN_SAMPLES` timings), slowest relative to the bound first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from trodden.synthesis.strategies.base import Argument, SelectionContext, SelectionError, Strategy, best_per_cluster

# The percentiles that mean "slow": below the median is not slow, and p100 is the slowest request
# itself (nothing is over it). The SessionSelector spec takes whole numbers in the same range.
MIN_PERCENTILE = 50
MAX_PERCENTILE = 99


@dataclass(frozen=True)
class Slow(Strategy):
    percentile: float = 95.0

    name: ClassVar[str] = "slow"
    argument: ClassVar[Argument | None] = Argument("percentile", "pNN", "p95", "`percentile` (e.g. 95)")

    @classmethod
    def parse(cls, value: str | None) -> Strategy:
        value = value or "p95"
        try:
            percentile = float(value.lstrip("pP"))
        except ValueError:
            raise SelectionError(f"strategy slow needs a percentile, as in slow:p95 (got {value!r})") from None
        if not MIN_PERCENTILE <= percentile < MAX_PERCENTILE + 1:
            raise SelectionError(
                f"slow percentile must be at least {MIN_PERCENTILE} and below {MAX_PERCENTILE + 1} (got {value!r})"
            )
        return cls(percentile)

    def arg(self) -> str | None:
        return f"p{self.percentile:g}"

    @property
    def timing_percentile(self) -> float | None:
        return self.percentile

    def propose(self, ctx: SelectionContext) -> list[tuple[int, str]]:
        j, sig = ctx.journeys, ctx.signals
        sessions = np.nonzero(sig.slow_ratio > 0)[0].astype(np.int32)
        out = []
        for s in best_per_cluster(sessions, sig.slow_ratio, sig.session_cluster)[: ctx.cap]:
            o, duration, bound = sig.slow_occ_best[s]
            route = j.routes[int(j.route_ids[o])]
            out.append((s, f"slow: {route} {duration:,.0f} ms > p{self.percentile:g} {bound:,.0f} ms"))
        return out
