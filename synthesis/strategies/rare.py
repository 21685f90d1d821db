"""`rare:K`: up to K journeys that fewer than a stated share of the sessions follow (`--rare-share`,
5% by default), or that were seen fewer than `--min-support` times (one-offs: in a small corpus a
journey seen once can be above the share, 1 of 14 sessions is 7.1%, and is still the rarest there is),
least common first; among equally common ones, the most unusual content first (requests and moves
that few other sessions make: `_unusualness`), then by stable signature (never by session
id: ids are pseudonyms keyed per source). A journey seen fewer than `--min-support` times (a one-off)
is a candidate only when its session looks like a real user's (`trodden.synthesis.humanlike`: not
a lone step, not all failed, not polling, not probing): the edge case nobody planned for, not a bot
or a glitch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from trodden.synthesis.arrays import sorted_unique
from trodden.synthesis.humanlike import looks_human
from trodden.synthesis.strategies.base import (
    STATUS_CODES,
    Counted,
    SelectionContext,
    Setting,
    best_per_cluster,
    pct,
    route_status_codes,
    transition_codes,
)


@dataclass(frozen=True)
class Rare(Counted):
    name: ClassVar[str] = "rare"
    settings: ClassVar[tuple[Setting, ...]] = (
        Setting(
            "share", "--rare-share", "Rare means followed by fewer than this share of the sessions (default 0.05)."
        ),
    )

    def propose(self, ctx: SelectionContext) -> list[tuple[int, str]]:
        j, sig, n = ctx.journeys, ctx.signals, ctx.n_sessions
        reps = np.unique(ctx.journey_cluster)
        sizes = sig.cluster_size[reps]
        rare = reps[sizes < ctx.frequent_at]
        sigs = np.array([j.journey_signatures[c] for c in rare.tolist()], dtype=object)
        order = rare[np.lexsort((sigs, -_unusualness(ctx)[rare], sig.cluster_size[rare]))] if len(rare) else rare
        all_sessions = np.arange(n, dtype=np.int32)
        human = looks_human(j) if (sig.cluster_size[rare] < ctx.min_support).any() else np.ones(n, dtype=bool)
        share = f"{100.0 * ctx.rare_share:g}%"
        out = []
        for c in order.tolist():
            size = int(sig.cluster_size[c])
            members = all_sessions[sig.session_cluster == c]
            if size < ctx.min_support:  # a one-off: only a session that looks like a real user's
                members = members[human[members]]
                if not len(members):
                    continue
            s = best_per_cluster(members, sig.signal, sig.session_cluster)[0]
            one_off = size < ctx.min_support
            what = "a one-off journey, " if one_off else ""
            who = "; looks like a real user's session" if one_off else ""
            if size < ctx.rare_share * n:
                why = f"{_share(size, n, ctx.rare_share)}, under {share}"
            else:  # a one-off of a small corpus
                why = f"{pct(size, n)}, seen fewer than {ctx.min_support:,} times"
            out.append((s, f"rare: {what}{size:,} of {n:,} sessions ({why}){who}"))
            if len(out) >= self.count:
                break
        return out


def _unusualness(ctx: SelectionContext) -> npt.NDArray[np.float64]:
    """Per journey cluster: how unusual its content is, as the sum over its distinct coverage units
    (a request's route and status, a transition between steps) of 1 / the sessions that have it,
    for its most unusual member. An edge case made of requests and moves few others make scores
    high; a one-off that only repeats common requests in another order scores low. Sorts, not
    `np.unique` (it hashes: 5.8 s of an 11 s selection at 300 k sessions, against 1.2 s now)."""
    j, sig = ctx.journeys, ctx.signals
    http = j.route_ids >= 0
    status_codes = np.where(http, route_status_codes(j.route_ids, j.statuses), -1)
    _, transitions = transition_codes(j)
    offset = len(j.routes) * STATUS_CODES
    units = np.concatenate([status_codes, np.where(transitions >= 0, transitions + offset, -1)])
    sessions = np.concatenate([sig.occ_session, sig.occ_session]).astype(np.int64)
    keep = units >= 0
    span = offset + max(len(j.vocab), 1) ** 2
    pairs = sorted_unique(np.sort(sessions[keep] * span + units[keep]))  # each (session, unit) once
    pair_unit = pairs % span
    by_unit = np.sort(pair_unit)
    start = np.flatnonzero(np.concatenate([[True], by_unit[1:] != by_unit[:-1]])) if len(by_unit) else by_unit
    unit, having = by_unit[start], np.diff(np.append(start, len(by_unit)))
    weight = 1.0 / having[np.searchsorted(unit, pair_unit)]
    per_session = np.bincount(pairs // span, weights=weight, minlength=ctx.n_sessions)
    out = np.zeros(j.n_journeys, dtype=np.float64)
    np.maximum.at(out, sig.session_cluster, per_session)
    return out


def _share(size: int, n: int, limit: float) -> str:
    """The journey's share, precise enough never to read as the limit it is under (4.96%, not 5.0%)."""
    value = 100.0 * size / max(n, 1)
    text = f"{value:.1f}%"
    return text if round(value, 1) < 100.0 * limit else f"{value:.2f}%"
