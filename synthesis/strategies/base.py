"""What every selection strategy shares: the `Strategy` base, the signals it reads
(`SelectionContext`), and small vectorised helpers.

A strategy has at most one argument (a count, an event name, a percentile). It is written the same
way wherever it travels: `name:arg` on the command line (`frequent:10`, `slow:p95`), and the field
named by `Argument.spec_field` in a SessionSelector's spec (`{type: slow, percentile: 95}`); the
class turns either into itself and back, so nothing else formats or parses strategies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from trodden.models.suite import SuiteCoverage
from trodden.synthesis.journeys import Journeys


class SelectionError(ValueError):
    """Bad selection options (the CLI turns it into exit code 2)."""


@dataclass(frozen=True)
class Argument:
    """A strategy's one argument, as the CLI spells it and as a SessionSelector spec carries it."""

    spec_field: str  # the spec's field holding it: count, event, percentile
    syntax: str  # for help texts: "K", "NAME", "pNN"
    example: str  # a valid CLI value, for error messages
    spec_hint: str  # what the spec needs, for the API server's refusal: "`percentile` (e.g. 95)"
    required_in_spec: bool = True
    only_in_spec: bool = False  # other strategies may not set the field


@dataclass(frozen=True)
class Setting:
    """A selection setting a strategy reads besides its argument, given once per selection: a flag of
    `trodden select` and a field of the strategy's entry in a SessionSelector's spec, allowed only
    on the strategies that read it (`rare`'s share: `--rare-share 0.05`, `{type: rare, share: 0.05}`)."""

    spec_field: str  # the spec's field: share
    flag: str  # the `trodden select` flag: --rare-share
    description: str  # for the CRD's schema


@dataclass
class Signals:
    """Per-session and per-occurrence facts the strategies rank by (computed once per selection)."""

    session_cluster: npt.NDArray[np.int32]
    cluster_size: npt.NDArray[np.int64]
    occ_session: npt.NDArray[np.int32]
    error_occ: npt.NDArray[np.bool_]
    slow_ratio: npt.NDArray[np.float32]  # [S] max duration / route percentile, 0 when not slow
    slow_occ_best: dict[int, tuple[int, float, float]]  # session -> (occurrence, duration, bound)
    signal: npt.NDArray[np.float64]  # [S]
    unexpected_pairs: dict[tuple[int, int], float]  # (route, status) -> share


@dataclass
class SelectionContext:
    """What a strategy proposes from."""

    journeys: Journeys
    journey_cluster: npt.NDArray[np.int32]  # [J] cluster representative of each journey
    signals: Signals
    cap: int  # no strategy proposes more than the budget (strongest first)
    min_support: int  # a journey seen fewer times is a one-off: `rare` takes it only from a real user's session
    coverage: SuiteCoverage | None  # what the suite covers already (for `novel`)
    rare_share: float = 0.05  # `rare` means followed by fewer than this share of the sessions

    @property
    def n_sessions(self) -> int:
        return self.journeys.n_sessions

    @property
    def frequent_at(self) -> float:
        """Where `frequent` starts and `rare` ends: a journey followed by at least `rare_share` of the
        sessions and by at least `min_support` of them (a one-off is rare even where a small corpus
        makes its share larger: 1 of 14 is 7.1%)."""
        return max(self.rare_share * self.n_sessions, self.min_support)


class Strategy:
    """One way of proposing sessions, each with a reason. Subclasses are frozen dataclasses."""

    name: ClassVar[str]
    argument: ClassVar[Argument | None] = None
    settings: ClassVar[tuple[Setting, ...]] = ()  # selection settings it reads (see `Setting`)
    pins: ClassVar[bool] = False  # its picks are always selected (core flows), before the greedy cover

    @classmethod
    def parse(cls, value: str | None) -> Strategy:
        """From the CLI's argument (`None` when absent); `SelectionError` with the reason if invalid."""
        if value is not None:
            raise SelectionError(f"strategy {cls.name} takes no argument (got {cls.name}:{value!r})")
        return cls()

    @classmethod
    def from_spec(cls, value: Any) -> Strategy:
        """From the value of the spec's `argument.spec_field` (None when absent)."""
        return cls.parse(None if value is None else str(value))

    def arg(self) -> str | None:
        """The argument as the CLI writes it."""
        return None

    def __str__(self) -> str:
        arg = self.arg()
        return self.name if arg is None else f"{self.name}:{arg}"

    @property
    def timing_percentile(self) -> float | None:
        """The percentile of route timings the signals must compute for it, if any."""
        return None

    def propose(self, ctx: SelectionContext) -> list[tuple[int, str]]:
        """(session index, reason), strongest first."""
        raise NotImplementedError


def present(codes: npt.NDArray[np.int64], size: int) -> npt.NDArray[np.int64]:
    """The distinct non-negative codes (< size), by a presence table when it is small enough (O(n)),
    else by sorting."""
    codes = codes[codes >= 0]
    if size <= 50_000_000:
        return np.flatnonzero(np.bincount(codes, minlength=size))
    return np.unique(codes)


def transition_codes(j: Journeys) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(previous step of each occurrence or -1, code prev*V+step of each transition or -1)."""
    n_occ = len(j.step_ids)
    prev = np.empty(n_occ, dtype=np.int64)
    if n_occ:
        prev[0] = -1
        prev[1:] = j.step_ids[:-1]
        prev[j.offsets[:-1][np.diff(j.offsets) > 0]] = -1
    trans = (prev >= 0) & (prev != j.step_ids)
    return prev, np.where(trans, prev * len(j.vocab) + j.step_ids, -1)


def best_per_cluster(
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


STATUS_CODES = 1000  # statuses are 0..999 (0: no response)


def route_status_codes(route_ids: npt.NDArray[Any], statuses: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
    """One integer per (route, exact status) pair: `route * 1000 + status` (below
    `len(routes) * STATUS_CODES`); `divmod(code, STATUS_CODES)` reads it back."""
    codes: npt.NDArray[np.int64] = route_ids.astype(np.int64) * STATUS_CODES + statuses
    return codes


def route_status(route: str, status: int) -> str:
    """A (route, exact status) coverage unit as text: "POST /cart/{id}/coupon → 409"."""
    return f"{route} → {status}"


def pct(part: int, whole: int) -> str:
    return f"{100.0 * part / max(whole, 1):.1f}%"


@dataclass(frozen=True)
class Counted(Strategy):
    """A strategy that takes its K best: `name:K` (10 when absent)."""

    count: int = 10

    argument: ClassVar[Argument | None] = Argument("count", "K", "10", "`count`")

    @classmethod
    def parse(cls, value: str | None) -> Strategy:
        value = "10" if value is None else value
        if not value.isdigit() or int(value) < 1:
            raise SelectionError(f"strategy {cls.name} needs a positive count, as in {cls.name}:10 (got {value!r})")
        return cls(int(value))

    def arg(self) -> str | None:
        return str(self.count)
