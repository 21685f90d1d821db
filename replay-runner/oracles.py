"""Oracles: a step's recorded expectations and the mined assertions, judged on what was observed.

Everything here is pure: an `Observation` (one HTTP exchange, from an HTTP step, a redirect hop
or a request a page made) goes in, `Failure`s come out. Semantics of each assertion kind and of
`condition` are documented in docs/replay.md; a condition this module cannot evaluate makes the
assertion not apply (an assertion we cannot judge must not raise a false alarm).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from trodden.replay.formats import format_matches, type_matches, type_name
from trodden.replay.pointer import MISSING, resolve, resolve_all, unescape
from trodden.replay.results import Failure

from trodden.models.suite import Assertion, Expectation


@dataclass
class Observation:
    method: str
    url: str
    endpoint: str | None
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: Any  # parsed JSON, text, or MISSING when there was no body
    duration_ms: float
    step_id: str | None = None
    is_json: bool = False
    key: str = ""  # aligns the same exchange across target and baseline runs
    authorized: bool = False  # the request carried an Authorization header (the miner's "user" class)
    body_read: bool = True  # False when a browser could not give the body back: body rules do not apply
    # Timed by a browser (page network or its request context): includes Chromium's queueing and the
    # page's scheduling, so latency gets the wider `browser_latency_slack_ms`.
    in_browser: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JudgeContext:
    """What conditions may depend on besides the response."""

    auth_profile: str | None = None
    latency_factor: float = 1.0
    latency_slack_ms: float = 0.0
    browser_latency_slack_ms: float = 0.0
    status_only: bool = False  # the "status-code-only replay" peer of bench/detection.py


def _show(value: Any) -> Any:
    return "<missing>" if value is MISSING else value


def media_type(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


def status_matches(status: int, spec: Any) -> bool:
    """`spec`: 200, "2xx", "200", or a list of those."""
    if isinstance(spec, list | tuple | set):
        return any(status_matches(status, s) for s in spec)
    if isinstance(spec, bool):
        return False
    if isinstance(spec, int):
        return status == spec
    if isinstance(spec, str):
        text = spec.strip().lower()
        if len(text) == 3 and text.endswith("xx") and text[0].isdigit():
            return status // 100 == int(text[0])
        if text.isdigit():
            return status == int(text)
    return False


# ---------------------------------------------------------------------------------------------
# Recorded step expectations


def check_expectation(expect: Expectation, obs: Observation, *, status_only: bool = False) -> list[Failure]:
    base = {"source": "expectation", "step_id": obs.step_id, "endpoint": obs.endpoint, "url": obs.url}
    failures: list[Failure] = []
    if expect.status is not None and obs.status != expect.status:
        failures.append(Failure(**base, assertion_id="expect:status", kind="status",
                                description="recorded expectation: status", expected=expect.status,
                                actual=obs.status, field="status"))
        return failures  # the body of another status says nothing more about this regression
    if status_only:
        return failures
    for name, value in expect.headers.items():
        actual = obs.headers.get(name.lower())
        same = (media_type(actual) == media_type(value) if name.lower() == "content-type"
                else (actual or "").strip() == value.strip())
        if not same:
            failures.append(Failure(**base, assertion_id=f"expect:header:{name.lower()}", kind="header",
                                    description=f"recorded expectation: header {name}", expected=value,
                                    actual=actual, field=f"header:{name.lower()}"))
    if not (expect.shape or expect.values or expect.formats):
        return failures
    if not obs.is_json:
        failures.append(Failure(**base, assertion_id="expect:json", kind="type",
                                description="recorded expectation: a JSON response body",
                                expected="JSON", actual=_preview(obs.body)))
        return failures
    for pointer, typ in expect.shape.items():
        value = resolve(obs.body, pointer)
        if value is MISSING:
            failures.append(Failure(**base, assertion_id=f"expect:present:{pointer}", kind="present",
                                    description=f"recorded expectation: field {pointer} is present",
                                    expected=f"a {typ}", actual="<missing>", field=pointer))
        elif not type_matches(value, typ):
            failures.append(Failure(**base, assertion_id=f"expect:type:{pointer}", kind="type",
                                    description=f"recorded expectation: type of {pointer}", expected=typ,
                                    actual=f"{type_name(value)}: {_preview(value)}", field=pointer))
    # Values and formats describe fields when they are there (absence is the shape's business) and,
    # for formats, when they are not null: the generator's exported tests read them the same way.
    for pointer, expected in expect.values.items():
        value = resolve(obs.body, pointer)
        if value is MISSING:
            continue
        if not _same_value(value, expected):
            failures.append(Failure(**base, assertion_id=f"expect:value:{pointer}", kind="value",
                                    description=f"recorded expectation: value of {pointer}", expected=expected,
                                    actual=_show(value), field=pointer))
    for pointer, fmt in expect.formats.items():
        value = resolve(obs.body, pointer)
        if value is MISSING or value is None:
            continue
        if not format_matches(value, fmt):
            failures.append(Failure(**base, assertion_id=f"expect:format:{pointer}", kind="format",
                                    description=f"recorded expectation: format of {pointer}", expected=fmt,
                                    actual=_show(value), field=pointer))
    return failures


def _same_value(actual: Any, expected: Any) -> bool:
    if isinstance(actual, bool) or isinstance(expected, bool):
        return actual is expected or (type(actual) is type(expected) and actual == expected)
    return bool(actual == expected)


def _preview(value: Any, limit: int = 200) -> Any:
    if value is MISSING:
        return "<no body>"
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + "…"
    return value


# ---------------------------------------------------------------------------------------------
# Mined assertions on one exchange


def condition_holds(condition: Mapping[str, Any], obs: Observation, ctx: JudgeContext) -> bool:
    for key, want in condition.items():
        if key in ("status", "status_class"):
            if not status_matches(obs.status, want):
                return False
        elif key == "auth":
            # "user"/"anon" are the miner's classes: whether the request carried credentials.
            if want in (True, "user", "authenticated"):
                if not (obs.authorized or ctx.auth_profile is not None):
                    return False
            elif want in (False, None, "anon", "anonymous", "none"):
                if obs.authorized or ctx.auth_profile is not None:
                    return False
            elif ctx.auth_profile != want:
                return False
        elif key == "method":
            if str(want).upper() != obs.method.upper():
                return False
        else:
            return False  # a condition we cannot evaluate: the assertion does not apply
    return True


def _describe(a: Assertion) -> str:
    if a.description:
        return a.description
    where = f"{a.endpoint} {a.field}" if a.field else a.endpoint
    if a.kind in ("followed_by", "preceded_by", "co_occurs"):
        return f"{a.endpoint} {a.kind.replace('_', ' ')} {a.other}"
    detail = ", ".join(f"{k}={v}" for k, v in sorted(a.params.items()))
    return f"{where}: {a.kind}" + (f" ({detail})" if detail else "")


def _fail(a: Assertion, obs: Observation, expected: Any, actual: Any, field: str | None = None) -> Failure:
    return Failure(source="assertion", assertion_id=a.id, kind=a.kind, description=_describe(a),
                   expected=expected, actual=_show(actual), step_id=obs.step_id, endpoint=obs.endpoint,
                   field=field if field is not None else a.field, url=obs.url)


def _status_expected(params: Mapping[str, Any]) -> Any:
    for key in ("values", "statuses", "status", "class", "in"):
        if key in params:
            return params[key]
    return None


def check_assertion(a: Assertion, obs: Observation, ctx: JudgeContext) -> list[Failure]:
    """Failures of one single-exchange assertion on `obs` (which must be on `a.endpoint`)."""
    if ctx.status_only and a.kind != "status":
        return []
    if not condition_holds(a.condition, obs, ctx):
        return []
    p = a.params
    if a.kind == "status":
        spec = _status_expected(p)
        if spec is None:
            return []
        return [] if status_matches(obs.status, spec) else [_fail(a, obs, spec, obs.status, field="status")]
    if a.kind == "latency":
        limit = p.get("max_ms", p.get("p99_ms", p.get("ms")))
        if not isinstance(limit, int | float):
            return []
        slack = ctx.browser_latency_slack_ms if obs.in_browser else ctx.latency_slack_ms
        allowed = float(limit) * ctx.latency_factor + slack
        if obs.duration_ms <= allowed:
            return []
        return [_fail(a, obs, f"≤ {float(limit):.0f} ms", f"{obs.duration_ms:.0f} ms", field="latency")]
    if (a.field or a.kind == "error_shape") and not obs.body_read:
        return []
    if a.kind == "error_shape":
        return _check_error_shape(a, obs)
    if not a.field:
        return []
    if not obs.is_json:
        if a.kind in ("present", "not_null"):
            return [_fail(a, obs, "a JSON body", _preview(obs.body))]
        return []
    failures: list[Failure] = []
    if a.kind == "present":
        return [_fail(a, obs, "present", MISSING, field=p) for p in missing_fields(obs.body, a.field)][:5]
    for pointer, value in resolve_all(obs.body, a.field):
        bad = _field_violation(a, value)
        if bad is not None:
            failures.append(_fail(a, obs, bad, value, field=pointer))
    return failures[:5]  # "every item" rules: five examples say enough


def _field_violation(a: Assertion, value: Any) -> Any:
    """The expected side of the failure when `value` violates `a`, else None."""
    p = a.params
    if a.kind == "not_null":
        return "not null" if value is None else None  # when present: `present` asserts presence
    if value is MISSING:
        return None  # type/format/values/range describe a field when it is there
    if a.kind == "type":
        types = p.get("types") or [p.get("type")]
        types = [t for t in types if isinstance(t, str)]
        if types and not any(type_matches(value, t) for t in types):
            return types[0] if len(types) == 1 else types
        return None
    if a.kind == "format":
        fmt = p.get("format")
        if isinstance(fmt, str) and not format_matches(value, fmt):
            return fmt
        return None
    if a.kind == "value_set":
        values = p.get("values")
        if isinstance(values, list) and not any(_same_value(value, v) for v in values):
            return {"one of": values}
        return None
    if a.kind == "range":
        low, high = p.get("min"), p.get("max")
        if not isinstance(value, int | float) or isinstance(value, bool):
            return {"min": low, "max": high}
        if (isinstance(low, int | float) and value < low) or (isinstance(high, int | float) and value > high):
            return {"min": low, "max": high}
        return None
    return None


def missing_fields(body: Any, pointer: str) -> list[str]:
    """Where `pointer`'s last key is absent from a parent object that exists: presence is judged
    relative to the container, as it was mined (a missing parent is its own finding)."""
    head, _, last = pointer.rpartition("/")
    key = unescape(last)
    return [f"{path}/{last}" for path, parent in resolve_all(body, head)
            if isinstance(parent, dict) and key not in parent]


def _check_error_shape(a: Assertion, obs: Observation) -> list[Failure]:
    """params: "keys" (pointers or top-level names that must be present), "shape"/"types"
    (pointer → type), "values" (pointer → allowed values, e.g. error codes)."""
    p = a.params
    body = obs.body if obs.is_json else MISSING
    missing: list[str] = []
    wrong: dict[str, str] = {}
    keys = p.get("keys") or p.get("fields") or []
    for key in keys if isinstance(keys, list) else []:
        pointer = key if str(key).startswith("/") else f"/{key}"
        if resolve(body, pointer) is MISSING:
            missing.append(pointer)
    shape = p.get("shape") or p.get("types") or {}
    for pointer, typ in shape.items() if isinstance(shape, dict) else []:
        value = resolve(body, pointer)
        if value is MISSING:
            missing.append(pointer)
        elif not type_matches(value, str(typ)):
            wrong[pointer] = type_name(value)
    allowed = p.get("values") or {}
    for pointer, values in allowed.items() if isinstance(allowed, dict) else []:
        value = resolve(body, pointer)
        if value is not MISSING and isinstance(values, list) and not any(_same_value(value, v) for v in values):
            wrong[pointer] = repr(value)
    if not missing and not wrong:
        return []
    actual: Any = body if body is not MISSING else _preview(obs.body)
    return [_fail(a, obs, error_skeleton(keys, shape, allowed), actual,
                  field=", ".join(sorted(set(missing) | set(wrong))))]


def error_skeleton(keys: Any, shape: Any, allowed: Any) -> Any:
    """The expected error body as a document (`{"error": {"code": "<string>"}}`), which reads
    far better next to the actual body than the assertion's parameters do."""
    skeleton: Any = {}
    entries: list[tuple[str, str]] = []
    for key in keys if isinstance(keys, list) else []:
        entries.append((key if str(key).startswith("/") else f"/{key}", "<any>"))
    for pointer, typ in shape.items() if isinstance(shape, dict) else []:
        entries.append((pointer, f"<{typ}>"))
    for pointer, values in allowed.items() if isinstance(allowed, dict) else []:
        entries.append((pointer, f"<one of {values}>"))
    for pointer, placeholder in entries:
        node = skeleton
        parts = [p for p in pointer.split("/")[1:] if p]
        for part in parts[:-1]:
            child = node.get(part) if isinstance(node, dict) else None
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        if parts and (parts[-1] not in node or node[parts[-1]] == "<any>"):
            node[parts[-1]] = placeholder
    return skeleton


# ---------------------------------------------------------------------------------------------
# Temporal rules over the sequence of endpoints a test observed

TEMPORAL = ("followed_by", "preceded_by", "co_occurs")


def check_temporal(
    a: Assertion, observed: Sequence[Observation], recorded_endpoints: Iterable[str], ctx: JudgeContext
) -> list[Failure]:
    """`followed_by`: every `endpoint` is followed later by `other`; `preceded_by`: every
    `endpoint` has `other` earlier; `co_occurs`: both occur in the test, or neither.
    Only judged when the recorded test itself held both endpoints, so a session that ended early
    never raises an alarm."""
    if ctx.status_only or a.kind not in TEMPORAL or not a.other:
        return []
    recorded = set(recorded_endpoints)
    if a.endpoint not in recorded or a.other not in recorded:
        return []
    sequence = [o.endpoint for o in observed]
    for index, obs in enumerate(observed):
        if obs.endpoint != a.endpoint or not condition_holds(a.condition, obs, ctx):
            continue
        if a.kind == "followed_by":
            ok = a.other in sequence[index + 1 :]
        elif a.kind == "preceded_by":
            ok = a.other in sequence[:index]
        else:
            ok = a.other in sequence
        if not ok:
            seen = [e for e in sequence if e][:12]
            expected = {"followed_by": f"{a.endpoint} then {a.other}", "preceded_by": f"{a.other} then {a.endpoint}",
                        "co_occurs": f"{a.endpoint} with {a.other}"}[a.kind]
            return [_fail(a, obs, expected, " → ".join(seen), field="sequence")]
    if a.kind == "co_occurs" and a.endpoint not in sequence:  # symmetric: `other` alone fails too
        other = next((o for o in observed if o.endpoint == a.other), None)
        if other is not None and condition_holds(a.condition, other, ctx):
            seen = [e for e in sequence if e][:12]
            return [_fail(a, other, f"{a.endpoint} with {a.other}", " → ".join(seen), field="sequence")]
    return []


def index_assertions(assertions: Iterable[Assertion]) -> tuple[dict[str, list[Assertion]], list[Assertion]]:
    """(single-exchange assertions by endpoint, temporal assertions)."""
    by_endpoint: dict[str, list[Assertion]] = {}
    temporal: list[Assertion] = []
    for a in assertions:
        if a.kind in TEMPORAL:
            temporal.append(a)
        else:
            by_endpoint.setdefault(a.endpoint, []).append(a)
    return by_endpoint, temporal
