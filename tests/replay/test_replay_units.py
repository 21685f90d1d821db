"""Pure parts of replay: pointers, formats, templates, routes, shards, oracles, Diffy, flakiness."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trodden.assertions import JudgeContext, Observation, make_assertion
from trodden.assertions.pointer import MISSING, flatten, resolve, resolve_all
from trodden.assertions.templates import MissingVariable, origin_of, render_url, render_value
from trodden.assertions.values import format_matches, type_matches
from trodden.models.suite import Assertion, Expectation
from trodden.replay.flaky import likely_cause, outcome_of
from trodden.replay.noise import diff_exchange
from trodden.replay.options import OptionError, parse_shard
from trodden.replay.oracles import check_assertion, check_expectation, check_temporal
from trodden.replay.results import Attempt, Failure, StepRecord
from trodden.replay.routes import RouteTable

CTX = JudgeContext()


def obs(
    body: Any = None,
    status: int = 200,
    *,
    endpoint: str = "GET /x",
    duration_ms: float = 5.0,
    step_id: str = "s1",
    key: str = "s1#0",
) -> Observation:
    return Observation(
        method=endpoint.split(maxsplit=1)[0],
        url="http://t/x",
        endpoint=endpoint,
        status=status,
        headers={"content-type": "application/json"},
        body=MISSING if body is None else body,
        duration_ms=duration_ms,
        step_id=step_id,
        is_json=body is not None,
        key=key,
    )


def assertion(kind: str, endpoint: str = "GET /x", **kw: Any) -> Assertion:
    return make_assertion(
        {"id": f"a-{kind}", "kind": kind, "endpoint": endpoint, "support": 10, "confidence": 1.0, **kw}
    )


# --- pointers -----------------------------------------------------------------------------------


def test_pointer_resolves_and_escapes() -> None:
    doc = {"a/b": {"~c": [1, {"d": None}]}}
    assert resolve(doc, "/a~1b/~0c/1/d") is None
    assert resolve(doc, "/a~1b/~0c/5") is MISSING
    assert resolve(doc, "/nope") is MISSING
    assert resolve(doc, "") == doc
    assert [v for _, v in resolve_all({"items": [{"p": 1}, {}]}, "/items/*/p")] == [1, MISSING]


json_leaf = st.none() | st.booleans() | st.integers() | st.text(max_size=5)
json_doc = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=20,
)


@given(json_doc)
def test_flatten_leaves_resolve_back(doc: Any) -> None:
    for pointer, value in flatten(doc).items():
        if not pointer.endswith("/#len"):
            assert resolve(doc, pointer) == value


# --- formats and types ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "fmt", "ok"),
    [
        ("0f8fad5b-d9cb-469f-a165-70867728950e", "uuid", True),
        ("0f8fad5b", "uuid", False),
        ("a@b.io", "email", True),
        ("a@b", "email", False),
        ("https://x.io/p", "url", True),
        ("/orders/1", "url", True),
        ("x", "url", False),
        ("2026-01-02", "date", True),
        ("2026-13-02", "date", False),
        ("2026-01-02T03:04:05Z", "datetime", True),
        ("2026-01-02", "datetime", False),
        ("12.50", "numeric", True),
        (12.5, "numeric", True),
        ("12,5", "numeric", False),
        (None, "uuid", False),
    ],
)
def test_formats(value: Any, fmt: str, ok: bool) -> None:
    assert format_matches(value, fmt) is ok


def test_types() -> None:
    assert type_matches(3, "number") and type_matches(3, "integer") and not type_matches(3.5, "integer")
    assert not type_matches(True, "integer") and type_matches("x", "str") and type_matches(None, "null")


# --- templates, origins, routes, shards ----------------------------------------------------------


def test_templates_fill_and_keep_types() -> None:
    assert render_value({"id": "{{n}}", "q": "x-{{n}}", "l": ["{{n}}"]}, {"n": 7}) == {"id": 7, "q": "x-7", "l": [7]}
    with pytest.raises(MissingVariable):
        render_value("{{nope}}", {})


def test_recorded_origin_is_rewritten_to_the_target() -> None:
    target = "http://127.0.0.1:9000"
    assert render_url("https://shop.io/a?b=1", {}, target, "https://shop.io") == f"{target}/a?b=1"
    assert render_url("{{origin}}/o/{{id}}", {"id": 3}, target, None) == f"{target}/o/3"
    assert render_url("/rel", {}, target + "/", None) == f"{target}/rel"
    # a look-alike host is not the recorded origin
    assert render_url("https://shop.io.evil.com/a", {}, target, "https://shop.io") == "https://shop.io.evil.com/a"
    assert origin_of("HTTPS://Shop.IO:443/x") == origin_of("https://shop.io") == "https://shop.io"


def test_routes_prefer_literal_segments() -> None:
    table = RouteTable(["GET /orders/{id}", "GET /orders/mine", "POST /orders", "GET /p/{a}/{b}"])
    assert table.match("GET", "http://h/orders/mine") == "GET /orders/mine"
    assert table.match("GET", "http://h/orders/42?x=1") == "GET /orders/{id}"
    assert table.match("POST", "/orders") == "POST /orders"
    assert table.match("DELETE", "/orders/1") is None
    assert table.match("GET", "/p/1/2") == "GET /p/{a}/{b}"


@given(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=40, unique=True), st.integers(1, 6))
def test_shards_partition_the_tests(ids: list[str], n: int) -> None:
    owners = [[i for i in range(n) if parse_shard(f"{i}/{n}").owns(t)] for t in ids]
    assert all(len(o) == 1 for o in owners)


@pytest.mark.parametrize("bad", ["3/3", "1", "a/b", "-1/2", "0/0"])
def test_bad_shards_are_refused(bad: str) -> None:
    with pytest.raises(OptionError):
        parse_shard(bad)


# --- recorded expectations -----------------------------------------------------------------------


def test_expectations() -> None:
    expect = Expectation(
        status=200,
        shape={"/price": "number", "/gone": "string"},
        values={"/name": "Book"},
        formats={"/id": "uuid"},
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    failures = check_expectation(expect, obs({"price": "1", "name": "Book", "id": "nope"}))
    assert {f.assertion_id for f in failures} == {"expect:type:/price", "expect:present:/gone", "expect:format:/id"}
    # a status change is the whole story: no body findings on top of it
    only_status = check_expectation(expect, obs({"x": 1}, status=500))
    assert [f.assertion_id for f in only_status] == ["expect:status"]
    assert only_status[0].description == "recorded expectation: status"
    assert check_expectation(Expectation(values={"/ok": True}), obs({"ok": 1}))  # 1 is not true
    # absent or null: values and formats say nothing (the shape, and not_null, do)
    assert check_expectation(Expectation(values={"/a": 1}, formats={"/b": "uuid"}), obs({"b": None})) == []


# --- mined assertions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "body", "status", "fails"),
    [
        (assertion("status", params={"class": "2xx"}), {}, 201, False),
        (assertion("status", params={"class": "2xx"}), {}, 500, True),
        (assertion("status", params={"values": [200, 404]}), {}, 404, False),
        (assertion("present", field="/u/email"), {"u": {"email": None}}, 200, False),
        (assertion("present", field="/u/email"), {"u": {}}, 200, True),
        (assertion("present", field="/u/email"), {}, 200, False),  # no parent: the parent's own finding
        (assertion("present", field="/items/*/id"), {"items": [{"id": 1}, {}]}, 200, True),
        (assertion("not_null", field="/u/email"), {"u": {}}, 200, False),  # absent is `present`'s business
        (assertion("not_null", field="/u/email"), {"u": {"email": None}}, 200, True),
        (assertion("type", field="/p", params={"type": "number"}), {"p": "1"}, 200, True),
        (assertion("type", field="/p", params={"type": "number"}), {}, 200, False),  # absent: not judged by type
        (assertion("format", field="/d", params={"format": "date"}), {"d": "2026-01-01"}, 200, False),
        (assertion("value_set", field="/s", params={"values": ["a", "b"]}), {"s": "c"}, 200, True),
        (assertion("range", field="/n", params={"min": 1, "max": 5}), {"n": 9}, 200, True),
        (
            assertion("type", field="/items/*/id", params={"type": "integer"}),
            {"items": [{"id": 1}, {"id": "2"}]},
            200,
            True,
        ),
        (assertion("present", field="/x", condition={"status": 200}), {}, 404, False),  # condition does not hold
        (assertion("present", field="/x", condition={"region": "eu"}), {}, 200, False),  # unknown condition: n/a
        (assertion("status", params={"class": "2xx"}, condition={"auth": "user"}), {}, 401, False),  # anonymous call
        (assertion("status", params={"class": "4xx"}, condition={"auth": "anon"}), {}, 200, True),
        (
            assertion("error_shape", condition={"status": 400}, params={"keys": ["/error/code"]}),
            {"message": "m"},
            400,
            True,
        ),
        (
            assertion("error_shape", condition={"status": 400}, params={"keys": ["/error/code"]}),
            {"error": {"code": 1}},
            400,
            False,
        ),
    ],
)
def test_assertions(a: Assertion, body: Any, status: int, fails: bool) -> None:
    assert bool(check_assertion(a, obs(body, status), CTX)) is fails


def test_latency_with_slack() -> None:
    a = assertion("latency", params={"max_ms": 100})
    assert check_assertion(a, obs({}, duration_ms=140), JudgeContext(latency_slack_ms=50)) == []
    assert check_assertion(a, obs({}, duration_ms=160), JudgeContext(latency_slack_ms=50))


def test_status_only_judges_status_alone() -> None:
    ctx = JudgeContext(status_only=True)
    assert check_assertion(assertion("present", field="/x"), obs({}), ctx) == []
    assert check_assertion(assertion("status", params={"status": 200}), obs({}, 500), ctx)


def test_temporal_rules() -> None:
    seq = [obs({}, endpoint="GET /cart"), obs({}, endpoint="GET /session")]
    recorded = {"GET /cart", "GET /session"}
    preceded = assertion("preceded_by", endpoint="GET /cart", other="GET /session")
    followed = assertion("followed_by", endpoint="GET /session", other="GET /cart")
    co = assertion("co_occurs", endpoint="GET /cart", other="GET /session")
    assert check_temporal(preceded, seq, recorded, CTX)
    assert check_temporal(followed, seq, recorded, CTX)
    assert check_temporal(co, seq, recorded, CTX) == []
    assert check_temporal(co, seq[1:], recorded, CTX)  # symmetric: the other one alone fails too
    assert check_temporal(preceded, list(reversed(seq)), recorded, CTX) == []
    # the recorded test never had the other endpoint: not judged (no false alarm on short sessions)
    assert check_temporal(preceded, seq[:1], {"GET /cart"}, CTX) == []


# --- Diffy ---------------------------------------------------------------------------------------


def test_diffy_ignores_fields_noisy_between_baselines() -> None:
    b1 = obs({"id": "a1", "at": "t1", "price": 1.5, "user": {"email": "e", "n": 1}})
    b2 = obs({"id": "a2", "at": "t2", "price": 1.5, "user": {"email": "e", "n": 1}})
    same = obs({"id": "a3", "at": "t3", "price": 1.5, "user": {"email": "e", "n": 1}, "new": 1})
    assert diff_exchange(same, b1, b2) == []
    changed = obs({"id": None, "at": "t3", "price": "1.5"})
    found = {f.field: f for f in diff_exchange(changed, b1, b2)}
    assert set(found) == {"/id", "/price", "/user"}  # /user: one finding for the vanished object
    assert found["/price"].expected == 1.5 and found["/price"].actual == "1.5"
    status = diff_exchange(obs({"e": 1}, status=500), b1, b2)
    assert [f.field for f in status] == ["status"]


def test_a_page_with_fewer_console_errors_than_the_baseline_is_no_regression() -> None:
    """kinto-admin's sign-in: both baselines logged 1 console error, a control none. Fewer errors
    is not a regression; more still is."""

    def page(errors: int) -> Observation:
        return obs({"headings": ["Kinto"], "console_errors": errors}, endpoint="PAGE /admin/")

    assert diff_exchange(page(0), page(1), page(1)) == []
    assert [f.field for f in diff_exchange(page(2), page(1), page(1))] == ["console errors"]


def test_lists_of_plain_values_and_token_lists_are_compared_as_sets() -> None:
    """A set serialised in a hash order (principals, an echoed `Access-Control-Expose-Headers`)
    differs in order between the target's process and the baseline's: no finding. A value missing
    from it, or a list of objects in another order (a broken sort), still is one."""

    def doc(principals: list[str], expose: str, rows: list[str]) -> Observation:
        o = obs({"principals": principals, "headers": {"Expose": expose}, "data": [{"t": r} for r in rows]})
        o.url = "http://api.test:8080/x"
        return o

    b = doc(["account:bob", "system.Everyone", "system.Authenticated"], "Retry-After, Backoff, Alert", ["a", "b"])
    reordered = doc(
        ["system.Authenticated", "account:bob", "system.Everyone"], "Alert, Backoff, Retry-After", ["a", "b"]
    )
    assert diff_exchange(reordered, b, b) == []
    lost = doc(["account:bob", "system.Authenticated", "system.Authenticated"], "Alert, Retry-After", ["b", "a"])
    found = {f.field for f in diff_exchange(lost, b, b)}
    assert found == {"/principals/*", "/headers/Expose", "/data/0/t", "/data/1/t"}


def test_a_timestamp_both_baselines_share_by_chance_is_not_a_difference() -> None:
    """Baseline replays run side by side can answer in the same millisecond: a timestamp is judged
    by its type, so the target's later one is no finding, and one that became null still is."""

    def at(body: dict[str, Any]) -> Observation:
        o = obs(body)
        o.url = "http://api.test:8080/x"
        return o

    b = at(
        {
            "last_modified": 1796519216931,
            "at": "2026-12-06T01:00:00Z",
            "n": 3,
            "headers": {"ETag": '"1796519523247"', "Last-Modified": "Sun, 06 Dec 2026 01:13:09 GMT"},
        }
    )
    later = at(
        {
            "last_modified": 1796519216923,
            "at": "2026-12-06T01:00:01Z",
            "n": 3,
            "headers": {"ETag": '"1796519523150"', "Last-Modified": "Sun, 06 Dec 2026 01:13:08 GMT"},
        }
    )
    assert diff_exchange(later, b, b) == []
    broken = at(
        {
            "last_modified": None,
            "at": "2026-12-06T01:00:01Z",
            "n": 4,
            "headers": {"ETag": '"1796519523150"', "Last-Modified": "Sun, 06 Dec 2026 01:13:08 GMT"},
        }
    )
    assert {f.field for f in diff_exchange(broken, b, b)} == {"/last_modified", "/n"}


# --- outcomes and causes -------------------------------------------------------------------------


def fail(kind: str, actual: Any = None) -> Failure:
    return Failure(source="assertion", assertion_id="a", kind=kind, description="d", actual=actual)


@pytest.mark.parametrize(
    ("failures", "cause"),
    [
        ([fail("latency")], "timing"),
        ([fail("timeout")], "timing"),
        ([fail("locator")], "unstable_selector"),
        ([fail("status", 404)], "missing_state"),
        ([fail("extract")], "missing_state"),
        ([fail("status", 503)], "transient_error"),
        ([fail("value")], "nondeterministic_data"),
    ],
)
def test_flaky_causes(failures: list[Failure], cause: str) -> None:
    attempts = [Attempt(failures=failures), Attempt()]
    assert outcome_of(attempts) == "flaky"
    assert likely_cause(attempts) == cause


def test_outcomes() -> None:
    assert outcome_of([Attempt()]) == "passed"
    assert outcome_of([Attempt(failures=[fail("x")])] * 3) == "failed"
    fallback = Attempt(steps=[StepRecord(step_id="b", kind="browser", locator_index=2)])
    assert likely_cause([Attempt(failures=[fail("url")]), fallback]) == "unstable_selector"


def test_a_console_errors_finding_shows_the_errors_it_counts() -> None:
    """Pages are compared by how many console errors they logged; a finding about that count carries
    the target's error texts (a Django control's "2 console errors" said nothing else), and the
    texts themselves are never compared."""

    def page(errors: list[str]) -> Observation:
        body = {"headings": ["Loans"], "console_errors": len(errors), "console_error_texts": errors}
        return obs(body, endpoint="PAGE /loans")

    errors = ["Failed to load resource: net::ERR_CONNECTION_RESET", "uncaught: TypeError: x is undefined"]
    [finding] = diff_exchange(page(errors), page([]), page([]))
    assert finding.field == "console errors" and (finding.expected, finding.actual) == (0, 2)
    assert finding.console_errors == errors
    assert diff_exchange(page(["one text"]), page(["another"]), page(["another"])) == []  # counts equal
