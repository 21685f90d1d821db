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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from trodden.synthesis.bulk_phase import bulk_phase
from trodden.synthesis.dedup import cluster_journeys
from trodden.synthesis.journeys import Journeys

STRATEGY_NAMES = ("frequent", "rare", "event", "errors", "slow", "novel")
DEFAULT_STRATEGIES = ("frequent:10", "rare:10", "event:*", "errors", "slow:p95", "novel")
SLOW_MIN_SAMPLES = 20  # a route needs this many timings before "slower than its p95" means anything
UNEXPECTED_4XX_SHARE = 0.10  # a 4xx is unexpected when under this share of its route's calls


class SelectionError(ValueError):
    """Bad selection options (the CLI turns it into exit code 2)."""


@dataclass(frozen=True)
class Strategy:
    name: str
    arg: str | None = None

    def __str__(self) -> str:
        return self.name if self.arg is None else f"{self.name}:{self.arg}"

    @property
    def count(self) -> int:
        return int(self.arg) if self.arg is not None else 10

    @property
    def percentile(self) -> float:
        return float((self.arg or "p95").lstrip("pP"))


def parse_strategies(specs: Iterable[str]) -> list[Strategy]:
    """`["frequent:5,rare:3", "errors"]` → strategies; `SelectionError` with the reason if invalid."""
    out: list[Strategy] = []
    for spec in specs:
        for raw_part in spec.split(","):
            part = raw_part.strip()
            if not part:
                continue
            name, _, arg = part.partition(":")
            name = name.strip().lower()
            value = arg.strip() or None
            if name not in STRATEGY_NAMES:
                raise SelectionError(f"unknown strategy {name!r} (expected one of {', '.join(STRATEGY_NAMES)})")
            if name in ("frequent", "rare"):
                if value is None:
                    value = "10"
                if not value.isdigit() or int(value) < 1:
                    raise SelectionError(f"strategy {name} needs a positive count, as in {name}:10 (got {part!r})")
            elif name == "event":
                if not value:
                    raise SelectionError("strategy event needs a name, as in event:add_to_cart_failed (or event:*)")
            elif name == "slow":
                value = value or "p95"
                try:
                    pct = float(value.lstrip("pP"))
                except ValueError:
                    raise SelectionError(f"strategy slow needs a percentile, as in slow:p95 (got {part!r})") from None
                if not 0 < pct < 100:
                    raise SelectionError(f"slow percentile must be between 0 and 100 (got {part!r})")
            elif value is not None:
                raise SelectionError(f"strategy {name} takes no argument (got {part!r})")
            out.append(Strategy(name, value))
    return out


@dataclass
class Coverage:
    """What a suite already covers: step texts, transitions between them, and "route → status"."""

    steps: set[str] = field(default_factory=set)
    transitions: set[tuple[str, str]] = field(default_factory=set)
    route_statuses: set[str] = field(default_factory=set)


@dataclass
class SelectOptions:
    strategies: list[Strategy] = field(default_factory=lambda: parse_strategies(DEFAULT_STRATEGIES))
    max_sessions: int = 50
    similarity: float = 0.85
    min_support: int = 2  # rare: a journey seen fewer times is a one-off (bot, glitch)
    coverage: Coverage | None = None  # for novel; without it novel means "anything" and is skipped


@dataclass
class SelectedSession:
    session_id: str
    signature: str
    reasons: list[str]
    steps: list[str]
    gain: int = 0  # coverage units it added when chosen

    def to_json(self) -> dict[str, Any]:
        return {"session_id": self.session_id, "signature": self.signature, "reasons": self.reasons,
                "steps": self.steps, "gain": self.gain}  # fmt: skip


@dataclass
class Selection:
    sessions: list[SelectedSession]
    stats: dict[str, Any]
    id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"selection_id": self.id, "sessions": [s.to_json() for s in self.sessions], "stats": self.stats}


@dataclass
class _Signals:
    session_cluster: npt.NDArray[np.int32]
    cluster_size: npt.NDArray[np.int64]
    occ_session: npt.NDArray[np.int32]
    error_occ: npt.NDArray[np.bool_]
    slow_ratio: npt.NDArray[np.float32]  # [S] max duration / route percentile, 0 when not slow
    slow_occ_best: dict[int, tuple[int, float, float]]  # session -> (occurrence, duration, bound)
    signal: npt.NDArray[np.float64]  # [S]
    unexpected_pairs: dict[tuple[int, int], float]  # (route, status) -> share


def _sorted_unique(x: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Unique values of an already sorted array in O(n) (occurrence → session is non-decreasing)."""
    if len(x) == 0:
        return x
    keep = np.ones(len(x), dtype=bool)
    keep[1:] = x[1:] != x[:-1]
    return x[keep]


def _present(codes: npt.NDArray[np.int64], size: int) -> npt.NDArray[np.int64]:
    """The distinct non-negative codes (< size), by a presence table when it is small enough (O(n)),
    else by sorting."""
    codes = codes[codes >= 0]
    if size <= 50_000_000:
        return np.flatnonzero(np.bincount(codes, minlength=size))
    return np.unique(codes)


def _transition_codes(j: Journeys) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(previous step of each occurrence or -1, code prev*V+step of each transition or -1)."""
    n_occ = len(j.step_ids)
    prev = np.empty(n_occ, dtype=np.int64)
    if n_occ:
        prev[0] = -1
        prev[1:] = j.step_ids[:-1]
        prev[j.offsets[:-1][np.diff(j.offsets) > 0]] = -1
    trans = (prev >= 0) & (prev != j.step_ids)
    return prev, np.where(trans, prev * len(j.vocab) + j.step_ids, -1)


def _best_per_cluster(
    sessions: npt.NDArray[np.int32], score: npt.NDArray[Any], cluster: npt.NDArray[np.int32]
) -> list[int]:
    """One session per cluster: the one with the highest score (ties: lowest index)."""
    if len(sessions) == 0:
        return []
    c = cluster[sessions]
    order = np.lexsort((sessions, -score[sessions], c))
    s_sorted, c_sorted = sessions[order], c[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = c_sorted[1:] != c_sorted[:-1]
    best = s_sorted[first]
    # strongest first, so a strategy's own order is meaningful
    return [int(x) for x in best[np.argsort(-score[best], kind="stable")]]


def _signals(j: Journeys, journey_cluster: npt.NDArray[np.int32], slow_pct: float | None) -> _Signals:
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
            pairs = j.route_ids[is4].astype(np.int64) * 1000 + j.statuses[is4]
            codes, counts = np.unique(pairs, return_counts=True)
            for code, count in zip(codes.tolist(), counts.tolist(), strict=True):
                route, status = divmod(code, 1000)
                share = count / max(int(route_calls[route]), 1)
                if share < UNEXPECTED_4XX_SHARE:
                    unexpected[(route, status)] = share
            if unexpected:
                u_codes = np.array([r * 1000 + s for r, s in unexpected], dtype=np.int64)
                occ_codes = np.where(is4, j.route_ids.astype(np.int64) * 1000 + j.statuses, -1)
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
        slow_best = dict(zip(sess_sorted[first].tolist(),
                             zip(best_occ.tolist(), j.durations[best_occ].tolist(), occ_bound[best_occ].tolist(),
                                 strict=True), strict=True))  # fmt: skip

    errors = np.bincount(occ_session[error_occ], minlength=n) if len(error_occ) else np.zeros(n, np.int64)
    is_event = kinds == "event"
    events = (
        np.bincount(occ_session[is_event[j.step_ids]], minlength=n) if len(j.step_ids) else np.zeros(n, np.int64)
    )
    lengths = np.diff(j.offsets)
    signal = (
        4.0 * np.minimum(errors, 3)
        + 2.0 * np.minimum(events, 3)
        + (slow_ratio > 0)
        + np.minimum(lengths, 50) / 100.0
    )
    return _Signals(session_cluster, cluster_size, occ_session, error_occ, slow_ratio, slow_best, signal, unexpected)


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


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / max(whole, 1):.1f}%"


def select_journeys(j: Journeys, options: SelectOptions | None = None) -> Selection:
    """Choose sessions from built journeys. Deterministic for the same input and options."""
    with bulk_phase():  # see there: no reference cycles, large temporaries
        return _select(j, options or SelectOptions())


def _select(j: Journeys, options: SelectOptions) -> Selection:
    if options.max_sessions < 1:
        raise SelectionError("--max must be at least 1")
    if not 0.0 < options.similarity <= 1.0:
        raise SelectionError("--similarity must be in (0, 1]")
    n = j.n_sessions
    journey_cluster = cluster_journeys(
        j.journey_steps, j.journey_counts, len(j.vocab), threshold=options.similarity
    )
    slow_strategies = [s for s in options.strategies if s.name == "slow"]
    sig = _signals(j, journey_cluster, slow_strategies[0].percentile if slow_strategies else None)
    n_clusters = len(np.unique(journey_cluster)) if j.n_journeys else 0

    reasons: dict[int, list[str]] = {}
    priority: dict[int, int] = {}
    pinned: list[int] = []
    per_strategy: dict[str, int] = {}

    def propose(s: int, reason: str, prio: int) -> None:
        reasons.setdefault(s, [])
        if reason not in reasons[s]:
            reasons[s].append(reason)
        priority[s] = min(priority.get(s, prio), prio)

    all_sessions = np.arange(n, dtype=np.int32)
    cap = options.max_sessions  # no strategy proposes more than the budget (strongest first)
    for prio, strat in enumerate(options.strategies):
        picked = 0
        if strat.name == "frequent":
            reps = np.unique(journey_cluster)
            order = reps[np.lexsort((reps, -sig.cluster_size[reps]))][: strat.count]
            first_session = np.full(j.n_journeys, -1, dtype=np.int64)
            first_session[j.session_journey[::-1]] = np.arange(n)[::-1]
            for rank, c in enumerate(order.tolist(), start=1):
                s = int(first_session[c])
                size = int(sig.cluster_size[c])
                propose(s, f"frequent: journey #{rank}, {size:,} of {n:,} sessions ({_pct(size, n)})", prio)
                if s not in pinned:
                    pinned.append(s)
                picked += 1
        elif strat.name == "rare":
            reps = np.unique(journey_cluster)
            sizes = sig.cluster_size[reps]
            eligible = reps[sizes >= options.min_support]
            sigs = np.array([j.journey_signatures[c] for c in eligible.tolist()], dtype=object)
            order = eligible[np.lexsort((sigs, sig.cluster_size[eligible]))] if len(eligible) else eligible
            for c in order[: strat.count].tolist():
                members = all_sessions[sig.session_cluster == c]
                s = _best_per_cluster(members, sig.signal, sig.session_cluster)[0]
                size = int(sig.cluster_size[c])
                propose(s, f"rare: {size:,} of {n:,} sessions", prio)
                picked += 1
        elif strat.name == "event":
            wanted = {
                i: v.key for i, v in enumerate(j.vocab) if v.kind == "event" and (strat.arg in ("*", v.key))
            }
            for step_id, name in sorted(wanted.items(), key=lambda kv: kv[1]):
                occ = j.step_ids == step_id
                sessions = _sorted_unique(sig.occ_session[occ])
                for s in _best_per_cluster(sessions, sig.signal, sig.session_cluster)[:cap]:
                    propose(s, f"event {name}", prio)
                    picked += 1
        elif strat.name == "errors":
            sessions = _sorted_unique(sig.occ_session[sig.error_occ])
            for s in _best_per_cluster(sessions, sig.signal, sig.session_cluster)[:cap]:
                propose(s, "errors: " + _describe_error(j, sig, s), prio)
                picked += 1
        elif strat.name == "slow":
            sessions = np.nonzero(sig.slow_ratio > 0)[0].astype(np.int32)
            for s in _best_per_cluster(sessions, sig.slow_ratio, sig.session_cluster)[:cap]:
                o, dur, bound = sig.slow_occ_best[s]
                route = j.routes[int(j.route_ids[o])]
                propose(s, f"slow: {route} {dur:,.0f} ms > p{strat.percentile:g} {bound:,.0f} ms", prio)
                picked += 1
        elif strat.name == "novel" and options.coverage is not None:
            for s, reason in _novel(j, sig, options.coverage, cap):
                propose(s, reason, prio)
                picked += 1
        per_strategy[str(strat)] = picked

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
    stats: dict[str, Any] = {
        "sessions": n,
        "steps": len(j.step_ids),
        "journeys": j.n_journeys,
        "clusters": n_clusters,
        "candidates": len(reasons),
        "selected": len(selected),
        "strategies": per_strategy,
        "routes": len(j.routes),
        "units_covered": len(covered),
    }
    total = _total_units(j)
    if total:
        stats["units_total"] = total
        stats["coverage"] = round(len(covered) / total, 4)
    return Selection(sessions=selected, stats=stats)


def _total_units(j: Journeys) -> int:
    """How many coverage units (see `_session_units`) all sessions hold together, vectorised."""
    if len(j.step_ids) == 0:
        return 0
    http = j.route_ids >= 0
    routes = len(_present(j.route_ids[http].astype(np.int64), len(j.routes)))
    statuses = len(_present(j.route_ids[http].astype(np.int64) * 1000 + j.statuses[http], len(j.routes) * 1000))
    is_event = np.array([v.kind == "event" for v in j.vocab], dtype=bool)
    events = int(np.count_nonzero(np.bincount(j.step_ids, minlength=len(j.vocab))[is_event]))
    _, tcodes = _transition_codes(j)
    transitions = len(_present(tcodes, len(j.vocab) ** 2))
    return routes + statuses + events + transitions


def _describe_error(j: Journeys, sig: _Signals, s: int) -> str:
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
            return f"{route} → {status} (unexpected: {share:.1%} of its calls)"
        return f"{route} → {status}"
    return "error"


def _novel(j: Journeys, sig: _Signals, cov: Coverage, cap: int) -> list[tuple[int, str]]:
    """Sessions with a step, transition or "route → status" the suite does not cover (vectorised:
    a flag per occurrence, then one session per cluster; reasons only for those kept)."""
    if len(j.step_ids) == 0:
        return []
    texts = [v.text for v in j.vocab]
    v = len(texts)
    http = j.route_ids >= 0
    step_new = np.array([t not in cov.steps for t in texts], dtype=bool)
    if cov.route_statuses and j.routes:
        # exact statuses matter for HTTP steps ("POST /cart/{id}/coupon → 409")
        size = len(j.routes) * 1000
        codes = np.where(http, j.route_ids.astype(np.int64) * 1000 + j.statuses, -1)
        new_pair = np.zeros(size, dtype=bool)
        for p in _present(codes, size).tolist():
            new_pair[p] = f"{j.routes[p // 1000]} → {p % 1000}" not in cov.route_statuses
        novel_step = np.where(http, new_pair[np.maximum(codes, 0)], step_new[j.step_ids])
    else:
        novel_step = step_new[j.step_ids]
    # transitions inside a session (not across session boundaries, not a step repeating itself)
    prev, tcodes = _transition_codes(j)
    present = _present(tcodes, v * v)
    new_codes = np.array([c for c in present.tolist() if (texts[c // v], texts[c % v]) not in cov.transitions],
                         dtype=np.int64)  # fmt: skip
    novel_occ = novel_step | ((tcodes >= 0) & np.isin(tcodes, new_codes))
    sessions = _sorted_unique(sig.occ_session[novel_occ])
    out: list[tuple[int, str]] = []
    for s in _best_per_cluster(sessions, sig.signal, sig.session_cluster)[:cap]:
        sl = j.session_slice(s)
        o = sl.start + int(np.argmax(novel_occ[sl]))
        step = int(j.step_ids[o])
        if novel_step[o] and http[o] and cov.route_statuses:
            what = f"{j.routes[int(j.route_ids[o])]} → {int(j.statuses[o])}"
        elif novel_step[o]:
            what = texts[step]
        else:
            what = f"{texts[int(prev[o])]} → {texts[step]}"
        out.append((s, f"novel: covers {what}"))
    return out


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
