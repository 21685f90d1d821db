"""Honest attribution of findings to planted regressions: a plant counts as caught only by a finding
at its endpoint or page AND showing its change. The findings below are shaped like entries of real
replay reports of the Django admin and kinto-admin (2026-12-06), where several plants share the
books list: before, any finding on that page "caught" every plant of it that named no evidence."""

from __future__ import annotations

from typing import Any

import pytest

from bench.realapps.apps.djadmin.plants import PLANTS as DJANGO_PLANTS
from bench.realapps.apps.kintoadmin.plants import PLANTS as SPA_PLANTS
from bench.realapps.model import Plant, plant_groups
from bench.realapps.results import ReplayOutcome
from trodden.shop.regressions import PlantedRegression

BASE = "http://127.0.0.1:1"
BOOKS = "/admin/library/book/"


def _page(field: str, expected: Any, actual: Any, path: str = BOOKS, kind: str = "diff") -> dict[str, Any]:
    return {
        "endpoint": "PAGE /admin/library/book",
        "field": field,
        "url": BASE + path,
        "assertion": {"id": f"diff:{field}", "kind": kind},
        "expected": expected,
        "actual": actual,
    }


COLUMNS = _page(
    "table result_list columns",
    ["", "TITLE", "AUTHOR", "GENRE", "PUBLISHED", "PAGES", "AVAILABLE"],
    ["", "TITLE", "AUTHOR", "GENRE", "PUBLICATION DATE", "PAGES", "AVAILABLE"],
)
SHORT = _page("table result_list rows", "20 rows, content 0857cf9f", "19 rows, content 5cbbd50c")
SORTED = _page("table result_list rows", "20 rows, content 11111111", "20 rows, content 22222222", BOOKS + "?o=4.1")
SEARCHED = _page("table result_list rows", "3 rows, content 33333333", "0 rows, content 44444444", BOOKS + "?q=war")
FACETS = _page(
    "links",
    ["All", "Fiction (0)", "Science (0)", "No (0)", "Yes (0)"],
    ["All", "Fiction (1)", "Science (1)"],
    BOOKS + "?q=zzyzx",
)
SLOW = {
    "endpoint": "PAGE /admin/library/book",
    "field": "latency",
    "url": BASE + BOOKS,
    "assertion": {"id": "diff:latency", "kind": "latency"},
    "expected": "≤ 625 ms",
    "actual": "727 ms",
}
FORBIDDEN = {
    "endpoint": "PAGE /admin/library/loan/add",
    "field": "status",
    "url": BASE + "/admin/library/loan/add/",
    "assertion": {"id": "expect:page-status", "kind": "status"},
    "expected": 200,
    "actual": 403,
}
TWENTIETH_ROW_GONE = {
    "endpoint": None,
    "field": None,
    "url": BASE + BOOKS + "?p=3",
    "assertion": {"id": "expect:locator", "kind": "locator"},
    "expected": ["css=#result_list > tbody > tr:nth-of-type(20) > th > a"],
    "actual": "none of 2 locators matched a visible element",
}
OTHER_LOAN = {
    "endpoint": "PAGE /admin/library/loan/114/change/",
    "field": "headings",
    "url": BASE + "/admin/library/loan/114/change/",
    "assertion": {"id": "diff:headings", "kind": "diff"},
    "expected": ["Change loan", "A Long Lighthouse → Mateo Horvat"],
    "actual": ["Change loan", "The Mountain and the Atlas → Dara Novak"],
}
DELETED_ALERT = {
    "endpoint": "PAGE /admin/library/loan",
    "field": "alerts",
    "url": BASE + "/admin/library/loan/",
    "assertion": {"id": "diff:alerts", "kind": "diff"},
    "expected": ["The loan “A Long Lighthouse → Mateo Horvat” was deleted successfully."],
    "actual": [],
}


def _caught(plants: tuple[Plant, ...], finding: dict[str, Any]) -> set[str]:
    return {p.id for p in plants if p.matches(finding)}


@pytest.mark.parametrize(
    ("finding", "plants"),
    [
        (COLUMNS, {"header-renamed"}),  # not the sort plant nor the filter plant, though it names both columns
        (SHORT, {"rows-per-page-short"}),
        (SORTED, {"sort-published-ignored"}),
        (SEARCHED, {"search-exact-title"}),
        (FACETS, {"facet-count-off-by-one", "available-filter-gone"}),  # genre counts +1 and Yes/No gone
        (SLOW, {"books-list-slow"}),
        (FORBIDDEN, {"frontdesk-loan-add-403"}),
        (TWENTIETH_ROW_GONE, {"rows-per-page-short"}),  # what a replay that checks elements only sees
        (OTHER_LOAN, set()),  # another loan in the row the user clicked: data drift, not the overdue 500
        (DELETED_ALERT, {"change-message-missing"}),
    ],
)
def test_a_django_finding_counts_only_for_the_plant_it_shows(finding: dict[str, Any], plants: set[str]) -> None:
    assert _caught(DJANGO_PLANTS, finding) == plants


def test_the_overdue_return_is_caught_by_its_500() -> None:
    error = {
        "endpoint": "PAGE /admin/library/loan/{id}/change/",
        "field": "status",
        "url": BASE + "/admin/library/loan/114/change/",
        "assertion": {"id": "expect:page-status", "kind": "status"},
        "expected": 302,
        "actual": 500,
    }
    assert _caught(DJANGO_PLANTS, error) == {"loan-return-overdue-500"}


def test_kinto_admin_reads_a_post_inside_a_batch() -> None:
    """The SPA reads a post through POST /v1/batch: a null last_modified shows in the batch's responses."""
    finding = {
        "endpoint": "POST /v1/batch",
        "field": "/responses/3/body/data/last_modified",
        "url": BASE + "/v1/batch",
        "assertion": {"id": "diff:/responses/3/body/data/last_modified", "kind": "diff"},
        "expected": 1733450000000,
        "actual": None,
    }
    assert _caught(SPA_PLANTS, finding) == {"record-last-modified-null"}
    other = {**finding, "field": "/responses/3/body/data/title", "expected": "A", "actual": "B"}
    assert _caught(SPA_PLANTS, other) == set()


def test_a_status_plant_is_not_caught_by_a_body_difference_on_its_endpoint() -> None:
    route = "POST /v1/buckets/{bucket}/collections/{collection}/records"
    body = {
        "endpoint": route,
        "field": "/data/last_modified",
        "url": BASE + "/v1/buckets/blog/collections/posts/records",
        "assertion": {"id": "diff:/data/last_modified", "kind": "diff"},
        "expected": 1,
        "actual": 2,
    }
    status = {
        **body,
        "field": "status",
        "assertion": {"id": "expect:status", "kind": "status"},
        "expected": 201,
        "actual": 200,
    }
    assert "record-create-200" not in _caught(SPA_PLANTS, body)
    assert "record-create-200" in _caught(SPA_PLANTS, status)


def test_a_plant_without_evidence_is_refused() -> None:
    vague = PlantedRegression(
        id="vague",
        kind="ui",
        description="something on the books list",
        endpoint=f"PAGE {BOOKS}",
        detect_by=("browser",),
    )
    with pytest.raises(ValueError, match="evidence"):
        Plant(vague, "nothing", DJANGO_PLANTS[0].probe, DJANGO_PLANTS[0].exercises)


def test_plants_that_hide_each_other_are_replayed_on_separate_targets() -> None:
    """A renamed "Published" header leaves nothing for the recorded sort click; a refused "Add loan"
    shifts which loan the front desk opens: such plants go to separate targets, the rest share one."""
    groups = [[p.id for p in g] for g in plant_groups(list(DJANGO_PLANTS))]
    assert len(groups) == 2
    for hider, hidden in (
        ("header-renamed", "sort-published-ignored"),
        ("frontdesk-loan-add-403", "loan-return-overdue-500"),
    ):
        assert not any(hider in g and hidden in g for g in groups)
    assert sorted(i for g in groups for i in g) == sorted(p.id for p in DJANGO_PLANTS)


def test_the_targets_of_a_split_replay_are_counted_as_one() -> None:
    a = ReplayOutcome(
        name="target-1", exit_code=1, total=11, passed=3, failed=8, findings=40, seconds=100.0, skip_reasons={"x": 1}
    )
    b = ReplayOutcome(name="target-2", exit_code=0, total=11, passed=11, seconds=90.0, skip_reasons={"x": 2})
    both = ReplayOutcome.combined("target", [a, b])
    assert (both.name, both.exit_code, both.total, both.passed, both.failed, both.findings) == (
        "target",
        1,
        22,
        14,
        8,
        40,
    )
    assert both.seconds == 190.0 and both.skip_reasons == {"x": 3} and both.error is None
    assert ReplayOutcome.combined("target", [a]).total == 11
