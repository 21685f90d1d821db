"""Route templates learned from the data: `/orders/8123` → `/orders/{id}`.

Two rules, applied in this order:
1. Shape: a segment that looks like an identifier (integer, UUID, hex hash, long random token,
   slug with a numeric id part) is a parameter wherever it appears.
2. Cardinality: at each node of the path trie (a templated prefix), if more than
   `max_literals` distinct literal segments follow it, they are values of a parameter
   (`/users/alice`, `/users/bob`, ... → `/users/{param}`), except the few that carry a large share
   of the traffic at that node (`/users/me` stays literal). Low-cardinality segments stay literal.

Pure and deterministic: the same paths (in any order) give the same templates.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

# One anchored alternation, tried in order; the name of the group that matched is the parameter.
_SHAPES = re.compile(
    r"^(?:"
    r"(?P<id>-?\d+)"
    r"|(?P<uuid>[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12})"
    # hex hashes: 12+ hex digits with at least one digit and one letter
    r"|(?P<hash>(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{12,})"
    # "blue-shirt-123", "123-blue-shirt", "sku_99812": words joined to a number of 2+ digits
    r"|(?P<slug>(?:[A-Za-z][\w.]*[-_])+\d{2,}|\d{2,}(?:[-_][A-Za-z][\w.]*)+)"
    # long opaque tokens: letters and digits mixed, 20+ characters
    r"|(?P<token>(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9_\-=~.]{20,})"
    r")$"
)
_PARAM = re.compile(r"^\{[A-Za-z_][A-Za-z0-9_]*\}$")


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


def split_path(path: str) -> list[str]:
    """Segments of a path (no query, no fragment); "" for the root."""
    if "?" in path:
        path = path.split("?", 1)[0]
    if "#" in path:
        path = path.split("#", 1)[0]
    path = path.strip("/")
    if not path:
        return []
    segs = path.split("/")
    return [s for s in segs if s] if "//" in path else segs


def join_path(segments: Iterable[str]) -> str:
    return "/" + "/".join(segments)


@dataclass
class RouteTemplater:
    """Learned templates. `template(path)` works for paths seen in learning and for new ones."""

    max_literals: int = 50
    keep_share: float = 0.02
    # (templated prefix) -> literal segments that stay literal after it; absent prefix = no rule.
    _param_nodes: dict[tuple[str, ...], frozenset[str]] = field(default_factory=dict)
    _cache: dict[str, str] = field(default_factory=dict)

    @classmethod
    def learn(
        cls, paths: Mapping[str, int] | Iterable[str], *, max_literals: int = 50, keep_share: float = 0.02
    ) -> RouteTemplater:
        """Learn from paths (a mapping path → number of times seen, or an iterable of paths)."""
        weights: Mapping[str, int] = paths if isinstance(paths, Mapping) else Counter(paths)
        self = cls(max_literals=max_literals, keep_share=keep_share)
        # Shape rules first, per distinct path; then the cardinality rule runs over the distinct
        # shapes only (a million /orders/<uuid> paths are one row of weight a million).
        shaped_of: dict[str, tuple[str, ...]] = {}
        shape_weight: Counter[tuple[str, ...]] = Counter()
        for path, weight in weights.items():
            # plain words (most segments) skip the call: this loop sees every distinct path
            shaped = tuple([seg if seg.isalpha() else (segment_param(seg) or seg) for seg in split_path(path)])
            shaped_of[path] = shaped
            shape_weight[shaped] += weight
        rows = [(list(shape), weight) for shape, weight in shape_weight.items()]
        depth = max((len(segs) for segs, _ in rows), default=0)
        for level in range(depth):
            # node (templated prefix) -> literal segment at this level -> weight
            nodes: dict[tuple[str, ...], Counter[str]] = defaultdict(Counter)
            for segs, weight in rows:
                if len(segs) > level and not _PARAM.match(segs[level]):
                    nodes[tuple(segs[:level])][segs[level]] += weight
            for prefix, counts in nodes.items():
                if len(counts) <= self.max_literals:
                    continue
                total = sum(counts.values())
                keep = frozenset(seg for seg, c in counts.items() if c >= self.keep_share * total)
                self._param_nodes[prefix] = keep
            for segs, _ in rows:
                if len(segs) > level and not _PARAM.match(segs[level]):
                    kept = self._param_nodes.get(tuple(segs[:level]))
                    if kept is not None and segs[level] not in kept:
                        segs[level] = "{param}"
        template_of = {shape: join_path(segs) for shape, (segs, _) in zip(shape_weight, rows, strict=True)}
        cache = self._cache
        for path, shaped in shaped_of.items():
            cache[path] = template_of[shaped]
        return self

    def template_many(self, paths: list[str], is_path: list[bool]) -> list[str]:
        """`template(p)` for each p where `is_path`, p itself elsewhere (cache lookups in C)."""
        get = self._cache.get
        cached = list(map(get, paths))
        return [c if c is not None else (self.template(p) if flag else p)
                for p, c, flag in zip(paths, cached, is_path, strict=True)]  # fmt: skip

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
        if len(self._cache) < 2_000_000:
            self._cache[path] = result
        return result
