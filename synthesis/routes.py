"""Route templates learned from the data: `/orders/8123` → `/orders/{id}`.

Two rules, applied in this order:
1. Shape: a segment that looks like an identifier (integer, UUID, hex hash, long random token,
   slug with a numeric id part) is a parameter wherever it appears.
2. Cardinality: at each node of the path trie (a templated prefix), if more than
   `max_literals` distinct literal segments follow it, they are values of a parameter
   (`/users/alice`, `/users/bob`, ... → `/users/{param}`), except the few that carry a large share
   of the traffic at that node (`/users/me` stays literal). Low-cardinality segments stay literal.
   A long tail is a parameter too, however small the corpus: at least `min_values` distinct
   literals after a node, nearly all of them seen at most `TAIL_WEIGHT` times (`/v1/accounts/eric55.9`,
   `/v1/accounts/ybrown.26`, ... one signup each → `/v1/accounts/{param}`); a segment seen more often
   than that and carrying its share of the node's traffic stays literal.

Pure and deterministic: the same paths (in any order) give the same templates.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

# One anchored alternation, tried in order; the name of the group that matched is the parameter.
_SHAPE_ALTERNATIVES = (
    r"(?P<id>-?\d+)"
    r"|(?P<uuid>[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12})"
    # hex hashes: 12+ hex digits with at least one digit and one letter
    r"|(?P<hash>(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{12,})"
    # "blue-shirt-123", "123-blue-shirt", "sku_99812": words joined to a number of 2+ digits
    r"|(?P<slug>(?:[A-Za-z][\w.]*[-_])+\d{2,}|\d{2,}(?:[-_][A-Za-z][\w.]*)+)"
    # long opaque tokens: letters and digits mixed, 20+ characters
    r"|(?P<token>(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9_\-=~.]{20,})"
)
_SHAPES = re.compile(r"^(?:" + _SHAPE_ALTERNATIVES + r")$")
# The same rules as `segment_param`, in the same order, for a batch of distinct ASCII segments one
# per line (one C-level scan instead of a Python call per segment): plain words and templates
# first, the shapes, then anything else as a literal. (Within ASCII, `isalpha`/`isdigit` and the
# Unicode-aware classes of `_SHAPES` agree; `.` stops at the line break as it stops at the end.)
_SEGMENT_LINES = re.compile(
    r"^(?:(?P<word>[A-Za-z]+)|(?P<template>\{[A-Za-z_][A-Za-z0-9_]*\})|" + _SHAPE_ALTERNATIVES + r"|(?P<literal>.*))$",
    re.MULTILINE,
)
_PARAM_OF_LINE: dict[str | None, str | None] = {
    "word": None,
    "template": None,
    "literal": None,
    "id": "{id}",
    "uuid": "{uuid}",
    "hash": "{hash}",
    "slug": "{slug}",
    "token": "{token}",
}
_CACHE_SIZE = 2_000_000  # paths whose template is remembered
_PARAM = re.compile(r"^\{[A-Za-z_][A-Za-z0-9_]*\}$")
TAIL_WEIGHT = 2  # a literal seen at most this often after its node is in the node's long tail
TAIL_SHARE = 0.75  # a node whose literals are at least this share of tail ones is a parameter


def segment_param(segment: str) -> str | None:
    """The parameter a segment stands for by its shape alone, or None if it looks literal."""
    if segment.isalpha():
        return None  # the common case: a plain word
    if segment.isdigit():
        return "{id}"
    if segment[:1] == "{" and _PARAM.match(segment):
        return segment  # already a template: templating is idempotent
    m = _SHAPES.match(segment)
    return "{" + m.lastgroup + "}" if m is not None and m.lastgroup else None


def _strip(path: str) -> str:
    """A path without its query and fragment. A `#` that is a segment of its own is not a fragment
    but the mark of a page's fragment route (`/#/orders/42`, see `trodden.pages`): it stays."""
    path = path.partition("?")[0]
    index = path.find("#")
    if index >= 0 and not (path[index - 1 : index] in ("/", "") and path[index + 1 : index + 2] in ("/", "")):
        path = path[:index]
    return path


def split_path(path: str) -> list[str]:
    """Segments of a path (no query, no fragment); "" for the root."""
    if "?" in path or "#" in path:
        path = _strip(path)
    path = path.strip("/")
    if not path:
        return []
    segs = path.split("/")
    return [s for s in segs if s] if "//" in path else segs


def join_path(segments: Iterable[str]) -> str:
    return "/" + "/".join(segments)


class Interner(dict[Any, int]):
    """Key → dense int; a key seen first gets the next int (called from C through `map`)."""

    def __init__(self) -> None:
        super().__init__()
        self.order: list[Any] = []

    def __missing__(self, key: Any) -> int:
        i = len(self.order)
        self[key] = i
        self.order.append(key)
        return i


def _shape_segment(seg: str) -> str:
    """One segment after the shape rules, one by one (plain words, most segments, skip the regex)."""
    return seg if seg.isalpha() else (segment_param(seg) or seg)


def _shape_segments(segments: Iterable[str]) -> dict[str, str]:
    """Each distinct non-empty segment → itself or the parameter its shape stands for."""
    plain = list(segments)
    other: list[str] = []
    if not "".join(plain).isascii():
        other = [seg for seg in plain if not seg.isascii()]
        plain = [seg for seg in plain if seg.isascii()]
    shaped = {seg: _shape_segment(seg) for seg in other}
    groups = [m.lastgroup for m in _SEGMENT_LINES.finditer("\n".join(plain))] if plain else []
    if len(groups) != len(plain):  # cannot happen (every line matches once); never guess
        raise AssertionError(f"segment classes: {len(groups)} matches for {len(plain)} segments")
    params = map(_PARAM_OF_LINE.get, groups)
    shaped.update((seg, param or seg) for seg, param in zip(plain, params, strict=True))
    return shaped


def _shape_paths(paths: Sequence[str]) -> tuple[npt.NDArray[np.int64], list[tuple[str, ...]]]:
    """(the shape of each path as an index, the distinct shapes); a shape is a path's segments
    after the shape rules. Bulk string operations in C over all paths: the Python-level work is
    per distinct segment and per distinct shape, not per path."""
    n = len(paths)
    text = "\n".join(paths)
    if n == 0:
        return np.zeros(0, dtype=np.int64), []
    if text.count("\n") != n - 1:
        # a line break inside a path (never from a URL: urlsplit drops them): one by one
        index: dict[tuple[str, ...], int] = {}
        of_path = [index.setdefault(tuple(map(_shape_segment, split_path(p))), len(index)) for p in paths]
        return np.array(of_path, dtype=np.int64), list(index)
    if "?" in text or "#" in text:
        text = "\n".join(map(_strip, paths))  # as split_path cuts them
    # line breaks become segments of their own, so one split gives every segment of every path
    segments = text.replace("\n", "/\n/").split("/")
    distinct = set(segments)
    distinct.discard("")
    distinct.discard("\n")
    shaped = _shape_segments(distinct)
    shaped[""] = ""
    shaped["\n"] = "\n"
    # shaped segments hold neither "/" nor a line break, so this round trip keeps one line per path
    lines = "/".join(map(shaped.__getitem__, segments)).replace("/\n/", "\n").split("\n")
    line_index = Interner()
    of_line = np.fromiter(map(line_index.__getitem__, lines), dtype=np.int64, count=n)
    # ... which is a shape once split (leading, trailing and doubled slashes go)
    shape_index: dict[tuple[str, ...], int] = {}
    line_shape = np.array(
        [shape_index.setdefault(tuple(split_path(line)), len(shape_index)) for line in line_index], dtype=np.int64
    )
    return line_shape[of_line], list(shape_index)


@dataclass
class RouteTemplater:
    """Learned templates. `template(path)` works for paths seen in learning and for new ones."""

    max_literals: int = 50
    keep_share: float = 0.02
    min_values: int = 12  # the long-tail rule needs at least this many distinct literals at a node
    # (templated prefix) -> literal segments that stay literal after it; absent prefix = no rule.
    _param_nodes: dict[tuple[str, ...], frozenset[str]] = field(default_factory=dict)
    _cache: dict[str, str] = field(default_factory=dict)

    @classmethod
    def learn(
        cls, paths: Mapping[str, int] | Iterable[str], *, max_literals: int = 50, keep_share: float = 0.02
    ) -> RouteTemplater:
        """Learn from paths (a mapping path → number of times seen, or an iterable of paths)."""
        weights: Mapping[str, int] = paths if isinstance(paths, Mapping) else Counter(paths)
        paths_seen = list(weights.keys())
        templater, templates = cls.learn_templates(
            paths_seen, list(weights.values()), max_literals=max_literals, keep_share=keep_share
        )
        # the caller templates these paths next (mining: every request of every session)
        templater._cache.update(zip(paths_seen[:_CACHE_SIZE], templates[:_CACHE_SIZE], strict=True))
        return templater

    @classmethod
    def learn_templates(
        cls, paths: Sequence[str], weights: Sequence[int], *, max_literals: int = 50, keep_share: float = 0.02
    ) -> tuple[RouteTemplater, list[str]]:
        """Learn from `paths` seen `weights` times (a path listed twice adds up); also the template
        of each path (what `template(p)` gives), computed in bulk: a million sessions bring over a
        million distinct paths (every cart and order id is new), so no per-path Python runs here."""
        self = cls(max_literals=max_literals, keep_share=keep_share)
        # Shape rules first, over the distinct segments; then the cardinality rule runs over the
        # distinct shapes only (a million /orders/<uuid> paths are one row of weight a million).
        shape_of_path, shapes = _shape_paths(paths)
        shape_weight = np.bincount(shape_of_path, weights=np.asarray(weights, dtype=np.float64), minlength=len(shapes))
        rows = [(list(shape), int(weight)) for shape, weight in zip(shapes, shape_weight.tolist(), strict=True)]
        depth = max((len(segs) for segs, _ in rows), default=0)
        for level in range(depth):
            # node (templated prefix) -> literal segment at this level -> weight
            nodes: dict[tuple[str, ...], Counter[str]] = defaultdict(Counter)
            for segs, weight in rows:
                if len(segs) > level and not _PARAM.match(segs[level]):
                    nodes[tuple(segs[:level])][segs[level]] += weight
            for prefix, counts in nodes.items():
                if not self._is_parameter(counts):
                    continue
                total = sum(counts.values())
                keep = frozenset(seg for seg, c in counts.items() if c >= self.keep_share * total and c > TAIL_WEIGHT)
                self._param_nodes[prefix] = keep
            for segs, _ in rows:
                if len(segs) > level and not _PARAM.match(segs[level]):
                    kept = self._param_nodes.get(tuple(segs[:level]))
                    if kept is not None and segs[level] not in kept:
                        segs[level] = "{param}"
        templates = np.array([join_path(segs) for segs, _ in rows] or [""], dtype=object)
        return self, templates[shape_of_path].tolist() if len(paths) else []

    def _is_parameter(self, counts: Counter[str]) -> bool:
        """Whether the literal segments after a node (with their weights) are values of a parameter."""
        if len(counts) > self.max_literals:
            return True
        tail = sum(1 for c in counts.values() if c <= TAIL_WEIGHT)
        return len(counts) >= self.min_values and tail >= TAIL_SHARE * len(counts)

    def template(self, path: str) -> str:
        cached = self._cache.get(path)
        if cached is not None:
            return cached
        segs: list[str] = []
        for raw in split_path(path):
            seg = segment_param(raw) or raw
            if not _PARAM.match(seg):
                kept = self._param_nodes.get(tuple(segs))
                if kept is not None and seg not in kept:
                    seg = "{param}"
            segs.append(seg)
        result = join_path(segs)
        if len(self._cache) < _CACHE_SIZE:
            self._cache[path] = result
        return result
