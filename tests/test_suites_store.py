"""Suite revisions: numbered in order per suite, loaded whole, missing ones named clearly."""

from __future__ import annotations

import pytest

from trodden.models.suite import HttpRequest, HttpStep, Suite, TestCase
from trodden.store import Store
from trodden.store.suites import SuiteNotFound, load_suite, save_suite_revision


def _suite(name: str) -> Suite:
    step = HttpStep(id="s1", endpoint="GET /health", request=HttpRequest(method="GET", url="{{origin}}/health"))
    test = TestCase(id="t1", name="health", type="http", session_id="sess-1", steps=[step])
    return Suite(name=name, revision=0, source="shop", created_at="2026-01-01T00:00:00Z", tests=[test])


async def test_revisions_count_up_and_latest_loads(store: Store) -> None:
    first = await save_suite_revision(store, _suite("checkout"))
    second = await save_suite_revision(store, _suite("checkout"))
    assert (first.revision, second.revision) == (1, 2)
    latest = await load_suite(store, "checkout")
    assert latest.revision == 2
    assert latest.tests[0].steps[0].kind == "http"
    assert (await load_suite(store, "checkout", 1)).revision == 1


async def test_missing_suite_is_named(store: Store) -> None:
    with pytest.raises(SuiteNotFound, match="suite 'nope' not found"):
        await load_suite(store, "nope")
