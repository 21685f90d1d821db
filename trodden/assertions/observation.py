"""What assertions are judged on: one observed HTTP exchange, the context of the test, and the
shape of a "no".

An `Observation` comes from replay (an HTTP step, a redirect hop, a request a page made), from
the exported pytest files (a `requests` response), or from a recording (`Observation.recorded`,
what the generator checks its own suite against). Whoever made it, the assertion kinds read it
the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from trodden.assertions.pointer import MISSING
from trodden.models.events import NetworkRequest


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
    body_read: bool = True  # False when the body is unknown (a browser could not give it back): body rules do not apply
    # Timed by a browser (page network or its request context): includes Chromium's queueing and the
    # page's scheduling, so latency gets the wider `browser_latency_slack_ms`.
    in_browser: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def recorded(cls, request: NetworkRequest, endpoint: str | None, step_id: str | None = None) -> Observation:
        """A recorded request as an observation. A body the recording does not hold (none captured,
        or truncated) is unknown, not empty: rules on bodies do not apply to it, as the miner
        did not count it either."""
        body = request.response_body
        known = body is not None and not request.body_truncated
        return cls(
            method=request.method.upper(),
            url=request.request_url,
            endpoint=endpoint,
            status=request.status,
            headers={k.lower(): v for k, v in request.response_headers.items()},
            body=body if known else MISSING,
            duration_ms=request.duration_ms,
            step_id=step_id,
            is_json=known and not isinstance(body, str),
            authorized=any(k.lower() == "authorization" for k in request.request_headers),
            body_read=known,
        )


@dataclass(frozen=True)
class JudgeContext:
    """What conditions and bounds may depend on besides the response."""

    auth_profile: str | None = None  # the test's auth profile: its requests count as a user's
    latency_factor: float = 1.0
    latency_slack_ms: float = 0.0
    browser_latency_slack_ms: float = 0.0
    status_only: bool = False  # the "status-code-only replay" peer of bench/detection.py


@dataclass(frozen=True)
class Violation:
    """One "no" of an assertion or expectation: what was expected, what was there, where."""

    observation: Observation
    expected: Any
    actual: Any
    field: str | None = None


def show_value(value: Any) -> Any:
    return "<missing>" if value is MISSING else value


def preview(value: Any, limit: int = 200) -> Any:
    if value is MISSING:
        return "<no body>"
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + "…"
    return value


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


def condition_holds(condition: Mapping[str, Any], obs: Observation, ctx: JudgeContext) -> bool:
    """Whether an assertion's `condition` holds for this exchange. A key this function does not
    know makes the assertion not apply: a rule that cannot be judged must not raise an alarm."""
    for key, want in condition.items():
        if key in ("status", "status_class"):
            if not status_matches(obs.status, want):
                return False
        elif key == "auth":
            # "user"/"anon" are the miner's classes: whether the request carried credentials.
            user = obs.authorized or ctx.auth_profile is not None
            if want in (True, "user", "authenticated"):
                if not user:
                    return False
            elif want in (False, None, "anon", "anonymous", "none"):
                if user:
                    return False
            elif ctx.auth_profile != want:
                return False
        elif key == "method":
            if str(want).upper() != obs.method.upper():
                return False
        else:
            return False
    return True
