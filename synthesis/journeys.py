"""Sessions → journeys: ordered steps with learned route templates, and a signature per journey.

Built for a million sessions: raw steps are interned to ints while sessions stream in (the flat
arrays hold one int and one float per step), route templates are learned once over the distinct
paths, and the templated step of every occurrence is one numpy gather. Equal journeys are found by
hashing each session's step-id bytes; the printable signature is a hash of the steps' text, so it
is stable across runs and machines (ids are not).
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import numpy as np
import numpy.typing as npt
from trodden.synthesis.routes import RouteTemplater
from trodden.synthesis.steps import RawStep, status_class

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
F32 = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class StepInfo:
    """One templated step of the vocabulary."""

    kind: str  # http | page | ui | event | error
    verb: str
    key: str  # route template, page template, target, event name
    cls: str  # status class for http ("2xx", "failed"), "" otherwise

    @property
    def text(self) -> str:
        if self.kind == "http":
            return f"{self.verb} {self.key} {self.cls}"
        if self.kind == "page":
            return f"page {self.key}"
        if self.kind == "ui":
            return f"{self.verb} {self.key}"
        if self.kind == "event":
            return f"event {self.key}"
        return f"error {self.verb}"

    @property
    def route(self) -> str | None:
        return f"{self.verb} {self.key}" if self.kind == "http" else None


def journey_signature(step_texts: Sequence[str]) -> str:
    """Stable signature of a journey: a short hash of its steps' text."""
    return hashlib.blake2b("\n".join(step_texts).encode(), digest_size=8).hexdigest()


def collapse_repeats(step_texts: Sequence[str]) -> list[str]:
    """Consecutive repeats of one step (double clicks, polling) are one journey step."""
    out: list[str] = []
    for s in step_texts:
        if not out or out[-1] != s:
            out.append(s)
    return out


@dataclass
class Journeys:
    """Every session's steps (flat arrays, `offsets` delimit sessions) and its journey."""

    session_ids: list[str]
    offsets: I64  # [S+1] into the per-occurrence arrays
    step_ids: I32  # [N] templated step id of each occurrence
    statuses: I32  # [N] raw HTTP status (0 for non-HTTP steps and failed requests)
    durations: F32  # [N] milliseconds (0 for non-HTTP)
    route_ids: I32  # [N] index into `routes`, -1 when not an HTTP step
    vocab: list[StepInfo]
    routes: list[str]  # "METHOD /template"
    session_journey: I32  # [S]
    journey_signatures: list[str]
    journey_steps: list[tuple[int, ...]]  # collapsed step ids
    journey_counts: I64  # [J] sessions per journey
    templater: RouteTemplater
    step_text_index: dict[str, int] = field(default_factory=dict)

    @property
    def n_sessions(self) -> int:
        return len(self.session_ids)

    @property
    def n_journeys(self) -> int:
        return len(self.journey_signatures)

    def session_slice(self, s: int) -> slice:
        return slice(int(self.offsets[s]), int(self.offsets[s + 1]))

    def journey_texts(self, j: int) -> list[str]:
        return [self.vocab[i].text for i in self.journey_steps[j]]

    def session_of_occurrence(self) -> I32:
        """[N] the session index of every step occurrence."""
        lengths = np.diff(self.offsets)
        return np.repeat(np.arange(self.n_sessions, dtype=np.int32), lengths)


class _Interner(dict[Any, int]):
    """Key → dense int; a key seen first gets the next int (called from C through `map`)."""

    def __init__(self) -> None:
        super().__init__()
        self.order: list[Any] = []

    def __missing__(self, key: Any) -> int:
        i = len(self.order)
        self[key] = i
        self.order.append(key)
        return i


_KEY = itemgetter(0, 1, 2, 3)
_DURATION = itemgetter(4)


class JourneyBuilder:
    """Feed sessions one by one (`add`), then `build()`; memory is a few bytes per step."""

    def __init__(self) -> None:
        self._interner = _Interner()
        self._raw_keys = self._interner.order
        self._flat = array("i")
        self._durations = array("f")
        self._offsets = array("q", [0])
        self.session_ids: list[str] = []

    def add(self, session_id: str, steps: Sequence[RawStep]) -> None:
        # the hot path of a million-session run: every loop here runs in C
        self._flat.extend(map(self._interner.__getitem__, map(_KEY, steps)))
        self._durations.extend(map(_DURATION, steps))
        self._offsets.append(len(self._flat))
        self.session_ids.append(session_id)

    def build(self, templater: RouteTemplater | None = None) -> Journeys:
        flat = np.frombuffer(self._flat, dtype=np.int32) if len(self._flat) else np.zeros(0, np.int32)
        raw_counts = np.bincount(flat, minlength=len(self._raw_keys))
        if templater is None:
            templater = learn_templater(self._raw_keys, raw_counts)
        # raw key -> templated step id / route id / status, with the loops in C (4M+ raw keys at 1M sessions)
        keys = self._raw_keys
        n_raw = len(keys)
        kinds = [k[0] for k in keys]
        verbs = [k[1] for k in keys]
        templated = templater.template_many([k[2] for k in keys], [k[0] in _PATH_KINDS for k in keys])
        class_of: dict[int, str] = {}
        classes = [(class_of.get(k[3]) or class_of.setdefault(k[3], status_class(k[3]))) if k[0] == "http" else ""
                   for k in keys]  # fmt: skip
        vocab_interner = _Interner()
        raw_to_step = np.fromiter(map(vocab_interner.__getitem__, zip(kinds, verbs, templated, classes, strict=True)),
                                  dtype=np.int32, count=n_raw)  # fmt: skip
        vocab = [StepInfo(*vk) for vk in vocab_interner.order]  # type: ignore[arg-type]
        route_interner: dict[str, int] = {}
        vocab_route = np.array([route_interner.setdefault(v.route, len(route_interner)) if v.route else -1
                                for v in vocab] or [-1], dtype=np.int32)  # fmt: skip
        routes = list(route_interner)
        raw_to_route = vocab_route[raw_to_step] if n_raw else np.zeros(0, np.int32)
        raw_status = np.fromiter((k[3] for k in keys), dtype=np.int32, count=n_raw)
        step_ids = raw_to_step[flat] if len(flat) else np.zeros(0, np.int32)
        offsets = np.frombuffer(self._offsets, dtype=np.int64).copy()

        # collapse consecutive repeats inside each session, then group equal sequences
        keep = np.ones(len(step_ids), dtype=bool)
        if len(step_ids):
            keep[1:] = step_ids[1:] != step_ids[:-1]
            keep[offsets[:-1][np.diff(offsets) > 0]] = True  # a session's first step is always kept
        collapsed = step_ids[keep]
        kept_before = np.concatenate([np.zeros(1, np.int64), np.cumsum(keep, dtype=np.int64)])
        collapsed_offsets = kept_before[offsets]
        session_journey, first_session = _group_sequences(collapsed, collapsed_offsets)
        co = collapsed_offsets.tolist()
        journey_steps = [tuple(collapsed[co[s] : co[s + 1]].tolist()) for s in first_session]
        texts = [v.text for v in vocab]
        signatures = [journey_signature([texts[i] for i in steps]) for steps in journey_steps]
        return Journeys(
            session_ids=self.session_ids,
            offsets=offsets,
            step_ids=step_ids.astype(np.int32, copy=False),
            statuses=raw_status[flat] if len(flat) else np.zeros(0, np.int32),
            durations=np.frombuffer(self._durations, dtype=np.float32).copy()
            if len(self._durations)
            else np.zeros(0, np.float32),
            route_ids=raw_to_route[flat] if len(flat) else np.zeros(0, np.int32),
            vocab=vocab,
            routes=routes,
            session_journey=session_journey,
            journey_signatures=signatures,
            journey_steps=journey_steps,
            journey_counts=np.bincount(session_journey, minlength=len(first_session)).astype(np.int64),
            templater=templater,
            step_text_index={t: i for i, t in enumerate(texts)},
        )


_PATH_KINDS = frozenset({"http", "page"})
_P1 = 0x9E3779B97F4A7C15
_P2 = 0xC2B2AE3D27D4EB4F
_M64 = (1 << 64) - 1


def _powers(base: int, n: int) -> npt.NDArray[np.uint64]:
    out = np.empty(max(n, 1), dtype=np.uint64)
    x = 1
    for i in range(max(n, 1)):
        out[i] = x
        x = (x * base) & _M64
    return out


def _group_sequences(
    values: npt.NDArray[np.int32], offsets: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int32], list[int]]:
    """Group equal int sequences (`values[offsets[s]:offsets[s+1]]`): (group of each sequence,
    first sequence of each group), groups numbered in order of first appearance.

    Each sequence is hashed by two independent 64-bit polynomial hashes, vectorised; equal
    128-bit keys are the same sequence (a collision among a million sequences has probability
    about 10^-27)."""
    n = len(offsets) - 1
    lengths = np.diff(offsets)
    h1 = np.zeros(n, dtype=np.uint64)
    h2 = np.zeros(n, dtype=np.uint64)
    nonempty = lengths > 0
    if len(values):
        session_of = np.repeat(np.arange(n), lengths)
        pos = np.arange(len(values), dtype=np.int64) - offsets[:-1][session_of]
        x = values.astype(np.uint64) + np.uint64(1)
        with np.errstate(over="ignore"):
            t1 = x * _powers(_P1, int(lengths.max()))[pos]
            t2 = x * _powers(_P2, int(lengths.max()))[pos]
            h1[nonempty] = np.add.reduceat(t1, offsets[:-1][nonempty])
            h2[nonempty] = np.add.reduceat(t2, offsets[:-1][nonempty])
            h1 ^= lengths.astype(np.uint64) * np.uint64(_P2)
    keys = np.stack([h1, h2], axis=1)
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # number groups by first appearance
    rank = np.empty(len(order), dtype=np.int32)
    rank[order] = np.arange(len(order), dtype=np.int32)
    return rank[inverse.reshape(-1)], first[order].tolist()


def learn_templater(raw_keys: Sequence[tuple[str, str, str, int]], counts: npt.NDArray[np.int64]) -> RouteTemplater:
    """One templater for request paths and page paths (pages and APIs share id shapes)."""
    weights: dict[str, int] = {}
    for (kind, _verb, key, _status), c in zip(raw_keys, counts.tolist(), strict=True):
        if kind in ("http", "page"):
            weights[key] = weights.get(key, 0) + int(c)
    return RouteTemplater.learn(weights)


def build_journeys(
    sessions: Iterable[tuple[str, Sequence[RawStep]]], templater: RouteTemplater | None = None
) -> Journeys:
    """Journeys of `(session_id, raw steps)` pairs (see `trodden.synthesis.steps.raw_steps`)."""
    builder = JourneyBuilder()
    for session_id, steps in sessions:
        builder.add(session_id, steps)
    return builder.build(templater)
