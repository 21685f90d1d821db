"""`rare:K`: the K least common journeys that still occur at least `min_support` times (a journey
seen fewer times is a one-off: a bot, a glitch)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from trodden.synthesis.strategies.base import Counted, SelectionContext, best_per_cluster


@dataclass(frozen=True)
class Rare(Counted):
    name: ClassVar[str] = "rare"

    def propose(self, ctx: SelectionContext) -> list[tuple[int, str]]:
        j, sig, n = ctx.journeys, ctx.signals, ctx.n_sessions
        reps = np.unique(ctx.journey_cluster)
        sizes = sig.cluster_size[reps]
        eligible = reps[sizes >= ctx.min_support]
        sigs = np.array([j.journey_signatures[c] for c in eligible.tolist()], dtype=object)
        order = eligible[np.lexsort((sigs, sig.cluster_size[eligible]))] if len(eligible) else eligible
        all_sessions = np.arange(n, dtype=np.int32)
        out = []
        for c in order[: self.count].tolist():
            members = all_sessions[sig.session_cluster == c]
            s = best_per_cluster(members, sig.signal, sig.session_cluster)[0]
            out.append((s, f"rare: {int(sig.cluster_size[c]):,} of {n:,} sessions"))
        return out
