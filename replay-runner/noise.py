"""Diffy's rule, per field: a difference between target and baseline counts only if the two
baseline replays agree on that field. Time, randomness and generated ids differ between two
replays of the same version, so they never raise alarms; a field that is stable on the baseline
and different on the target is a regression.

One more case the plain rule misses: a noisy field whose *type* changed (an id that became null)
is still a regression when both baseline replays agree on the type.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from trodden.assertions import Observation
from trodden.assertions.observation import media_type
from trodden.assertions.pointer import MISSING, flatten, resolve
from trodden.assertions.values import detect_format, type_name
from trodden.replay.pages import CONSOLE_TEXTS, PAGE_METHOD
from trodden.replay.pages import fingerprint as page_fields
from trodden.replay.pages import structure as page_structure
from trodden.replay.results import Failure

MAX_DIFFS_PER_EXCHANGE = 10


def own_origin(value: Any, origin: str, netloc: str) -> Any:
    """A string leaf with the side's own origin (and host:port) replaced by a placeholder: a
    service that echoes its own URL (`"url": "http://host:port/v1/"`) differs between target and
    baseline by deployment, not by version."""
    if not isinstance(value, str) or not netloc or netloc not in value.lower():
        return value
    return _NETLOC.sub("{host}", _ORIGIN.sub("{origin}", value, origin), netloc)


class _Replacer:
    """Case-insensitive literal replacement with a per-call pattern (cached: an exchange has many leaves)."""

    def __init__(self) -> None:
        self.cache: dict[str, re.Pattern[str]] = {}

    def sub(self, placeholder: str, value: str, literal: str) -> str:
        pattern = self.cache.get(literal)
        if pattern is None:
            pattern = self.cache[literal] = re.compile(re.escape(literal), re.I)
        return pattern.sub(placeholder, value)


_ORIGIN = _Replacer()
# A page's console error count, compared one way: more errors than both baselines logged is a
# finding, fewer is not (kinto-admin's baselines both logged a failed heartbeat a control did not).
CONSOLE_ERRORS = "console errors"
_NETLOC = _Replacer()


def fingerprint(obs: Observation, *, page_data: bool = True) -> dict[str, Any]:
    """The comparable fields of one exchange: status, content type, every JSON leaf (the side's own
    origin in string leaves normalised, see `own_origin`); of a page after a browser step, the
    status of the document it loaded and its outline's fields."""
    if obs.method == PAGE_METHOD and isinstance(obs.body, dict):
        shown = page_fields(obs.body)
        return {
            "status": obs.status,
            CONSOLE_ERRORS: obs.body.get("console_errors", 0),
            **(shown if page_data else page_structure(shown)),
        }
    fields: dict[str, Any] = {"status": obs.status, "header:content-type": media_type(obs.headers.get("content-type"))}
    if obs.is_json:
        parts = urlsplit(obs.url)
        netloc = parts.netloc.lower()
        origin = f"{parts.scheme.lower()}://{netloc}"
        leaves = flatten(obs.body)
        for pointer in [p for p in leaves if p.endswith("/#len")]:
            _as_set(obs.body, pointer.removesuffix("/#len"), leaves)
        for pointer, value in leaves.items():
            if isinstance(value, list):
                fields["body:" + pointer] = [_token_list(own_origin(v, origin, netloc)) for v in value]
            else:
                fields["body:" + pointer] = _token_list(own_origin(value, origin, netloc))
    return fields


def _as_set(body: Any, pointer: str, leaves: dict[str, Any]) -> None:
    """A list of plain values is compared as a set (`/principals/*`: its values sorted), not by
    position: such lists are often sets serialised in a hash order that differs between processes
    (Kinto's principals, a Go map's keys), so the target, a process of its own, lists them in
    another order than the baseline's two passes. Lists of objects keep their order (a sort that
    broke is a regression)."""
    items = resolve(body, pointer)
    if not isinstance(items, list) or any(isinstance(v, dict | list) for v in items):
        return
    for i in range(len(items)):
        leaves.pop(f"{pointer}/{i}", None)
    leaves[f"{pointer}/*"] = sorted(items, key=lambda v: (type_name(v), str(v)))


_TOKEN_LIST = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+(?:[ \t]*,[ \t]*[!#$%&'*+.^_`|~0-9A-Za-z-]+)+")


def _token_list(value: Any) -> Any:
    """A comma-separated list of tokens (an HTTP list header's value echoed in a body, such as
    `"Retry-After, Backoff, Content-Type"`), its tokens sorted: the order of such lists carries no
    meaning (RFC 9110 5.6.1) and, built from a set, differs between processes."""
    if isinstance(value, str) and "," in value and _TOKEN_LIST.fullmatch(value):
        return ", ".join(sorted(t.strip() for t in value.split(",")))
    return value


def _shallowest_missing(body: Any, pointer: str) -> str:
    """For a leaf missing on the target, the highest ancestor that is missing too, so a vanished
    object is one finding instead of one per leaf."""
    parts = pointer.split("/")
    for end in range(2, len(parts) + 1):
        candidate = "/".join(parts[:end])
        if resolve(body, candidate) is MISSING:
            return candidate
    return pointer


def diff_exchange(
    target: Observation, base1: Observation, base2: Observation, *, page_data: bool = True
) -> list[Failure]:
    t, b1, b2 = (fingerprint(o, page_data=page_data) for o in (target, base1, base2))
    failures: list[Failure] = []
    reported: set[str] = set()
    for name in sorted(set(b1) | set(t), key=lambda n: (n != "status", n)):
        tv, v1, v2 = t.get(name, MISSING), b1.get(name, MISSING), b2.get(name, MISSING)
        if name.endswith("/#len") and "status" in reported:
            continue
        stable = _same(v1, v2) and not (_clock(v1) and _clock(tv))
        if stable and (_same(tv, v1) or v1 is MISSING):
            continue  # equal, or a field only the target has (additive changes are compatible)
        if name == CONSOLE_ERRORS and isinstance(tv, int) and isinstance(v1, int) and tv < v1:
            continue  # errors the baseline logs and the target no longer does: nothing broke
        if not stable and target.method == PAGE_METHOD:
            continue  # what a page shows that varies between baseline replays is state: noise
        if not stable:
            # Noise, unless the type moved while both baselines agree on theirs.
            if v1 is MISSING or v2 is MISSING or type_name(v1) != type_name(v2):
                continue
            if tv is not MISSING and type_name(tv) == type_name(v1):
                continue
            expected: Any = f"a {type_name(v1)} (value varies between baseline replays)"
        else:
            expected = v1
        field = name
        if tv is MISSING and name.startswith("body:") and target.is_json:
            field = "body:" + _shallowest_missing(target.body, name[5:])
        if field in reported or any(field.startswith(r + "/") for r in reported):
            continue
        reported.add(field)
        what = f"the page's {field}" if target.method == PAGE_METHOD else field.removeprefix("body:")
        said = "showed" if target.method == PAGE_METHOD else "answered"
        failures.append(
            Failure(
                source="diff",
                assertion_id=f"diff:{field}",
                kind="diff",
                description=f"{what} differs from the baseline, which {said} the same twice",
                expected=_shown(expected),
                actual=_shown(tv),
                baseline=_shown(v1),
                step_id=target.step_id,
                endpoint=target.endpoint,
                field=field.removeprefix("body:"),
                url=target.url,
                console_errors=_console_texts(target) if name == CONSOLE_ERRORS else [],
            )
        )
        if name == "status":
            break  # another status: the body differences follow from it
    return failures[:MAX_DIFFS_PER_EXCHANGE]


def _console_texts(obs: Observation) -> list[str]:
    texts = obs.body.get(CONSOLE_TEXTS) if isinstance(obs.body, dict) else None
    return [str(t) for t in texts] if isinstance(texts, list) else []


def _clock(value: Any) -> bool:
    """A timestamp: epoch milliseconds (an integer from 2001 to 2286, or an ETag made of one), an
    HTTP date or an ISO date-time. Its value
    is when the request ran; baseline replays that run at the same moment (side by side) may agree
    on it by chance, so it is judged by its type only, like any value that varies."""
    if isinstance(value, int) and not isinstance(value, bool):
        return 10**12 <= value < 10**13
    if not isinstance(value, str):
        return False
    bare = value.removeprefix("W/").strip('"')  # an ETag made of the time: "1796519523247"
    return (
        (len(bare) == 13 and bare.isdigit() and bare[0] == "1")
        or _HTTP_DATE.fullmatch(value) is not None
        or detect_format(value) == "datetime"
    )


_HTTP_DATE = re.compile(r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT")  # Last-Modified, Date


def _same(a: Any, b: Any) -> bool:
    if a is MISSING or b is MISSING:
        return a is b
    return type_name(a) == type_name(b) and bool(a == b)


def _shown(value: Any) -> Any:
    return "<missing>" if value is MISSING else value


def diff_run(
    target: Iterable[Observation],
    base1: Mapping[str, Observation],
    base2: Mapping[str, Observation],
    *,
    page_data: bool = True,
) -> list[Failure]:
    """Diff every target exchange that both baseline replays also made (aligned by `key`); pages on
    their structure only unless `page_data` (`trodden.replay.state`)."""
    failures: list[Failure] = []
    for obs in target:
        b1, b2 = base1.get(obs.key), base2.get(obs.key)
        if b1 is not None and b2 is not None:
            failures.extend(diff_exchange(obs, b1, b2, page_data=page_data))
    return failures
