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

from trodden.synthesis.bulk_phase import bulk_phase
from trodden.synthesis.routes import Interner, RouteTemplater
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
    cls: str  # status class for http ("2xx", "failed") and pages whose status is known, "" otherwise

    @property
    def text(self) -> str:
        if self.kind == "http":
            return f"{self.verb} {self.key} {self.cls}"
        if self.kind == "page":
            return f"page {self.key} {self.cls}" if self.cls else f"page {self.key}"
        if self.kind == "ui":
            return f"{self.verb} {self.key}"
        if self.kind == "event":
            return f"event {self.key}"
        return f"error {self.verb}"

    @property
    def route(self) -> str | None:
        """ "METHOD /route" of a request, "PAGE /template" of a page: what coverage, rarity and
        novelty count, and what mined assertions attach to."""
        if self.kind == "page":
            return f"PAGE {self.key}"
        return f"{self.verb} {self.key}" if self.kind == "http" else None


def journey_signature(step_texts: Sequence[str]) -> str:
    """Stable signature of a journey: a short hash of its steps' text."""
    return hashlib.blake2b("\n".join(step_texts).encode(), digest_size=8).hexdigest()


@dataclass
class Journeys:
    """Every session's steps (flat arrays, `offsets` delimit sessions) and its journey."""

    session_ids: list[str]
    offsets: I64  # [S+1] into the per-occurrence arrays
    step_ids: I32  # [N] templated step id of each occurrence
    statuses: I32  # [N] raw HTTP status (0 for non-HTTP steps and failed requests)
    durations: F32  # [N] milliseconds (0 for non-HTTP)
    route_ids: I32  # [N] index into `routes`, -1 when not an HTTP or page step
    vocab: list[StepInfo]
    routes: list[str]  # "METHOD /template", "PAGE /template"
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


_KEY = itemgetter(0, 1, 2, 3)
_DURATION = itemgetter(4)


class JourneyBuilder:
    """Feed sessions one by one (`add`), then `build()`; memory is a few bytes per step."""

    def __init__(self) -> None:
        self._interner = Interner()
        self._raw_keys = self._interner.order
        self._flat = array("i")
        self._durations = array("f")
        self._offsets = array("q", [0])
        self.session_ids: list[str] = []
        # bound once: `add` runs a million times
        self._intern = self._interner.__getitem__
        self._extend_flat = self._flat.extend
        self._extend_durations = self._durations.extend
        self._append_offset = self._offsets.append
        self._append_id = self.session_ids.append

    def add(self, session_id: str, steps: Sequence[RawStep]) -> None:
        # the hot path of a million-session run: every loop here runs in C
        self._extend_flat(map(self._intern, map(_KEY, steps)))
        self._extend_durations(map(_DURATION, steps))
        self._append_offset(len(self._flat))
        self._append_id(session_id)

    def build(self, templater: RouteTemplater | None = None) -> Journeys:
        with bulk_phase():  # see there: no reference cycles, large temporaries
            return self._build(templater)

    def _build(self, templater: RouteTemplater | None) -> Journeys:
        flat = np.frombuffer(self._flat, dtype=np.int32) if len(self._flat) else np.zeros(0, np.int32)
        vocab, raw_to_step, raw_status, templater = _vocabulary(
            self._raw_keys, np.bincount(flat, minlength=len(self._raw_keys)), templater
        )
        route_interner: dict[str, int] = {}
        vocab_route = np.array(
            [route_interner.setdefault(v.route, len(route_interner)) if v.route else -1 for v in vocab] or [-1],
            dtype=np.int32,
        )
        routes = list(route_interner)
        raw_to_route = vocab_route[raw_to_step] if len(raw_to_step) else np.zeros(0, np.int32)
        step_ids = raw_to_step[flat] if len(flat) else np.zeros(0, np.int32)
        offsets = np.frombuffer(self._offsets, dtype=np.int64).copy()

        # collapse consecutive repeats inside each session, then group equal sequences
        keep = np.ones(len(step_ids), dtype=bool)
        if len(step_ids):
            keep[1:] = step_ids[1:] != step_ids[:-1]
            keep[offsets[:-1][np.diff(offsets) > 0]] = True  # a session's first step is always kept
        collapsed = step_ids[keep]
        kept_before = np.zeros(len(keep) + 1, dtype=np.int64)
        np.cumsum(keep, out=kept_before[1:])
        collapsed_offsets = kept_before[offsets]
        del keep, kept_before
        session_journey, journey_steps = _group_sequences(collapsed, collapsed_offsets)
        texts = [v.text for v in vocab]
        signatures = [journey_signature([texts[i] for i in steps]) for steps in journey_steps]
        return Journeys(
            session_ids=self.session_ids,
            offsets=offsets,
            step_ids=step_ids,
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
            journey_counts=np.bincount(session_journey, minlength=len(journey_steps)).astype(np.int64),
            templater=templater,
            step_text_index={t: i for i, t in enumerate(texts)},
        )


_PATH_KINDS = frozenset({"http", "page"})


def _codes(values: Iterable[Any], n: int) -> tuple[I64, list[Any]]:
    """Dense codes of `values` in order of first appearance, and the distinct values."""
    interner = Interner()
    return np.fromiter(map(interner.__getitem__, values), dtype=np.int64, count=n), interner.order


def _vocabulary(
    raw_keys: Sequence[tuple[str, str, str, int]], raw_counts: I64, templater: RouteTemplater | None
) -> tuple[list[StepInfo], I32, I32, RouteTemplater]:
    """The templated steps (vocabulary, numbered by first appearance), the step of each raw key,
    the status of each raw key, and the templater (learned here unless given).

    Columnar: a million sessions bring 1.4 M raw keys (every cart and order id is new), so the
    per-key work is C-level (transposition, interning through `map`, numpy) and Python runs per
    distinct segment, template and step only."""
    n_raw = len(raw_keys)
    if n_raw == 0:
        return [], np.zeros(0, np.int32), np.zeros(0, np.int32), templater or RouteTemplater.learn({})
    kinds, verbs, keys, statuses = zip(*raw_keys, strict=True)
    kind_code, kind_names = _codes(kinds, n_raw)
    verb_code, verb_names = _codes(verbs, n_raw)
    is_path = np.isin(kind_code, [i for i, k in enumerate(kind_names) if k in _PATH_KINDS])
    is_http = kind_code == (kind_names.index("http") if "http" in kind_names else -1)
    status = np.fromiter(statuses, dtype=np.int64, count=n_raw)
    # pages have a status class when the tag saw their document's status (0: unknown, not failed)
    has_class = is_http | ((kind_code == (kind_names.index("page") if "page" in kind_names else -1)) & (status > 0))

    # the key of a step: a path kind's route template (learned over the distinct paths, weighted
    # by how often each was seen), any other kind's key as it is
    key_code = np.empty(n_raw, dtype=np.int64)
    path_rows = np.flatnonzero(is_path)
    all_keys = np.array(keys, dtype=object)
    # (a path seen under two methods or statuses is two rows here, their weights add up in learning)
    paths = all_keys[path_rows].tolist()
    if templater is None:
        templater, path_templates = RouteTemplater.learn_templates(paths, raw_counts[path_rows].tolist())
    else:
        path_templates = [templater.template(p) for p in paths]
    template_code, key_names = _codes(path_templates, len(paths))
    key_code[path_rows] = template_code
    other_rows = np.flatnonzero(~is_path)
    other_code, other_keys = _codes(all_keys[other_rows].tolist(), len(other_rows))
    key_code[other_rows] = other_code + len(key_names)
    key_names = key_names + other_keys
    del all_keys

    # the status class of HTTP steps and of pages with a known status ("" for the others)
    class_code = np.zeros(n_raw, dtype=np.int64)
    class_names = [""]
    if has_class.any():
        http_statuses, status_of = np.unique(status[has_class], return_inverse=True)
        per_status, distinct_classes = _codes((status_class(int(x)) for x in http_statuses), len(http_statuses))
        class_code[has_class] = per_status[status_of.reshape(-1)] + 1
        class_names += distinct_classes

    # a step is (kind, verb, key, class): one int64 code each, numbered by first appearance
    n_v, n_k, n_c = len(verb_names), len(key_names), len(class_names)
    if len(kind_names) * n_v * n_k * n_c >= 1 << 62:
        raise ValueError(f"too many distinct steps to number: {len(kind_names)} kinds x {n_v} verbs x {n_k} keys")
    code = ((kind_code * n_v + verb_code) * n_k + key_code) * n_c + class_code
    _, first, inverse = np.unique(code, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty(len(order), dtype=np.int32)
    rank[order] = np.arange(len(order), dtype=np.int32)
    raw_to_step = rank[inverse.reshape(-1)]
    vocab = [
        StepInfo(kind_names[kind_code[r]], verb_names[verb_code[r]], key_names[key_code[r]], class_names[class_code[r]])
        for r in first[order].tolist()
    ]
    return vocab, raw_to_step, status.astype(np.int32), templater


def _group_sequences(values: I32, offsets: I64) -> tuple[I32, list[tuple[int, ...]]]:
    """Group equal int sequences (`values[offsets[s]:offsets[s+1]]`): (group of each sequence,
    the distinct sequences), groups numbered in order of first appearance.

    Exact and C-level: each sequence is a slice of the values' bytes, interned in a dict through
    `map` (a million sessions: a million short bytes objects, alive one at a time)."""
    n = len(offsets) - 1
    data = values.astype(np.int32, copy=False).tobytes()
    bounds = (offsets * 4).tolist()
    interner = Interner()
    group = np.fromiter(
        map(interner.__getitem__, map(data.__getitem__, map(slice, bounds[:-1], bounds[1:]))), dtype=np.int32, count=n
    )
    distinct = [tuple(np.frombuffer(b, dtype=np.int32).tolist()) for b in interner.order]
    return group, distinct


def build_journeys(
    sessions: Iterable[tuple[str, Sequence[RawStep]]], templater: RouteTemplater | None = None
) -> Journeys:
    """Journeys of `(session_id, raw steps)` pairs (see `trodden.synthesis.steps.raw_steps`)."""
    builder = JourneyBuilder()
    for session_id, steps in sessions:
        builder.add(session_id, steps)
    return builder.build(templater)
