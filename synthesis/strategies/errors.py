"""`errors`: sessions with a failed request, a 5xx, a JS error, or a 4xx that is rare for its route."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from trodden.synthesis.arrays import sorted_unique
from trodden.synthesis.journeys import Journeys
from trodden.synthesis.strategies.base import (
    SelectionContext,
    Signals,
    Strategy,
    best_per_cluster,
    route_status,
)


@dataclass(frozen=True)
class Errors(Strategy):
    name: ClassVar[str] = "errors"

    def propose(self, ctx: SelectionContext) -> list[tuple[int, str]]:
        sig = ctx.signals
        sessions = sorted_unique(sig.occ_session[sig.error_occ])
        picks = best_per_cluster(sessions, sig.signal, sig.session_cluster)[: ctx.cap]
        return [(s, "errors: " + describe_error(ctx.journeys, sig, s)) for s in picks]


def describe_error(j: Journeys, sig: Signals, s: int) -> str:
    sl = j.session_slice(s)
    for o in range(sl.start, sl.stop):
        if not sig.error_occ[o]:
            continue
        v = j.vocab[int(j.step_ids[o])]
        if v.kind == "error":
            return f"JS {v.verb} error"
        status = int(j.statuses[o])
        route = j.routes[int(j.route_ids[o])]
        if status == 0:
            return f"{route} failed without a response"
        share = sig.unexpected_pairs.get((int(j.route_ids[o]), status))
        if share is not None:
            return f"{route_status(route, status)} (unexpected: {share:.1%} of its calls)"
        return route_status(route, status)
    return "error"
