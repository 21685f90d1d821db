"""`novel`: sessions with a step, a transition or a "route → status" the suite does not cover yet
(needs the suite's coverage; without it everything is novel and the strategy proposes nothing)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from trodden.synthesis.arrays import sorted_unique
from trodden.synthesis.strategies.base import (
    STATUS_CODES,
    SelectionContext,
    Strategy,
    best_per_cluster,
    present,
    route_status,
    route_status_codes,
    transition_codes,
)


@dataclass(frozen=True)
class Novel(Strategy):
    name: ClassVar[str] = "novel"

    def propose(self, ctx: SelectionContext) -> list[tuple[int, str]]:
        """Vectorised: a flag per occurrence, then one session per cluster; reasons only for those kept."""
        j, sig, cov = ctx.journeys, ctx.signals, ctx.coverage
        if cov is None or len(j.step_ids) == 0:
            return []
        covered_steps, covered_transitions = set(cov.steps), set(cov.transitions)
        covered_statuses = set(cov.route_statuses)
        texts = [v.text for v in j.vocab]
        v = len(texts)
        http = j.route_ids >= 0
        step_new = np.array([t not in covered_steps for t in texts], dtype=bool)
        if covered_statuses and j.routes:
            # exact statuses matter for HTTP steps ("POST /cart/{id}/coupon → 409")
            size = len(j.routes) * STATUS_CODES
            codes = np.where(http, route_status_codes(j.route_ids, j.statuses), -1)
            new_pair = np.zeros(size, dtype=bool)
            for p in present(codes, size).tolist():
                route, status = divmod(p, STATUS_CODES)
                new_pair[p] = (j.routes[route], status) not in covered_statuses
            novel_step = np.where(http, new_pair[np.maximum(codes, 0)], step_new[j.step_ids])
        else:
            novel_step = step_new[j.step_ids]
        # transitions inside a session (not across session boundaries, not a step repeating itself)
        prev, tcodes = transition_codes(j)
        new_codes = np.array(
            [c for c in present(tcodes, v * v).tolist() if (texts[c // v], texts[c % v]) not in covered_transitions],
            dtype=np.int64,
        )
        novel_occ = novel_step | ((tcodes >= 0) & np.isin(tcodes, new_codes))
        sessions = sorted_unique(sig.occ_session[novel_occ])
        out: list[tuple[int, str]] = []
        for s in best_per_cluster(sessions, sig.signal, sig.session_cluster)[: ctx.cap]:
            sl = j.session_slice(s)
            o = sl.start + int(np.argmax(novel_occ[sl]))
            step = int(j.step_ids[o])
            if novel_step[o] and http[o] and covered_statuses:
                what = route_status(j.routes[int(j.route_ids[o])], int(j.statuses[o]))
            elif novel_step[o]:
                what = texts[step]
            else:
                what = f"{texts[int(prev[o])]} → {texts[step]}"
            out.append((s, f"novel: covers {what}"))
        return out
