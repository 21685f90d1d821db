"""`event:NAME` (or `event:*`): sessions with a custom event (`window.trodden.track(name)`), the
strongest per near-duplicate cluster."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from trodden.synthesis.arrays import sorted_unique
from trodden.synthesis.strategies.base import (
    Argument,
    SelectionContext,
    SelectionError,
    Strategy,
    best_per_cluster,
)


@dataclass(frozen=True)
class Event(Strategy):
    event: str

    name: ClassVar[str] = "event"
    argument: ClassVar[Argument | None] = Argument(
        "event", "NAME", "add_to_cart_failed", "the event name in `event`", only_in_spec=True
    )

    @classmethod
    def parse(cls, value: str | None) -> Strategy:
        if not value:
            raise SelectionError("strategy event needs a name, as in event:add_to_cart_failed (or event:*)")
        return cls(value)

    def arg(self) -> str | None:
        return self.event

    def propose(self, ctx: SelectionContext) -> list[tuple[int, str]]:
        j, sig = ctx.journeys, ctx.signals
        wanted = {i: v.key for i, v in enumerate(j.vocab) if v.kind == "event" and self.event in ("*", v.key)}
        out = []
        for step_id, event in sorted(wanted.items(), key=lambda kv: kv[1]):
            sessions = sorted_unique(sig.occ_session[j.step_ids == step_id])
            out += [
                (s, f"event {event}") for s in best_per_cluster(sessions, sig.signal, sig.session_cluster)[: ctx.cap]
            ]
        return out
