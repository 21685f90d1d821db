"""Alerts against a baseline: judged at the step that raised them.

kinto-admin shows "Authenticated." (an alert with a "Dismiss" button) after signing in and hides it
a few seconds later. Both baselines still showed it at a later step, a slower control no longer
did, and the page's `alerts` and `buttons` "differed": an unchanged app judged changed. An alert
the previous step already showed in the same document belongs to that step, and an alert's own
buttons come and go with it. An alert a change newly raises is still a finding.
"""

from __future__ import annotations

import pytest
from aiohttp import web
from test_replay_browser_noise import replay_on_pages

from trodden.models.suite import BrowserStep, Locator, Suite, TestCase

pytestmark = pytest.mark.browser

PAGE = """<!doctype html><html><head><title>Admin</title></head><body>
<nav><a href="#/home">home</a> <a href="#/records">records</a></nav>
<div id="notes"></div>
<main><h1 id="title">Home</h1><button id="signin">Sign in</button></main>
<script>
var HIDE_ON_NEXT_ROUTE = %(hide)s, RECORDS_FAIL = %(fail)s;
function note(kind, text) {
  var box = document.createElement("div");
  box.className = "alert alert-" + kind;
  box.setAttribute("role", "alert");
  box.innerHTML = '<button type="button" class="close" title="Dismiss">&times;</button>' + text;
  box.firstChild.onclick = function () { box.remove(); };
  document.getElementById("notes").appendChild(box);
  return box;
}
document.getElementById("signin").onclick = function () {
  var shown = note("success", "Authenticated.");
  // a notification that hides itself a moment later: on this side before the next step
  if (HIDE_ON_NEXT_ROUTE) window.addEventListener("hashchange", function () { shown.remove(); }, {once: true});
};
window.addEventListener("hashchange", function () {
  var records = location.hash === "#/records";
  document.getElementById("title").textContent = records ? "Records" : "Home";
  if (records && RECORDS_FAIL) note("danger", "Could not load the records.");
});
</script></body></html>"""


def admin_app(*, hides_notification: bool = False, records_fail: bool = False) -> web.Application:
    """`hides_notification`: the "Authenticated." notification is gone by the next step (a side
    that ran slower). `records_fail`: opening the records raises an error alert (a regression)."""
    text = PAGE % {"hide": str(hides_notification).lower(), "fail": str(records_fail).lower()}

    async def page(_r: web.Request) -> web.Response:
        return web.Response(text=text, content_type="text/html")

    app = web.Application()
    app.router.add_get("/admin/", page)
    return app


def _suite() -> Suite:
    steps = [
        BrowserStep(id="b1", action="goto", url="{{origin}}/admin/", timeout_s=5.0),
        BrowserStep(
            id="b2", action="click", locators=[Locator(strategy="role", value="button", name="Sign in")], timeout_s=3.0
        ),
        BrowserStep(
            id="b3", action="click", locators=[Locator(strategy="role", value="link", name="records")], timeout_s=3.0
        ),
    ]
    test = TestCase(id="t-admin", name="admin", type="browser", session_id="s", steps=steps)
    return Suite(name="admin", revision=1, source="s", origin="https://admin.test", created_at="now", tests=[test])


async def _replay(target_app: web.Application, *baselines: web.Application) -> tuple[list[str], str]:
    report = await replay_on_pages(_suite(), target_app, *baselines)
    return [f"{f.step_id} {f.assertion_id}" for f in report.regressions], report.results[0].outcome


async def test_a_notification_gone_by_the_next_step_on_one_side_is_not_a_finding() -> None:
    findings, outcome = await _replay(admin_app(hides_notification=True), admin_app(), admin_app())
    assert (findings, outcome) == ([], "passed")


async def test_an_error_alert_a_change_newly_raises_is_a_finding() -> None:
    # the target still shows "Authenticated." (raised earlier, on every side) and newly the error
    findings, outcome = await _replay(admin_app(records_fail=True), admin_app(), admin_app())
    assert outcome == "failed"
    assert findings == ["b3 diff:alerts"]  # the error's own "Dismiss" is the alert's, not a second finding


async def test_an_error_alert_raised_while_the_notification_hid_is_still_a_finding() -> None:
    findings, outcome = await _replay(admin_app(hides_notification=True, records_fail=True), admin_app(), admin_app())
    assert (findings, outcome) == (["b3 diff:alerts"], "failed")
