"""Findings grouped by likely cause: one planted change is one group however many oracles and
tests saw it; each group counts what it explains and names the ignore rule that silences it."""

from __future__ import annotations

import pytest

from trodden.models.suite import IgnoreRule
from trodden.replay.grouping import group_findings, ignored
from trodden.replay.results import Failure, TestResult


def finding(aid: str, kind: str, endpoint: str | None, field: str | None, step: str = "s1", **kw: object) -> Failure:
    source = kw.pop(
        "source", "diff" if aid.startswith("diff:") else "expectation" if aid.startswith("expect:") else "assertion"
    )
    return Failure(
        source=source,
        assertion_id=aid,
        kind=kind,
        description=aid,
        expected=kw.get("expected"),
        actual=kw.get("actual"),
        step_id=step,
        endpoint=endpoint,
        field=field,
    )  # type: ignore[arg-type]


def failed(test_id: str, *failures: Failure) -> TestResult:
    return TestResult(
        test_id=test_id, name=test_id, type="http", session_id=f"s-{test_id}", outcome="failed", failures=list(failures)
    )


PRODUCT = "GET /api/products/{id}"
RECORD = "GET /v1/records/{id}"


def results() -> list[TestResult]:
    price = [
        finding("expect:type:/price", "type", PRODUCT, "/price"),
        finding("a-type-price", "type", PRODUCT, "/price"),
        finding("diff:body:/price", "diff", PRODUCT, "/price"),
    ]
    return [
        failed("t1", *price),
        failed("t2", *price, finding("a-type-items-price", "type", "GET /api/cart", "/items/0/price", "s2")),
        failed("t3", *price, finding("a-type-items-price", "type", "GET /api/cart", "/items/3/price", "s2")),
        failed(
            "t4",
            finding("expect:status", "status", "POST /api/checkout", "status", expected=200, actual=500),
            finding("exec:extract:order_id", "extract", "POST /api/checkout", "/order/id", source="execution"),
            finding("exec:variable", "correlation", "GET /api/orders/{id}", None, "s3", source="execution"),
            finding("a-followed-by", "followed_by", "POST /api/checkout", None),
        ),
        failed(
            "t5",
            finding("expect:present:/data/title", "present", RECORD, "/data/title"),
            finding("expect:present:/data/done", "present", RECORD, "/data/done"),
        ),
        failed(
            "t6",
            finding("expect:present:/data/title", "present", RECORD, "/data/title"),
            finding("expect:present:/data/done", "present", RECORD, "/data/done"),
            finding("diff:latency", "latency", "GET /v1/", "latency", "s0"),
        ),
        TestResult(test_id="t7", name="t7", type="http", session_id="s", outcome="passed"),
    ]


def test_one_cause_is_one_group_with_what_it_explains() -> None:
    groups = group_findings(results())
    by_title = {g.title: g for g in groups}
    assert set(by_title) == {
        f"{PRODUCT} /price",
        "POST /api/checkout status",
        f"{RECORD} /data/done",
        "GET /v1/ latency",
    }
    price = by_title[f"{PRODUCT} /price"]
    assert (price.tests, price.findings) == (3, 11)  # the cart that embeds the price changed with it
    assert price.endpoints == ["GET /api/cart", PRODUCT] and price.fields == ["/items/*/price", "/price"]
    assert [str(r) for r in price.ignore] == ["GET /api/cart /items/*/price", f"{PRODUCT} /price"]
    checkout = by_title["POST /api/checkout status"]
    assert (checkout.tests, checkout.findings) == (1, 4)  # the extraction, the next step, the sequence follow
    assert [str(r) for r in checkout.ignore] == ["POST /api/checkout"]
    shape = by_title[f"{RECORD} /data/done"]
    assert (shape.tests, shape.findings) == (2, 4)
    assert [str(r) for r in shape.ignore] == [f"{RECORD} /data/done", f"{RECORD} /data/title"]
    assert groups[0] is price and by_title["GET /v1/ latency"].tests == 1


def test_the_rule_a_group_shows_silences_it_and_nothing_else() -> None:
    groups = group_findings(results())
    every = [f for r in results() for f in r.failures]
    price = next(g for g in groups if g.title.endswith("/price"))
    left = ignored(every, price.ignore)
    assert not [f for f in left if f.field and f.field.endswith("price")]
    assert len(every) - len(left) == 11 and any(f.endpoint == RECORD for f in left)
    shape = next(g for g in groups if g.title.startswith(RECORD))
    assert [f.field for f in ignored(every, shape.ignore) if f.endpoint == RECORD] == []


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("GET /api/products/{id} /price", IgnoreRule(endpoint=PRODUCT, pointer="/price")),
        ("get /api/items header:ETag", IgnoreRule(endpoint="GET /api/items", header="etag")),
        ("* /updated_at", IgnoreRule(endpoint="*", pointer="/updated_at")),
        ("POST /api/checkout", IgnoreRule(endpoint="POST /api/checkout")),
        ("PAGE /checkout headings", None),
        ("/price", None),
    ],
)
def test_ignore_rules_parse_or_say_why_not(text: str, rule: IgnoreRule | None) -> None:
    if rule is None:
        with pytest.raises(ValueError, match="ignore rule"):
            IgnoreRule.parse(text)
    else:
        assert IgnoreRule.parse(text) == rule
        assert IgnoreRule.parse(str(rule)) == rule


def test_one_page_kind_is_one_subject_and_a_broken_order_is_its_own_cause() -> None:
    buttons = [
        failed(f"b{i}", finding("diff:buttons", "diff", f"PAGE /products/SHIRT-00{i}", "buttons", "b2"))
        for i in range(3)
    ]
    quote = [failed(f"q{i}", finding("a-preceded", "preceded_by", "POST /api/checkout", None)) for i in range(2)]
    groups = {g.title: g for g in group_findings([*buttons, *quote])}
    assert groups["PAGE /products/{id} buttons"].tests == 3
    assert [str(r) for r in groups["PAGE /products/{id} buttons"].ignore] == ["PAGE /products/{id}"]
    assert groups["POST /api/checkout sequence:a-preceded"].tests == 2  # not a follow-on: the tests ran through
