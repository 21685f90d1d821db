"""The visible state after a browser step, end to end from generation to replay in Chromium: a
session recorded as rum.js records it becomes a test that expects what showed after the click;
replayed against the same page it passes, against a page where the click shows something else
it reports a regression that says what was expected."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web
from replay_shop import serve

from trodden.models.events import Session
from trodden.models.suite import BrowserStep, Locator, Suite
from trodden.replay.options import ReplayOptions
from trodden.replay.reports import json_report
from trodden.replay.runner import replay_suite
from trodden.synthesis.generate import SelectedInput, build_suite
from trodden.synthesis.visible import VisibleLearner

pytestmark = pytest.mark.browser

RECORDED = "https://shop.recorded.test"

PAGE = """<!doctype html><html><head><title>Product</title></head><body>
<main><h1>Trail Runner</h1>
<button data-testid="save" onclick="save()">Save</button>
<p data-testid="saved" role="status" hidden></p>
<p data-testid="save-error" role="alert" hidden></p></main>
<script>
async function save() {
  const r = await fetch('/api/save', {method: 'POST'});
  await r.json();
  const show = (id, text) => { const el = document.querySelector(`[data-testid=${id}]`);
                               el.textContent = text; el.hidden = false; };
  %s
}
</script></body></html>"""
AFTER_SAVE = {
    "v1": "show('saved', 'Saved to your wishlist');",
    "other-element": "show('save-error', 'Could not save');",  # the confirmation is gone
    "other-text": "show('saved', 'Saved for later');",  # same element, the words changed
}


def make_app(version: str) -> web.Application:
    async def page(_r: web.Request) -> web.Response:
        return web.Response(text=PAGE % AFTER_SAVE[version], content_type="text/html")

    async def save(_r: web.Request) -> web.Response:
        return web.json_response({"ok": True}, status=201)

    app = web.Application()
    app.router.add_get("/products/7", page)
    app.router.add_post("/api/save", save)
    return app


@pytest.fixture(scope="module")
def pages() -> Iterator[dict[str, str]]:
    with serve(make_app("v1")) as v1, serve(make_app("other-element")) as v2a, serve(make_app("other-text")) as v2b:
        yield {"v1": v1, "other-element": v2a, "other-text": v2b}


def _session(sid: str, user: str) -> Session:
    """As rum.js records the v1 page: the page, the click, its request, what showed after it."""
    url = f"{RECORDED}/products/7"
    events: list[dict[str, Any]] = [
        {
            "kind": "page_view",
            "url": url,
            "visible": [
                {"role": "heading", "name": "Trail Runner", "text": "Trail Runner", "tag": "h1"},
                {"test_id": "save", "role": "button", "name": "Save", "text": "Save", "tag": "button"},
            ],
        },
        {
            "kind": "click",
            "url": url,
            "target": {"test_id": "save", "role": "button", "name": "Save", "tag": "button"},
            "visible": [
                {
                    "test_id": "saved",
                    "role": "status",
                    "name": "Saved to your wishlist",
                    "text": "Saved to your wishlist",
                    "tag": "p",
                }
            ],
        },
        {
            "kind": "request",
            "url": url,
            "method": "POST",
            "request_url": f"{RECORDED}/api/save",
            "status": 201,
            "duration_ms": 3,
            "response_body": {"ok": True},
        },
    ]
    return Session.model_validate(
        {
            "source": "mini",
            "session_id": sid,
            "user_id": user,
            "events": [{"session_id": sid, "seq": i, "ts": 1000.0 + i, **e} for i, e in enumerate(events)],
        }
    )


def _suite() -> Suite:
    # two users saw the same confirmation: its text is vouched for
    sessions = [_session("s1", "u1"), _session("s2", "u2")]
    learner = VisibleLearner()
    for s in sessions:
        learner.add(s)
    suite = build_suite("visible", "mini", [SelectedInput(sessions[0])], None, visible=learner)
    suite.tests = [t for t in suite.tests if t.type == "browser"]
    return suite


def test_the_generated_test_expects_what_showed_after_the_click() -> None:
    (test,) = _suite().tests
    click = test.steps[1]
    assert isinstance(click, BrowserStep) and click.action == "click"
    assert click.expect.visible == [Locator(strategy="test_id", value="saved")]
    assert click.expect.visible_text == ["Saved to your wishlist"]


async def test_same_visible_state_passes_a_changed_one_is_a_regression(pages: dict[str, str]) -> None:
    suite = _suite()
    same = await replay_suite(None, suite, pages["v1"], ReplayOptions(retries=1))
    assert [(r.outcome, r.failures) for r in same.results] == [("passed", [])]

    gone = await replay_suite(None, suite, pages["other-element"], ReplayOptions(retries=1))
    (result,) = gone.results
    assert result.outcome == "failed"  # the same on the retry: not flaky
    by_kind = {f.kind: f for f in gone.regressions}
    assert set(by_kind) == {"visible", "visible_text"}
    visible = by_kind["visible"]
    assert (visible.step_id, visible.expected, visible.source) == ("b2", "test_id=saved", "expectation")
    assert visible.description == "recorded expectation: test_id=saved visible after the step (click)"
    assert visible.actual.startswith("not visible within ")
    entry = next(e for e in json_report(gone)["regressions"] if e["assertion"]["id"] == "expect:visible:test_id=saved")
    assert entry["session_id"] == "s1" and entry["step"] == "b2"

    reworded = await replay_suite(None, suite, pages["other-text"], ReplayOptions(retries=1))
    (result,) = reworded.results
    assert result.outcome == "failed"
    assert [(f.kind, f.expected) for f in reworded.regressions] == [("visible_text", "Saved to your wishlist")]
