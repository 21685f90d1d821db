"""Findings grouped by likely cause, and the ignore rules that silence them.

One planted change shows up many times: a field that became a string fails its recorded type,
the mined `type` assertion and the baseline diff, on every test that reads it, and on the cart
that embeds it too. Nobody reads 358 findings to find 7 causes. A finding's *subject* is where it
was seen: the endpoint (`GET /api/products/{id}`, or `PAGE /checkout` for a page) and the field
(`/price`, array positions as `*`; `status`; `header:etag`; `latency`; a page element such as
`headings`). Findings are grouped in three passes:

1. the same subject is the same group, whatever the oracle that saw it (recorded expectation,
   mined assertion, baseline diff);
2. subjects that share an endpoint, a field name or a page element *and* appear together (the
   tests that show one are mostly the tests that show the other: Jaccard ≥ 0.5) are one group:
   the fields of one object that changed shape, one field changed in two endpoints that embed it;
3. what follows from a cause in the same test (a value that could not be extracted after a
   status changed, a later step that could not be built, a temporal rule broken because the test
   stopped) joins the group of that test's first cause.

Each group counts the tests and findings it explains and names the ignore rules (endpoint + JSON
pointer, or endpoint + header, or a whole endpoint for a status) that would silence it, to copy
into a TestSuite's `spec.ignore` or onto the command line (`--ignore`) when the change is intended.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Sequence

from pydantic import BaseModel, Field

from trodden.models.suite import IgnoreRule
from trodden.replay.results import Failure, TestResult

_INDEX = re.compile(r"/\d+(?=/|$)")
_ID_SEGMENT = re.compile(r"/[^/]*\d[^/]*")  # a page path segment with a digit: a record (`/products/SHIRT-004`)
_FOLLOW_ON_KINDS = frozenset({"extract", "correlation", "unsupported"})
_SEQUENCE_KINDS = frozenset({"followed_by", "preceded_by", "co_occurs"})
TOGETHER = 0.5


def matches(rule: IgnoreRule, failure: Failure) -> bool:
    """Whether `rule` silences `failure` (see `IgnoreRule`)."""
    if rule.endpoint != "*" and rule.endpoint != endpoint_of(failure):
        return False
    if rule.header is not None:
        return (failure.field or "").lower() == f"header:{rule.header.lower()}"
    if not rule.pointer:
        return True
    field = _INDEX.sub("/*", (failure.field or "").removeprefix("body:"))
    pointer = _INDEX.sub("/*", rule.pointer)
    return field == pointer or field.startswith(pointer + "/")


def ignored(failures: Iterable[Failure], rules: Sequence[IgnoreRule]) -> list[Failure]:
    """`failures` without those an ignore rule silences."""
    if not rules:
        return list(failures)
    return [f for f in failures if not any(matches(r, f) for r in rules)]


class FindingGroup(BaseModel):
    """Findings that share a likely cause."""

    id: str  # stable for the same subjects: "g-" + 8 hex digits
    title: str  # the main subject: "GET /api/products/{id} /price"
    tests: int  # tests it explains
    findings: int  # findings it explains
    endpoints: list[str] = Field(default_factory=list)
    fields: list[str] = Field(default_factory=list)
    kinds: dict[str, int] = Field(default_factory=dict)  # assertion kinds that saw it
    example: Failure  # one finding, for expected versus actual
    test_ids: list[str] = Field(default_factory=list)
    ignore: list[IgnoreRule] = Field(default_factory=list)  # the rules that would silence it

    @property
    def ignore_text(self) -> str:
        return "; ".join(f'--ignore "{r}"' for r in self.ignore)


def endpoint_of(failure: Failure) -> str:
    """The finding's endpoint; a page's path with its record segments as `{id}` (one page kind)."""
    if failure.endpoint:
        if failure.endpoint.startswith("PAGE "):
            return "PAGE " + (_ID_SEGMENT.sub("/{id}", failure.endpoint[5:]) or "/")
        return failure.endpoint
    if failure.url:
        from urllib.parse import urlsplit

        return f"PAGE {_ID_SEGMENT.sub('/{id}', urlsplit(failure.url).path) or '/'}"
    return "(test)"


def subject_field(failure: Failure) -> str:
    """Where on the endpoint: a JSON pointer (array positions as `*`), `status`, `header:NAME`,
    `latency`, a page element, or the assertion for findings about a whole test."""
    if failure.kind == "latency":
        return "latency"
    if failure.kind in _SEQUENCE_KINDS:
        return f"sequence:{failure.assertion_id}"
    field = (failure.field or "").removeprefix("body:").split(", ")[0]  # error_shape lists its keys
    if field:
        return _INDEX.sub("/*", field) if field.startswith("/") else field
    if failure.kind == "status" or failure.assertion_id.endswith(":status"):
        return "status"
    return failure.assertion_id


def _leaf(field: str) -> str:
    return field.rstrip("/").rsplit("/", 1)[-1] if field.startswith("/") else field


def _is_follow_on(failure: Failure, *, after_status_change: bool = False, stopped: bool = False) -> bool:
    """A finding that follows from another in the same test: an extraction or a request that could
    not be made, an order of calls broken because the test stopped early, or (after a step whose
    status changed) a baseline difference further on."""
    if after_status_change and failure.source == "diff" and failure.kind == "diff":
        return True
    if failure.kind in _SEQUENCE_KINDS:
        return stopped
    return failure.source == "execution" and failure.kind in _FOLLOW_ON_KINDS


def rule_for(endpoint: str, field: str) -> IgnoreRule:
    if field.startswith("/"):
        return IgnoreRule(endpoint=endpoint, pointer=field)
    if field.startswith("header:"):
        return IgnoreRule(endpoint=endpoint, header=field.split(":", 1)[1])
    return IgnoreRule(endpoint=endpoint)


class _Union:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def group_findings(results: Sequence[TestResult]) -> list[FindingGroup]:
    """The findings of failed (and errored) tests, grouped by likely cause, most tests first."""
    subjects: dict[tuple[str, str], int] = {}
    members: list[list[tuple[str, Failure]]] = []
    follow_ons: list[tuple[str, Failure]] = []
    first_cause: dict[str, int] = {}
    for result in results:
        if result.outcome not in ("failed", "error"):
            continue
        status_changed = False
        stopped = any(f.source == "execution" for f in result.failures)
        for failure in result.failures:
            if _is_follow_on(failure, after_status_change=status_changed, stopped=stopped):
                follow_ons.append((result.test_id, failure))
                continue
            key = (endpoint_of(failure), subject_field(failure))
            index = subjects.setdefault(key, len(subjects))
            if index == len(members):
                members.append([])
            members[index].append((result.test_id, failure))
            first_cause.setdefault(result.test_id, index)
            status_changed = status_changed or subject_field(failure) == "status"
    keys = list(subjects)
    tests = [{t for t, _ in m} for m in members]
    union = _Union(len(keys))
    for a in range(len(keys)):
        for b in range(a + 1, len(keys)):
            (ea, fa), (eb, fb) = keys[a], keys[b]
            shares = ea == eb or (_leaf(fa) == _leaf(fb) and fa not in ("status", "latency"))
            together = len(tests[a] & tests[b]) >= TOGETHER * len(tests[a] | tests[b])
            always = tests[a] == tests[b] and len(tests[a]) >= 2  # never one without the other
            if (shares and together) or always:
                union.join(a, b)
    by_root: dict[int, list[int]] = {}
    for i in range(len(keys)):
        by_root.setdefault(union.find(i), []).append(i)
    root_of_subject = {i: union.find(i) for i in range(len(keys))}
    extra: dict[int, list[tuple[str, Failure]]] = {}
    orphans: dict[tuple[str, str], list[tuple[str, Failure]]] = {}
    for test_id, failure in follow_ons:
        if test_id in first_cause:
            extra.setdefault(root_of_subject[first_cause[test_id]], []).append((test_id, failure))
        else:  # nothing else failed in that test: the follow-on is its own cause
            orphans.setdefault((endpoint_of(failure), subject_field(failure)), []).append((test_id, failure))
    groups = [
        _group([keys[i] for i in idx], [m for i in idx for m in members[i]] + extra.get(root, []))
        for root, idx in by_root.items()
    ]
    groups += [_group([key], found) for key, found in orphans.items()]
    return sorted(groups, key=lambda g: (-g.tests, -g.findings, g.title))


def _group(keys: list[tuple[str, str]], found: list[tuple[str, Failure]]) -> FindingGroup:
    per_key = Counter((endpoint_of(f), subject_field(f)) for _, f in found)
    main = min(keys, key=lambda k: (-per_key[k], k[1] != "status", k))
    endpoints = sorted({e for e, _ in keys})
    fields = sorted({f for _, f in keys})
    test_ids = sorted({t for t, _ in found})
    example = next(f for _, f in found if (endpoint_of(f), subject_field(f)) == main)
    rules = _rules(keys)
    digest = hashlib.blake2b("\n".join(f"{e} {f}" for e, f in sorted(keys)).encode(), digest_size=4).hexdigest()
    title = f"{main[0]} {main[1]}" if main[1] != "status" else f"{main[0]} status"
    return FindingGroup(
        id=f"g-{digest}",
        title=title,
        tests=len(test_ids),
        findings=len(found),
        endpoints=endpoints,
        fields=fields,
        kinds=dict(Counter(f.kind for _, f in found).most_common()),
        example=example,
        test_ids=test_ids,
        ignore=rules,
    )


def _rules(keys: list[tuple[str, str]]) -> list[IgnoreRule]:
    """The fewest rules that silence every subject: a whole endpoint when its status is among them,
    else a pointer per field (a parent's pointer covers its children)."""
    out: list[IgnoreRule] = []
    by_endpoint: dict[str, list[str]] = {}
    for endpoint, field in sorted(keys):
        by_endpoint.setdefault(endpoint, []).append(field)
    for endpoint, fields in by_endpoint.items():
        if endpoint == "(test)":
            continue  # a finding about the whole test (no endpoint): no rule can name it
        if any(not (f.startswith(("/", "header:"))) for f in fields):
            out.append(IgnoreRule(endpoint=endpoint))
            continue
        kept: list[str] = []
        for field in sorted(fields, key=len):
            if not any(field == k or field.startswith(k + "/") for k in kept):
                kept.append(field)
        out.extend(rule_for(endpoint, f) for f in kept)
    return out
