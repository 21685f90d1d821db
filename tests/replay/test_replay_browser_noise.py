"""Browser tests against a baseline, on what an unchanged single-page app does under load.

kinto-admin fetches Kinto's health check on every page; Kinto 20.6.1 answered it 503 at random (a
memory-backend bug, backported away in the harness: `realapps_kinto_backports`), on any side, and
the two baselines once shared it by chance: the control replay then "differed" (a status and a
console error count), an unchanged app judged changed. A safe request the page got a 503 for is
asked once more, as HTTP steps are, and the second answer is judged; so is a page load that timed
out. And a click that cannot happen on the baseline either (its element never
becomes actionable there) is not a finding about the target: the test verified nothing.
"""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from test_baseline_judgement import serving

from trodden.models.suite import BrowserExpectation, BrowserStep, Locator, Suite, TestCase
from trodden.replay.options import ReplayOptions
from trodden.replay.results import RunReport
from trodden.replay.runner import replay_suite

pytestmark = pytest.mark.browser
LOAD_TIMEOUT_S = 3.0

HOME = """<!doctype html><html><head><title>Admin</title></head><body><main><h1>Posts</h1>
<p id="health">checking</p>
<a href="#/posts">posts</a>
<button id="covered" style="position:relative">Publish</button>
<div id="veil" style="position:fixed;inset:0;background:rgba(0,0,0,.1);display:%s"></div>
</main><script>
fetch("/api/health").then(function (r) { document.title = "Admin"; return r.json(); })
  .then(function () { document.getElementById("health").textContent = "checked"; });
</script></body></html>"""


def admin_app(*, busy_first: int = 0, veiled: bool = False, slow_loads: int = 0) -> web.Application:
    """The page fetches /api/health: its first `busy_first` answers are 503 (a moment of overload).
    `veiled`: a fixed veil covers the page, so nothing on it can be clicked. `slow_loads`: the first
    answers of the page itself take longer than the test waits for a page to load."""
    calls = {"health": 0, "home": 0}

    async def home(_r: web.Request) -> web.Response:
        calls["home"] += 1
        if calls["home"] <= slow_loads:
            await asyncio.sleep(LOAD_TIMEOUT_S + 1.5)
        return web.Response(text=HOME % ("block" if veiled else "none"), content_type="text/html")

    async def health(_r: web.Request) -> web.Response:
        calls["health"] += 1
        if calls["health"] <= busy_first:
            return web.json_response({"storage": False}, status=503)
        return web.json_response({"storage": True})

    app = web.Application()
    app.router.add_get("/home", home)
    app.router.add_get("/api/health", health)
    return app


def admin_suite() -> Suite:
    steps = [
        BrowserStep(
            id="b1",
            action="goto",
            url="{{origin}}/home",
            network=["GET /api/health"],
            expect=BrowserExpectation(url="/home", status=200),
            timeout_s=LOAD_TIMEOUT_S,
        ),
        BrowserStep(
            id="b2", action="click", locators=[Locator(strategy="role", value="link", name="posts")], timeout_s=2.0
        ),
        BrowserStep(
            id="b3", action="click", locators=[Locator(strategy="role", value="button", name="Publish")], timeout_s=2.0
        ),
    ]
    test = TestCase(id="t-admin", name="admin", type="browser", session_id="s", steps=steps)
    return Suite(name="admin", revision=1, source="s", origin="https://admin.test", created_at="now", tests=[test])


async def replay_on_pages(suite: Suite, target_app: web.Application, *baselines: web.Application) -> RunReport:
    """The suite replayed on the target against two baseline deployments, judged on what the pages
    show (timings are out of these tests: a cold browser's first page is slow)."""
    async with serving(target_app, *baselines) as (target, baseline, secondary):
        return await replay_suite(
            None,
            suite,
            target,
            ReplayOptions(
                retries=0,
                baseline=baseline,
                secondary_baseline=secondary,
                latency_baseline_floor_ms=60_000,
                browser_latency_baseline_floor_ms=60_000,
            ),
        )


async def _replay(target_app: web.Application, *baselines: web.Application) -> tuple[list[str], str, str | None]:
    report = await replay_on_pages(admin_suite(), target_app, *baselines)
    result = report.results[0]
    return [f"{f.assertion_id} {f.field or ''}".strip() for f in report.regressions], result.outcome, result.reason


async def test_a_health_check_unavailable_for_a_moment_is_asked_once_more() -> None:
    findings, outcome, _ = await _replay(admin_app(busy_first=1), admin_app(), admin_app())
    assert (findings, outcome) == ([], "passed")


async def test_a_health_check_that_stays_unavailable_is_a_finding() -> None:
    findings, outcome, _ = await _replay(admin_app(busy_first=99), admin_app(), admin_app())
    assert outcome == "failed" and "diff:status status" in findings


async def test_a_click_the_baseline_cannot_make_either_is_not_a_finding() -> None:
    findings, outcome, reason = await _replay(admin_app(veiled=True), admin_app(veiled=True), admin_app(veiled=True))
    assert findings == [] and outcome == "error"
    assert reason is not None and "chain breaks on the baseline as well: step b2" in reason


async def test_a_click_only_the_target_cannot_make_is_a_finding() -> None:
    findings, outcome, _ = await _replay(admin_app(veiled=True), admin_app(), admin_app())
    assert outcome == "failed" and "exec:timeout" in findings


async def test_a_page_load_that_timed_out_once_is_asked_once_more() -> None:
    """The control's page loads that timed out on a machine at load 24 (kinto-admin, 10 s): a
    document is asked again, and the second load is judged."""
    findings, outcome, _ = await _replay(admin_app(slow_loads=1), admin_app(), admin_app())
    assert (findings, outcome) == ([], "passed")


async def test_a_page_that_never_loads_in_time_is_a_finding() -> None:
    findings, outcome, _ = await _replay(admin_app(slow_loads=99), admin_app(), admin_app())
    assert outcome == "failed" and "exec:timeout" in findings


LAID_OUT = """<!doctype html><html><head><title>Admin</title><style>
body { margin: 0; padding-top: 60px; }
header { position: fixed; top: 0; left: 0; right: 0; height: 56px; background: #333; color: #fff; }
@media (max-width: 1100px) { header { height: 110px; } }  /* a narrow window wraps the session bar */
</style></head><body><header>Connected as replay.tester on http://127.0.0.1:55555/v1/</header>
<nav><a href="#/records">records</a></nav><main><h1 id="title">Record</h1></main>
<script>window.addEventListener("hashchange", function () {
  document.getElementById("title").textContent = "Records"; });</script></body></html>"""


def laid_out_app() -> web.Application:
    async def page(_r: web.Request) -> web.Response:
        return web.Response(text=LAID_OUT, content_type="text/html")

    app = web.Application()
    app.router.add_get("/admin/", page)
    return app


async def test_a_page_is_replayed_in_a_desktop_window_as_users_saw_it() -> None:
    """kinto-admin's session bar wrapped in replay's 1024 px window and covered the breadcrumb the
    recorded users (in Playwright's default 1280 px window, as exported tests run) clicked: the
    click timed out on every side and the test verified nothing."""
    steps = [
        BrowserStep(id="b1", action="goto", url="{{origin}}/admin/", timeout_s=LOAD_TIMEOUT_S),
        BrowserStep(
            id="b2", action="click", locators=[Locator(strategy="role", value="link", name="records")], timeout_s=2.0
        ),
    ]
    test = TestCase(id="t-crumb", name="crumb", type="browser", session_id="s", steps=steps)
    suite = Suite(name="admin", revision=1, source="s", origin="https://admin.test", created_at="now", tests=[test])
    report = await replay_on_pages(suite, laid_out_app(), laid_out_app(), laid_out_app())
    assert (report.regressions, report.results[0].outcome) == ([], "passed")
