"""Assertion mining: likely invariants over all sessions of a source, in the manner of Daikon
(per-endpoint properties of responses) and Texada (temporal rules over request sequences).

Per endpoint ("METHOD /route/{template}") the miner counts statuses, timings and, per status,
every JSON field of the responses: presence, nulls, types, string formats, small value sets and
numeric bounds. An invariant is reported only when it held in at least `min_confidence` of at
least `min_support` observations (Daikon's 0.99 default; bounds and temporal rules need 3+);
temporal rules need `temporal_confidence` (1.0 by default). Volatile values (ids, timestamps,
tokens: anything with a recognised format, or a name that says "id") are asserted by format,
never by value. Each assertion carries its support, confidence and a sample of its sessions.

Pure: sessions in (`trodden.models.events.Session`), assertions out. `Miner` is incremental so
a large source can stream through it.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import orjson
from pydantic import BaseModel, ConfigDict, Field
from pydantic.fields import FieldInfo

from trodden.assertions import make_assertion
from trodden.assertions.pointer import nodes
from trodden.assertions.values import detect_format, json_type
from trodden.models.events import NetworkRequest, Session
from trodden.models.suite import Assertion
from trodden.synthesis.routes import RouteTemplater, segment_param
from trodden.synthesis.steps import endpoint_key, is_api_request, session_collector_origins, status_class, url_path

VOLATILE_FORMATS = frozenset({"uuid", "datetime", "date", "hex", "email", "url"})
_ID_NAME = re.compile(r"(^|[_\-.])(id|ids|uuid|guid|key|token|nonce|seq|version|etag|ts)$|[a-z0-9]Id$|_at$|At$", re.I)
_CODE_NAME = re.compile(r"(^|[_\-.])(code|type|kind|reason|error)$", re.I)
_MAX_TRACKED_VALUES = 8
_MAX_ARRAY_ITEMS = 20
_MAX_GROUPS = 200_000
_GENERATED = frozenset({"{uuid}", "{hash}", "{token}"})


def bounds_support(confidence: float) -> int:
    """Observations needed before [min, max] of a sample is kept as a range invariant.

    For n exchangeable observations, the chance that the next one falls outside the sample's
    [min, max] is 2 / (n + 1); a range holds by more than chance at `confidence` only when that is
    at most 1 - confidence (n >= 199 at Daikon's 0.99). Fewer observations of a catalogue's prices
    would otherwise promise bounds the next product breaks.
    """
    return max(1, math.ceil(2 / max(1e-9, 1 - confidence) - 1))


class MiningOptions(BaseModel):
    """The miner's thresholds. Their defaults, bounds and descriptions are also the `trodden
    generate` options' and the TestSuite spec's `mining` fields' (both derive them from here)."""

    model_config = ConfigDict(extra="forbid")

    min_confidence: float = Field(0.99, ge=0.5, le=1.0, description="Share of observations an invariant must hold in.")
    min_support: int = Field(3, ge=1, le=1_000_000, description="Observations an invariant needs.")
    latency_margin: float = Field(1.5, ge=1.0, le=100.0, description="Latency bound = max(p99 × margin, p99 + floor).")
    latency_min_support: int = Field(30, ge=1)  # a p99 from fewer timings is mostly noise
    # the bound is at least p99 + this: scheduling and GC pauses add absolute noise that a margin
    # on a 14 ms endpoint cannot absorb (replaying a 20 ms endpoint in 100 ms is not a regression)
    latency_floor_ms: float = Field(100.0, ge=0.0, description="Latency bound is at least p99 + this many ms.")
    latency_percentile: float = Field(99.0, gt=0.0, lt=100.0)
    # A quantile is only as good as the timings beyond it: the miner uses the highest quantile, up to
    # `latency_percentile`, that leaves this many timings above it (p99 needs 1,000 timings; from 113
    # it is p91). A p99 of 100 timings is their second-slowest, i.e. the recording's noise, and a
    # bound on it let a 300 ms slowdown through on a busy machine.
    latency_tail_support: int = Field(
        10, ge=1, description="Timings the latency quantile must leave above it (p99 from 1,000 timings, p91 from 113)."
    )
    temporal_confidence: float = Field(
        1.0, ge=0.5, le=1.0, description="Share of sessions a temporal rule must hold in."
    )
    max_value_set: int = Field(3, ge=1)
    sample_sessions: int = Field(5, ge=1)


def bounds_of_field(field: FieldInfo) -> dict[str, Any]:
    """A pydantic field's bounds as keyword arguments (`ge`, `le`, `gt`, `lt`)."""
    out: dict[str, Any] = {}
    for constraint in field.metadata:
        for key in ("ge", "le", "gt", "lt"):
            if getattr(constraint, key, None) is not None:
                out[key] = getattr(constraint, key)
    return out


def supported_percentile(n: int, wanted: float, tail: int) -> float:
    """The highest percentile ≤ `wanted` with at least `tail` of `n` timings above it (≥ the median)."""
    return round(max(50.0, min(wanted, 100.0 * (1.0 - tail / max(n, 1)))), 1)


def auth_class(request: NetworkRequest) -> str:
    """ "user" when the request carries credentials (Authorization header), else "anon"."""
    return "user" if any(k.lower() == "authorization" for k in request.request_headers) else "anon"


def assertion_id(kind: str, endpoint: str, fld: str | None, other: str | None, condition: dict[str, Any]) -> str:
    key = orjson.dumps([kind, endpoint, fld, other, condition], option=orjson.OPT_SORT_KEYS)
    return "a-" + hashlib.blake2b(key, digest_size=6).hexdigest()


def _field_name(pointer: str) -> str:
    return pointer.rsplit("/", 1)[-1]


@dataclass
class _Field:
    present: int = 0
    nulls: int = 0
    types: Counter[str] = field(default_factory=Counter)
    formats: Counter[str | None] = field(default_factory=Counter)
    values: dict[tuple[str, Any], int] = field(default_factory=dict)
    overflow: bool = False
    lo: float = float("inf")
    hi: float = float("-inf")

    def observe(self, value: Any) -> None:
        self.present += 1
        if value is None:
            self.nulls += 1
            return
        t = json_type(value)
        self.types[t] += 1
        if t == "string":
            self.formats[detect_format(value)] += 1
        elif t == "number":
            v = float(value)
            self.lo = min(self.lo, v)
            self.hi = max(self.hi, v)
        if t in ("string", "number", "boolean") and not self.overflow:
            key = (t, value)
            if key in self.values:
                self.values[key] += 1
            elif len(self.values) < _MAX_TRACKED_VALUES:
                self.values[key] = 1
            else:
                self.overflow = True


@dataclass
class _Status:
    n: int = 0
    containers: Counter[str] = field(default_factory=Counter)  # pointer -> objects seen there
    fields: dict[str, _Field] = field(default_factory=dict)
    root_types: Counter[str] = field(default_factory=Counter)
    sessions: list[str] = field(default_factory=list)

    def observe(self, body: Any) -> None:
        self.n += 1
        self.root_types[json_type(body)] += 1
        fields = self.fields
        for ptr, node in nodes(body, max_items=_MAX_ARRAY_ITEMS):
            if isinstance(node, dict):
                self.containers[ptr] += 1
            if ptr:
                f = fields.get(ptr)
                if f is None:
                    f = fields[ptr] = _Field()
                f.observe(node)


@dataclass
class _Endpoint:
    n: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    auth: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    durations: list[float] = field(default_factory=list)
    by_status: dict[int, _Status] = field(default_factory=dict)
    sessions: list[str] = field(default_factory=list)


@dataclass
class _Group:
    """Responses to one exact request (same path and non-volatile inputs) with one status."""

    count: int = 0
    sessions: set[str] = field(default_factory=set)  # up to two: "seen in more than one session"
    values: dict[str, Any] = field(default_factory=dict)  # pointer -> value while stable
    unstable: set[str] = field(default_factory=set)


def request_key(request: NetworkRequest) -> str:
    """The inputs of a request that could determine its response, volatile values left out."""
    parts = urlsplit(request.request_url)
    # generated ids (uuids, hashes, tokens) differ per session and deployment: their shape is the
    # input; integer ids and slugs name catalogue entries and stay as they are
    segments = [p if segment_param(p) not in _GENERATED else segment_param(p) for p in parts.path.split("/")]
    inputs: list[tuple[str, Any]] = [("path", "/".join(str(x) for x in segments))]
    inputs.extend(("q:" + k, v) for k, v in sorted(parse_qsl(parts.query)))
    body = request.request_body
    if isinstance(body, dict | list):
        for ptr, node in nodes(body, arrays="index", max_items=None):
            if not isinstance(node, dict | list) and detect_format(node) not in VOLATILE_FORMATS:
                inputs.append(("b:" + ptr, node))
    elif isinstance(body, str):
        inputs.append(("body", body))
    inputs.append(("auth", auth_class(request)))
    return orjson.dumps(sorted(inputs, key=lambda kv: kv[0])).decode()


class Miner:
    """Feed sessions with `add`, read assertions with `assertions()`."""

    def __init__(self, templater: RouteTemplater, options: MiningOptions | None = None) -> None:
        self.templater = templater
        self.options = options or MiningOptions()
        self.endpoints: dict[str, _Endpoint] = defaultdict(_Endpoint)
        self.groups: dict[tuple[str, int, str], _Group] = {}
        # temporal counters over sessions
        self.sessions_with: Counter[str] = Counter()
        self.follow_ok: Counter[tuple[str, str]] = Counter()  # last(A) < last(B)
        self.precede_ok: Counter[tuple[str, str]] = Counter()  # first(A) < first(B)
        self.together: Counter[tuple[str, str]] = Counter()
        self.samples: dict[str, list[str]] = defaultdict(list)
        self.n_sessions = 0

    def endpoint_of(self, request: NetworkRequest, own: frozenset[str] = frozenset()) -> str | None:
        """`METHOD /route` of an API request; None for assets and the collector's own traffic (its
        exact endpoints, on `own`: the origins the session shows to be the collector's)."""
        if not is_api_request(request.method, request.request_url, own):
            return None
        return endpoint_key(request.method, self.templater.template(url_path(request.request_url)))

    def add(self, session: Session) -> None:
        self.n_sessions += 1
        sample = self.options.sample_sessions
        sequence: list[str] = []
        own = session_collector_origins(session.events)
        for ev in session.events:
            if not isinstance(ev, NetworkRequest):
                continue
            endpoint = self.endpoint_of(ev, own)
            if endpoint is None:
                continue
            sequence.append(endpoint)
            ep = self.endpoints[endpoint]
            ep.n += 1
            ep.statuses[ev.status] += 1
            ep.auth[auth_class(ev)][status_class(ev.status)] += 1
            if len(ep.sessions) < sample and session.session_id not in ep.sessions:
                ep.sessions.append(session.session_id)
            if 0 < ev.status < 400:
                ep.durations.append(ev.duration_ms)
            if ev.body_truncated or ev.status == 0:
                continue
            st = ep.by_status.get(ev.status)
            if st is None:
                st = ep.by_status[ev.status] = _Status()
            st.observe(ev.response_body)
            if len(st.sessions) < sample and session.session_id not in st.sessions:
                st.sessions.append(session.session_id)
            self._group(endpoint, ev, session.session_id)
        self._temporal(sequence, session.session_id)

    def _group(self, endpoint: str, ev: NetworkRequest, session_id: str) -> None:
        key = (endpoint, ev.status, request_key(ev))
        g = self.groups.get(key)
        if g is None:
            if len(self.groups) >= _MAX_GROUPS:
                return
            g = self.groups[key] = _Group()
        first = g.count == 0
        g.count += 1
        if len(g.sessions) < 2:
            g.sessions.add(session_id)
        seen: set[str] = set()
        for ptr, node in nodes(ev.response_body, arrays="skip"):
            if isinstance(node, dict | list) or ptr == "" or ptr in g.unstable:
                continue
            seen.add(ptr)
            if first:
                if _is_stable_candidate(ptr, node):
                    g.values[ptr] = node
                else:
                    g.unstable.add(ptr)
            elif ptr not in g.values or g.values[ptr] != node or type(g.values[ptr]) is not type(node):
                g.values.pop(ptr, None)
                g.unstable.add(ptr)
        for ptr in [p for p in g.values if p not in seen]:
            g.values.pop(ptr)
            g.unstable.add(ptr)

    def _temporal(self, sequence: list[str], session_id: str) -> None:
        if not sequence:
            return
        first: dict[str, int] = {}
        last: dict[str, int] = {}
        for i, e in enumerate(sequence):
            first.setdefault(e, i)
            last[e] = i
        names = sorted(first)
        for a in names:
            self.sessions_with[a] += 1
            if len(self.samples[a]) < self.options.sample_sessions:
                self.samples[a].append(session_id)
            for b in names:
                if a == b:
                    continue
                self.together[(a, b)] += 1
                if last[a] < last[b]:
                    self.follow_ok[(a, b)] += 1
                if first[a] < first[b]:
                    self.precede_ok[(a, b)] += 1

    # -- reading the invariants ---------------------------------------------------------------

    def stable_values(self, endpoint: str, status: int, key: str) -> dict[str, Any]:
        """Response values that were the same every time this exact request got this status,
        when seen at least `min_support` times in more than one session (a step's expectation)."""
        g = self.groups.get((endpoint, status, key))
        if g is None or g.count < self.options.min_support or len(g.sessions) < 2:
            return {}
        return dict(g.values)

    def assertions(self) -> list[Assertion]:
        out: list[Assertion] = []
        for endpoint in sorted(self.endpoints):
            out.extend(self._endpoint_assertions(endpoint, self.endpoints[endpoint]))
        out.extend(self._temporal_assertions())
        return out

    def _make(
        self,
        kind: str,
        endpoint: str,
        *,
        support: int,
        confidence: float,
        sessions: list[str],
        description: str,
        fld: str | None = None,
        other: str | None = None,
        params: dict[str, Any] | None = None,
        condition: dict[str, Any] | None = None,
    ) -> Assertion:
        condition = condition or {}
        return make_assertion(
            {
                "id": assertion_id(kind, endpoint, fld, other, condition),
                "kind": kind,
                "endpoint": endpoint,
                "field": fld,
                "other": other,
                "params": params or {},
                "condition": condition,
                "support": support,
                "confidence": round(confidence, 4),
                "sessions": sessions[: self.options.sample_sessions],
                "description": description,
            }
        )

    def _endpoint_assertions(self, endpoint: str, ep: _Endpoint) -> list[Assertion]:
        o = self.options
        out: list[Assertion] = []
        if ep.n >= o.min_support:
            classes: Counter[str] = Counter()
            for s, c in ep.statuses.items():
                classes[status_class(s)] += c
            cls, count = classes.most_common(1)[0]
            if count / ep.n >= o.min_confidence:
                out.append(self._status(endpoint, ep, cls, count=count, n=ep.n, cond={}))
            elif len(ep.auth) > 1:
                for auth, counts in sorted(ep.auth.items()):
                    n = sum(counts.values())
                    cls, count = counts.most_common(1)[0]
                    if n >= o.min_support and count / n >= o.min_confidence:
                        out.append(self._status(endpoint, ep, cls, count=count, n=n, cond={"auth": auth}))
        if len(ep.durations) >= max(o.latency_min_support, o.min_support):
            q = supported_percentile(len(ep.durations), o.latency_percentile, o.latency_tail_support)
            pq = float(np.percentile(np.asarray(ep.durations), q))
            bound = round(max(pq * o.latency_margin, pq + o.latency_floor_ms), 1)
            how = (
                f"× {o.latency_margin:g}"
                if pq * o.latency_margin >= pq + o.latency_floor_ms
                else f"+ {o.latency_floor_ms:g} ms"
            )
            out.append(
                self._make(
                    "latency",
                    endpoint,
                    support=len(ep.durations),
                    confidence=0.99,
                    sessions=ep.sessions,
                    params={
                        "max_ms": bound,
                        "percentile": q,
                        "quantile_ms": round(pq, 1),
                        "margin": o.latency_margin,
                        "floor_ms": o.latency_floor_ms,
                    },
                    description=f"{endpoint} answers within {bound:,.0f} ms (p{q:g} {pq:,.0f} ms {how})",
                )
            )
        for status in sorted(ep.by_status):
            st = ep.by_status[status]
            if status >= 400:
                shape = self._error_shape(endpoint, status, st)
                if shape is not None:
                    out.append(shape)
            else:
                out.extend(self._field_assertions(endpoint, status, st))
        return out

    def _status(self, endpoint: str, ep: _Endpoint, cls: str, *, count: int, n: int, cond: dict[str, Any]) -> Assertion:
        statuses = sorted(s for s in ep.statuses if status_class(s) == cls)
        when = f" when the caller is {cond['auth']}" if cond else ""
        return self._make(
            "status",
            endpoint,
            support=n,
            confidence=count / n,
            sessions=ep.sessions,
            params={"class": cls, "observed": statuses},
            condition=cond,
            description=f"{endpoint} answers {cls}{when} ({count:,} of {n:,})",
        )

    def _field_assertions(self, endpoint: str, status: int, st: _Status) -> list[Assertion]:
        o = self.options
        out: list[Assertion] = []
        cond = {"status": status}
        when = f"when status is {status}"
        for ptr in sorted(st.fields):
            f = st.fields[ptr]
            parent = ptr.rsplit("/", 1)[0]
            in_array = ptr.endswith("/*")
            containers = f.present if in_array else st.containers.get(parent, 0)
            if containers < o.min_support:
                continue

            def add(
                kind: str, conf: float, support: int, desc: str, params: dict[str, Any] | None = None, *, ptr: str = ptr
            ) -> None:
                out.append(
                    self._make(
                        kind,
                        endpoint,
                        fld=ptr,
                        support=support,
                        confidence=conf,
                        sessions=st.sessions,
                        params=params,
                        condition=cond,
                        description=f"{endpoint}: {ptr} {desc} {when}",
                    )
                )

            if not in_array and f.present / containers >= o.min_confidence:
                add("present", f.present / containers, containers, "is present")
            nonnull = f.present - f.nulls
            if f.present >= o.min_support and nonnull / f.present >= o.min_confidence:
                add("not_null", nonnull / f.present, f.present, "is never null")
            if nonnull < o.min_support:
                continue
            # a field that is sometimes null: null is one of its allowed values; formats and bounds
            # describe values that are never null
            nullable = f.nulls > 0
            typ, tcount = f.types.most_common(1)[0]
            if tcount / nonnull >= o.min_confidence:
                params: dict[str, Any] = {"type": typ} | ({"types": [typ, "null"]} if nullable else {})
                add("type", tcount / nonnull, nonnull, f"is a {typ}" + (" or null" if nullable else ""), params)
            else:
                continue
            fmt: str | None = None
            if typ == "string" and not nullable:
                fmt, fcount = f.formats.most_common(1)[0]
                if fmt is not None and fcount / nonnull >= o.min_confidence:
                    add("format", fcount / nonnull, nonnull, f"is a {fmt}", {"format": fmt})
                else:
                    fmt = None
            volatile = fmt in VOLATILE_FORMATS or _ID_NAME.search(_field_name(ptr)) is not None
            k = len(f.values)
            if (
                typ in ("string", "number")
                and not f.overflow
                and 0 < k <= o.max_value_set
                and not volatile
                and nonnull >= max(o.min_support, 5 * k)
                and min(f.values.values()) >= 2
            ):
                values: list[Any] = sorted((v for _, v in f.values), key=lambda v: (str(type(v)), v))
                if nullable:
                    values.append(None)
                add("value_set", 1.0, nonnull, f"is one of {values}", {"values": values})
            elif (
                typ == "number"
                and not volatile
                and not nullable
                and f.hi < 1e9
                and (f.overflow or k > o.max_value_set)
                and nonnull >= bounds_support(o.min_confidence)
            ):
                lo = int(f.lo) if f.lo.is_integer() else f.lo
                hi = int(f.hi) if f.hi.is_integer() else f.hi
                add("range", 1.0, nonnull, f"is within [{lo}, {hi}]", {"min": lo, "max": hi})
        return out

    def _error_shape(self, endpoint: str, status: int, st: _Status) -> Assertion | None:
        o = self.options
        if st.n < o.min_support:
            return None
        root, rcount = st.root_types.most_common(1)[0]
        if rcount != st.n or root != "object":
            return None  # only JSON objects have a structure worth promising
        shape: dict[str, str] = {}
        values: dict[str, list[Any]] = {}
        for ptr, f in sorted(st.fields.items()):
            if "/*" in ptr:
                continue
            parent = ptr.rsplit("/", 1)[0]
            if st.containers.get(parent, 0) != st.n or f.present != st.n or f.nulls:
                continue
            typ, tcount = f.types.most_common(1)[0]
            if tcount != f.present:
                continue
            shape[ptr] = typ
            if len(f.values) == 1 and not f.overflow and _CODE_NAME.search(_field_name(ptr)):
                values[ptr] = [next(iter(f.values))[1]]
        codes = {p: v[0] for p, v in values.items()}
        return self._make(
            "error_shape",
            endpoint,
            support=st.n,
            confidence=1.0,
            sessions=st.sessions,
            params={"keys": sorted(shape), "shape": shape, "values": values},
            condition={"status": status},
            description=f"{endpoint} {status} errors have the shape {sorted(shape)}"
            + (f" with {codes}" if codes else ""),
        )

    def _temporal_assertions(self) -> list[Assertion]:
        o = self.options
        out: list[Assertion] = []
        related: set[frozenset[str]] = set()
        for a, b in sorted(self.together):
            n_a = self.sessions_with[a]
            n_b = self.sessions_with[b]
            if n_a >= o.min_support and self.follow_ok[(a, b)] / n_a >= o.temporal_confidence:
                out.append(
                    self._make(
                        "followed_by",
                        a,
                        other=b,
                        support=n_a,
                        confidence=self.follow_ok[(a, b)] / n_a,
                        sessions=self.samples[a],
                        description=f"{a} is always followed by {b}",
                    )
                )
                related.add(frozenset((a, b)))
            # "b is always preceded by a": in every session with b, a came first
            if n_b >= o.min_support and self.precede_ok[(a, b)] / n_b >= o.temporal_confidence:
                out.append(
                    self._make(
                        "preceded_by",
                        b,
                        other=a,
                        support=n_b,
                        confidence=self.precede_ok[(a, b)] / n_b,
                        sessions=self.samples[b],
                        description=f"{b} is always preceded by {a}",
                    )
                )
                related.add(frozenset((a, b)))
        for (a, b), together in sorted(self.together.items()):
            if a < b and frozenset((a, b)) not in related:
                n_a, n_b = self.sessions_with[a], self.sessions_with[b]
                if together >= o.min_support and min(together / n_a, together / n_b) >= o.temporal_confidence:
                    out.append(
                        self._make(
                            "co_occurs",
                            a,
                            other=b,
                            support=together,
                            confidence=min(together / n_a, together / n_b),
                            sessions=self.samples[a],
                            description=f"{a} and {b} always occur in the same sessions",
                        )
                    )
        return out


def _is_stable_candidate(ptr: str, value: Any) -> bool:
    """Values worth pinning in a step's expectation: scalars that are not volatile by format or name."""
    if isinstance(value, dict | list):
        return False
    if isinstance(value, str) and detect_format(value) in VOLATILE_FORMATS:
        return False
    return _ID_NAME.search(_field_name(ptr)) is None


def learn_templater_from_sessions(sessions: Iterable[Session]) -> RouteTemplater:
    counts: Counter[str] = Counter()
    for s in sessions:
        for ev in s.events:
            if isinstance(ev, NetworkRequest):
                counts[url_path(ev.request_url)] += 1
    return RouteTemplater.learn(counts)


def mine_assertions(
    sessions: Iterable[Session], options: MiningOptions | None = None, templater: RouteTemplater | None = None
) -> list[Assertion]:
    """Mined invariants of `sessions` (route templates learned from them unless given)."""
    return build_miner(sessions, options, templater).assertions()


def build_miner(
    sessions: Iterable[Session], options: MiningOptions | None = None, templater: RouteTemplater | None = None
) -> Miner:
    if templater is None:
        sessions = list(sessions)
        templater = learn_templater_from_sessions(sessions)
    miner = Miner(templater, options)
    for s in sessions:
        miner.add(s)
    return miner
