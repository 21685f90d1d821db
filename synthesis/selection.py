"""Which sessions become tests: strategies, near-duplicate collapse, greedy cover, reasons.

Pure: `select_journeys(journeys, options)` works on the in-memory `Journeys`; reading the store is
`trodden.synthesis.db`, and `select_sessions` in `trodden.synthesis.api` glues both.

Every strategy proposes sessions with a reason; near-duplicate journeys form clusters
(`dedup.py`), and within a cluster a strategy proposes only its best session (highest signal), so
a thousand near-identical error sessions give one candidate. The frequent strategy's picks are
pinned (core flows are always covered); the rest are chosen by additional-greedy cover over
routes, transitions, (route, status) pairs and custom events until the budget is spent.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel

from trodden.models.suite import SuiteCoverage
from trodden.synthesis.bulk_phase import bulk_phase
from trodden.synthesis.dedup import cluster_journeys
from trodden.synthesis.journeys import Journeys
from trodden.synthesis.strategies import (
    DEFAULT_STRATEGIES,
    SelectionContext,
    SelectionError,
    Signals,
    Strategy,
    parse_strategies,
)
from trodden.synthesis.strategies.base import STATUS_CODES, present, route_status_codes, transition_codes

SLOW_MIN_SAMPLES = 20  # a route needs this many timings before "slower than its p95" means anything
UNEXPECTED_4XX_SHARE = 0.10  # a 4xx is unexpected when under this share of its route's calls


@dataclass
class SelectOptions:
    strategies: list[Strategy] = field(default_factory=lambda: parse_strategies(DEFAULT_STRATEGIES))
    max_sessions: int = 50
    similarity: float = 0.85
    min_support: int = 2  # rare: a journey seen fewer times is a one-off, taken only from a real user's session
    rare_share: float = 0.05  # rare: followed by fewer than this share of the sessions
    coverage: SuiteCoverage | None = None  # for novel; without it novel means "anything" and is skipped


class SelectionStats(BaseModel):
    """What a selection saw and chose (stored with it; `trodden select --json`; the operator reads it)."""

    sessions: int
    steps: int
    journeys: int
    clusters: int  # journeys after near-duplicate collapse
    candidates: int  # sessions some strategy proposed
    selected: int
    strategies: dict[str, int]  # proposals per strategy, by its CLI form ("slow:p95")
    routes: int
    units_covered: int  # coverage units (routes, route statuses, custom events, transitions) the selection holds
    units_total: int | None = None  # ... and all sessions hold together (None without steps)
    coverage: float | None = None  # units_covered / units_total


@dataclass
class SelectedSession:
    session_id: str
    signature: str
    reasons: list[str]
    steps: list[str]
    gain: int = 0  # coverage units it added when chosen

    def to_json(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "signature": self.signature,
            "reasons": self.reasons,
            "steps": self.steps,
            "gain": self.gain,
        }


@dataclass
class Selection:
    sessions: list[SelectedSession]
    stats: SelectionStats
    id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "selection_id": self.id,
            "sessions": [s.to_json() for s in self.sessions],
            "stats": self.stats.model_dump(exclude_none=True),
        }


def _signals(j: Journeys, journey_cluster: npt.NDArray[np.int32], slow_pct: float | None) -> Signals:
    session_cluster = journey_cluster[j.session_journey]
    cluster_size = np.bincount(session_cluster, minlength=j.n_journeys).astype(np.int64)
    occ_session = j.session_of_occurrence()
    n = j.n_sessions
    kinds = np.array([v.kind for v in j.vocab] or [""], dtype=object)
    is_error_step = np.array([v.kind == "error" or v.cls in ("5xx", "failed") for v in j.vocab] or [False])
    error_occ = is_error_step[j.step_ids] if len(j.step_ids) else np.zeros(0, bool)

    # unexpected 4xx: rare for its route
    unexpected: dict[tuple[int, int], float] = {}
    http = j.route_ids >= 0
    if http.any():
        route_calls = np.bincount(j.route_ids[http], minlength=len(j.routes))
        is4 = http & (j.statuses >= 400) & (j.statuses < 500)
        if is4.any():
            pairs = route_status_codes(j.route_ids[is4], j.statuses[is4])
            codes, counts = np.unique(pairs, return_counts=True)
            for code, count in zip(codes.tolist(), counts.tolist(), strict=True):
                route, status = divmod(code, STATUS_CODES)
                share = count / max(int(route_calls[route]), 1)
                if share < UNEXPECTED_4XX_SHARE:
                    unexpected[(route, status)] = share
            if unexpected:
                pairs_seen = np.array(list(unexpected), dtype=np.int64)
                u_codes = route_status_codes(pairs_seen[:, 0], pairs_seen[:, 1])
                occ_codes = np.where(is4, route_status_codes(j.route_ids, j.statuses), -1)
                error_occ = error_occ | np.isin(occ_codes, u_codes)

    slow_ratio = np.zeros(n, dtype=np.float32)
    slow_best: dict[int, tuple[int, float, float]] = {}
    if slow_pct is not None and http.any():
        bounds = np.full(len(j.routes), np.inf, dtype=np.float64)
        occ_idx = np.nonzero(http)[0]
        keys = j.route_ids[occ_idx]
        # a stable sort of 16-bit keys is a radix sort: linear in the number of requests
        order = occ_idx[np.argsort(keys.astype(np.int16) if len(j.routes) < 32767 else keys, kind="stable")]
        r_sorted = j.route_ids[order]
        starts = np.searchsorted(r_sorted, np.arange(len(j.routes)))
        ends = np.searchsorted(r_sorted, np.arange(len(j.routes)), side="right")
        ok = j.statuses > 0
        for r in range(len(j.routes)):
            idx = order[starts[r] : ends[r]]
            idx = idx[ok[idx]]
            if len(idx) >= SLOW_MIN_SAMPLES:
                bounds[r] = float(np.percentile(j.durations[idx], slow_pct))
        occ_bound = np.full(len(j.step_ids), np.inf)
        occ_bound[http] = bounds[j.route_ids[http]]
        slow = ok & (j.durations > occ_bound)
        slow_idx = np.nonzero(slow)[0]
        ratios = j.durations[slow_idx] / np.maximum(occ_bound[slow_idx], 1e-3)
        np.maximum.at(slow_ratio, occ_session[slow_idx], ratios.astype(np.float32))
        # per session, its slowest occurrence relative to the route's bound (for the reason text)
        by_session = np.lexsort((-ratios, occ_session[slow_idx]))
        sess_sorted = occ_session[slow_idx][by_session]
        first = np.ones(len(by_session), dtype=bool)
        first[1:] = sess_sorted[1:] != sess_sorted[:-1]
        best_occ = slow_idx[by_session][first]
        slow_best = dict(
            zip(
                sess_sorted[first].tolist(),
                zip(best_occ.tolist(), j.durations[best_occ].tolist(), occ_bound[best_occ].tolist(), strict=True),
                strict=True,
            )
        )

    errors = np.bincount(occ_session[error_occ], minlength=n) if len(error_occ) else np.zeros(n, np.int64)
    is_event = kinds == "event"
    events = np.bincount(occ_session[is_event[j.step_ids]], minlength=n) if len(j.step_ids) else np.zeros(n, np.int64)
    lengths = np.diff(j.offsets)
    signal = (
        4.0 * np.minimum(errors, 3) + 2.0 * np.minimum(events, 3) + (slow_ratio > 0) + np.minimum(lengths, 50) / 100.0
    )
    return Signals(session_cluster, cluster_size, occ_session, error_occ, slow_ratio, slow_best, signal, unexpected)


def _session_units(j: Journeys, s: int) -> set[tuple[Any, ...]]:
    """Coverage units of a session: routes, transitions, (route, status), custom events."""
    sl = j.session_slice(s)
    units: set[tuple[Any, ...]] = set()
    steps = j.step_ids[sl].tolist()
    routes = j.route_ids[sl].tolist()
    statuses = j.statuses[sl].tolist()
    prev = -1
    for step, route, status in zip(steps, routes, statuses, strict=True):
        if route >= 0:
            units.add(("route", route))
            units.add(("status", route, status))
        elif j.vocab[step].kind == "event":
            units.add(("event", step))
        if prev >= 0 and prev != step:
            units.add(("transition", prev, step))
        prev = step
    return units


def select_journeys(j: Journeys, options: SelectOptions | None = None) -> Selection:
    """Choose sessions from built journeys. Deterministic for the same input and options."""
    with bulk_phase():  # see there: no reference cycles, large temporaries
        return _select(j, options or SelectOptions())


def _select(j: Journeys, options: SelectOptions) -> Selection:
    if options.max_sessions < 1:
        raise SelectionError("--max must be at least 1")
    if not 0.0 < options.similarity <= 1.0:
        raise SelectionError("--similarity must be in (0, 1]")
    if not 0.0 < options.rare_share < 1.0:
        raise SelectionError("--rare-share must be in (0, 1) (a share of the sessions, e.g. 0.05 or 5%)")
    n = j.n_sessions
    journey_cluster = cluster_journeys(j.journey_steps, j.journey_counts, len(j.vocab), threshold=options.similarity)
    slow_pct = next((p for s in options.strategies if (p := s.timing_percentile) is not None), None)
    sig = _signals(j, journey_cluster, slow_pct)
    n_clusters = len(np.unique(journey_cluster)) if j.n_journeys else 0

    reasons: dict[int, list[str]] = {}
    priority: dict[int, int] = {}
    pinned: list[int] = []
    per_strategy: dict[str, int] = {}
    ctx = SelectionContext(
        j,
        journey_cluster,
        sig,
        cap=options.max_sessions,
        min_support=options.min_support,
        coverage=options.coverage,
        rare_share=options.rare_share,
    )
    for prio, strat in enumerate(options.strategies):
        proposals = strat.propose(ctx)
        for s, reason in proposals:
            reasons.setdefault(s, [])
            if reason not in reasons[s]:
                reasons[s].append(reason)
            priority[s] = min(priority.get(s, prio), prio)
            if strat.pins and s not in pinned:
                pinned.append(s)
        per_strategy[str(strat)] = len(proposals)

    chosen = _greedy_cover(
        j, reasons=reasons, priority=priority, pinned=pinned, signal=sig.signal, budget=options.max_sessions
    )
    selected = [
        SelectedSession(
            session_id=j.session_ids[s],
            signature=j.journey_signatures[int(j.session_journey[s])],
            reasons=reasons[s],
            steps=j.journey_texts(int(j.session_journey[s])),
            gain=gain,
        )
        for s, gain in chosen
    ]
    covered: set[tuple[Any, ...]] = set()
    for s, _ in chosen:
        covered |= _session_units(j, s)
    total = _total_units(j)
    stats = SelectionStats(
        sessions=n,
        steps=len(j.step_ids),
        journeys=j.n_journeys,
        clusters=n_clusters,
        candidates=len(reasons),
        selected=len(selected),
        strategies=per_strategy,
        routes=len(j.routes),
        units_covered=len(covered),
        units_total=total or None,
        coverage=round(len(covered) / total, 4) if total else None,
    )
    return Selection(sessions=selected, stats=stats)


def suite_coverage(j: Journeys, session_ids: Sequence[str]) -> SuiteCoverage:
    """What these sessions cover, as a suite records it for `novel`: step texts, transitions
    between them, and (route, exact status)."""
    index = {sid: i for i, sid in enumerate(j.session_ids)}
    steps: set[str] = set()
    transitions: set[tuple[str, str]] = set()
    route_statuses: set[tuple[str, int]] = set()
    for sid in session_ids:
        s = index.get(sid)
        if s is None:
            continue
        sl = j.session_slice(s)
        prev: str | None = None
        for step, route, status in zip(
            j.step_ids[sl].tolist(), j.route_ids[sl].tolist(), j.statuses[sl].tolist(), strict=True
        ):
            text = j.vocab[step].text
            steps.add(text)
            if route >= 0:
                route_statuses.add((j.routes[route], status))
            if prev is not None and prev != text:
                transitions.add((prev, text))
            prev = text
    return SuiteCoverage(steps=sorted(steps), transitions=sorted(transitions), route_statuses=sorted(route_statuses))


def _total_units(j: Journeys) -> int:
    """How many coverage units (see `_session_units`) all sessions hold together, vectorised."""
    if len(j.step_ids) == 0:
        return 0
    http = j.route_ids >= 0
    routes = len(present(j.route_ids[http].astype(np.int64), len(j.routes)))
    codes = route_status_codes(j.route_ids[http], j.statuses[http])
    statuses = len(present(codes, len(j.routes) * STATUS_CODES))
    is_event = np.array([v.kind == "event" for v in j.vocab], dtype=bool)
    events = int(np.count_nonzero(np.bincount(j.step_ids, minlength=len(j.vocab))[is_event]))
    _, tcodes = transition_codes(j)
    transitions = len(present(tcodes, len(j.vocab) ** 2))
    return routes + statuses + events + transitions


def _greedy_cover(
    j: Journeys,
    *,
    reasons: dict[int, list[str]],
    priority: dict[int, int],
    pinned: Sequence[int],
    signal: npt.NDArray[np.float64],
    budget: int,
) -> list[tuple[int, int]]:
    """Pinned sessions first, then lazy greedy by new coverage units; zero-gain ones fill the rest."""
    covered: set[tuple[Any, ...]] = set()
    chosen: list[tuple[int, int]] = []
    taken: set[int] = set()
    for s in pinned[:budget]:
        units = _session_units(j, s)
        chosen.append((s, len(units - covered)))
        covered |= units
        taken.add(s)
    units_of = {s: _session_units(j, s) for s in reasons if s not in taken}
    # heap of (-gain, priority, -signal, session); gains only shrink, so a popped stale entry is recomputed
    heap = [(-len(u - covered), priority[s], -float(signal[s]), s) for s, u in units_of.items()]
    heapq.heapify(heap)
    zero: list[tuple[int, float, int]] = []
    while heap and len(chosen) < budget:
        neg_gain, prio, neg_sig, s = heapq.heappop(heap)
        gain = len(units_of[s] - covered)
        if gain != -neg_gain:
            heapq.heappush(heap, (-gain, prio, neg_sig, s))
            continue
        if gain == 0:
            zero.append((prio, neg_sig, s))
            continue
        chosen.append((s, gain))
        covered |= units_of[s]
    for _prio, _neg_sig, s in sorted(zero):
        if len(chosen) >= budget:
            break
        chosen.append((s, 0))
    return chosen
