"""Replays against a baseline see the same history on every side (`trodden.replay.state`).

On a stateful app Diffy's rule holds only if the target and both baseline replays received the
same writes before each test. Tests that only read run first; tests that write run one at a time,
on every side; with a second baseline deployment (`--secondary-baseline`) each deployment replays
every write once, so what a page shows as data stays comparable after a write. With one baseline
deployment, the pages of a test that writes are compared on their structure only. Timings taken
in Chromium are judged against the baseline's, measured in the same run."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pytest
from aiohttp import web
from replay_shop import serve
from replay_suites import http_test, post

from trodden.models.suite import BrowserExpectation, BrowserStep, Locator, Suite, TestCase
from trodden.replay.options import ReplayOptions
from trodden.replay.runner import replay_suite
from trodden.replay.state import data_comparable, split, writes

PAGE = """<!doctype html><html><head><title>Notes</title></head><body>
<nav aria-label="Site"><a href="/about">About</a></nav><main><h1>Notes</h1>
<table id="notes"><thead><tr><th>{column}</th></tr></thead><tbody>{rows}</tbody></table>
<form id="add" method="post" action="/notes"><label for="id_text">Text</label><input id="id_text" name="text">
<button type="submit">Add note</button></form></main></body></html>"""
ABOUT = "<!doctype html><html><head><title>About</title></head><body><main><h1>About</h1></main></body></html>"


def notes_app(variant: str = "v1") -> web.Application:
    """A server-rendered list of notes, added by a form (or by its JSON API)."""
    notes: list[str] = []

    async def page(_r: web.Request) -> web.Response:
        if variant == "slow":
            await asyncio.sleep(1.5)
        shown = notes[:-1] if variant == "hides-newest" else notes
        rows = "".join(f"<tr><td>{n}</td></tr>" for n in shown)
        column = "Note text" if variant == "renamed-column" else "Text"
        return web.Response(text=PAGE.format(rows=rows, column=column), content_type="text/html")

    async def add(request: web.Request) -> web.Response:
        notes.append(str((await request.post()).get("text", "")))
        raise web.HTTPFound("/notes")

    async def add_json(request: web.Request) -> web.Response:
        notes.append(str((await request.json()).get("text", "")))
        return web.json_response({"count": len(notes)}, status=201)

    async def about(_r: web.Request) -> web.Response:
        return web.Response(text=ABOUT, content_type="text/html")

    app = web.Application()
    app.router.add_get("/notes", page)
    app.router.add_post("/notes", add)
    app.router.add_post("/api/notes", add_json)
    app.router.add_get("/about", about)
    return app


@contextmanager
def deployments(*variants: str) -> Iterator[list[str]]:
    """Fresh deployments (empty lists of notes), one per variant."""
    with ExitStack() as stack:
        yield [stack.enter_context(serve(notes_app(v))) for v in variants]


def _browser(test_id: str, steps: list[BrowserStep]) -> TestCase:
    return TestCase(id=test_id, name=test_id, type="browser", session_id=f"s-{test_id}", steps=steps)


def reader(test_id: str = "t-read") -> TestCase:
    """Opens the list of notes, then the About page."""
    return _browser(
        test_id,
        [
            BrowserStep(id="b1", action="goto", url="{{origin}}/notes", expect=BrowserExpectation(url="/notes")),
            BrowserStep(
                id="b2",
                action="click",
                locators=[Locator(strategy="role", value="link", name="About")],
                expect=BrowserExpectation(url="/about"),
            ),
        ],
    )


def adder(*, password: bool = False) -> TestCase:
    """Adds a note by the form (a click on its button, then the form's submit event: one action)."""
    return _browser(
        "t-add",
        [
            BrowserStep(id="b1", action="goto", url="{{origin}}/notes", expect=BrowserExpectation(url="/notes")),
            BrowserStep(
                id="b2",
                action="fill",
                value="{{login_password}}" if password else "Buy milk",
                locators=[Locator(strategy="id", value="id_text")],
            ),
            BrowserStep(id="b3", action="click", locators=[Locator(strategy="role", value="button", name="Add note")]),
            BrowserStep(
                id="b4",
                action="submit",
                locators=[Locator(strategy="id", value="add")],
                expect=BrowserExpectation(url="/notes"),
            ),
        ],
    )


def api_adder() -> TestCase:
    return http_test("t-api-add", [post("s1", "POST /api/notes", "{{origin}}/api/notes", {"text": "Hi"}, status=201)])


def suite(*tests: TestCase) -> Suite:
    return Suite(
        name="notes", revision=1, source="s", origin="https://notes.recorded.test", created_at="now", tests=list(tests)
    )


def test_what_writes_is_read_from_the_suite() -> None:
    assert not writes(reader())
    assert writes(adder())  # a form sent
    assert not writes(adder(password=True))  # the login form the test typed its password into
    assert writes(api_adder())
    spa = _browser(
        "t-spa",
        [
            BrowserStep(
                id="b1",
                action="click",
                network=["PATCH /v1/records/{id}"],
                locators=[Locator(strategy="text", value="Save")],
            )
        ],
    )
    assert writes(spa)  # a request the page made with an unsafe method
    readers, writers = split([api_adder(), reader(), adder()])
    assert [t.id for t in readers] == ["t-read"] and [t.id for t in writers] == ["t-api-add", "t-add"]
    assert data_comparable(adder(), secondary_baseline=True) and not data_comparable(adder(), secondary_baseline=False)
    assert data_comparable(reader(), secondary_baseline=False)


pytestmark = pytest.mark.browser


def untimed(baseline: str, secondary: str | None = None) -> ReplayOptions:
    """Options for the tests of what pages show: on a loaded machine a page load can take over 1.25 x
    the baseline's, so timing is judged only by the slow-page test below (a page 1.5 s slower)."""
    return ReplayOptions(
        retries=0,
        baseline=baseline,
        secondary_baseline=secondary,
        latency_baseline_floor_ms=60_000,
        browser_latency_baseline_floor_ms=60_000,
    )


async def test_tests_that_read_see_what_every_side_started_with() -> None:
    """A test that writes (listed first, and fast) must not land between the target's and the
    baseline's replays of a test that reads: the baseline, replayed twice, would show two notes
    where the target shows one."""
    for _ in range(2):  # a control replay, twice: never a false alarm
        with deployments("v1", "v1") as (target, baseline):
            report = await replay_suite(None, suite(api_adder(), reader()), target, untimed(baseline))
        assert report.regressions == []
        assert {r.test_id: r.outcome for r in report.results}["t-read"] == "passed"


async def test_a_second_baseline_deployment_keeps_what_writing_tests_show_comparable() -> None:
    # the newest note is missing after the add: data the page shows, seen only with Diffy's secondary
    with deployments("hides-newest", "v1", "v1") as (target, baseline, secondary):
        caught = await replay_suite(None, suite(adder()), target, untimed(baseline, secondary))
    # (the form's submit event, sent by the click already, outlines the same page again)
    assert {(f.assertion_id, f.step_id) for f in caught.regressions} <= {
        ("diff:table notes rows", "b3"),
        ("diff:table notes rows", "b4"),
    }
    assert caught.regressions
    with deployments("v1", "v1", "v1") as (target, baseline, secondary):
        control = await replay_suite(
            None,
            suite(adder(), reader(), api_adder()),
            target,
            untimed(baseline, secondary),
        )
    assert control.regressions == [] and {r.outcome for r in control.results} <= {"passed", "flaky"}
    # one baseline deployment receives the write twice: the rows are not compared, the structure is
    with deployments("hides-newest", "v1") as (target, baseline):
        single = await replay_suite(None, suite(adder()), target, untimed(baseline))
    assert single.regressions == []
    with deployments("renamed-column", "v1") as (target, baseline):
        renamed = await replay_suite(None, suite(adder()), target, untimed(baseline))
    assert {f.assertion_id for f in renamed.regressions} == {"diff:table notes columns"}


async def test_a_page_that_loads_slower_than_the_baseline_is_a_regression() -> None:
    """By the median of its loads over the run: three tests open the list."""
    readers = suite(*(reader(f"t-read-{i}") for i in range(3)))
    with deployments("slow", "v1") as (target, baseline):
        slow = await replay_suite(None, readers, target, ReplayOptions(retries=0, baseline=baseline))
    found = [f for f in slow.regressions if f.kind == "latency"]
    assert {(f.assertion_id, f.endpoint, f.step_id) for f in found} == {("diff:latency", "PAGE /notes", "b1")}
    assert len(found) == 3 and "the page loaded slower than the baseline" in found[0].description
    with deployments("slow", "slow") as (target, baseline):  # as slow as the baseline: no regression
        same = await replay_suite(None, readers, target, ReplayOptions(retries=0, baseline=baseline))
    assert same.regressions == []
    # one load says too little on a loaded machine: a page loaded once is not judged against the baseline
    with deployments("slow", "v1") as (target, baseline):
        once = await replay_suite(None, suite(reader()), target, ReplayOptions(retries=0, baseline=baseline))
    assert [f for f in once.regressions if f.kind == "latency"] == []
