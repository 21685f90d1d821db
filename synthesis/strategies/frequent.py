"""`frequent:K`: the K most common journeys (after near-duplicate collapse). Pinned: core flows are
always in the suite.

A journey below `rare`'s share of the sessions (`--rare-share`), or seen fewer than `--min-support`
times (a one-off: in a corpus of 14 sessions, 1 of 14 is 7.1%), is never called frequent: that would
contradict the numbers next to it, and it is `rare`'s to propose.
Equally common journeys are ranked by their stable signature, never by session id: ids are
pseudonyms keyed per source, so ranking by them would change the suite from one install to the next.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from trodden.synthesis.strategies.base import Counted, SelectionContext, pct


@dataclass(frozen=True)
class Frequent(Counted):
    name: ClassVar[str] = "frequent"
    pins: ClassVar[bool] = True

    def propose(self, ctx: SelectionContext) -> list[tuple[int, str]]:
        j, sig, n = ctx.journeys, ctx.signals, ctx.n_sessions
        reps = np.unique(ctx.journey_cluster)
        sizes = sig.cluster_size[reps]
        reps = reps[sizes >= ctx.frequent_at]
        sigs = np.array([j.journey_signatures[c] for c in reps.tolist()], dtype=object)
        order = reps[np.lexsort((sigs, -sig.cluster_size[reps]))][: self.count] if len(reps) else reps
        first_session = np.full(j.n_journeys, -1, dtype=np.int64)
        first_session[j.session_journey[::-1]] = np.arange(n)[::-1]
        out = []
        for rank, c in enumerate(order.tolist(), start=1):
            size = int(sig.cluster_size[c])
            out.append(
                (int(first_session[c]), f"frequent: journey #{rank}, {size:,} of {n:,} sessions ({pct(size, n)})")
            )
        return out
