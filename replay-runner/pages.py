"""What a page shows after each browser step, read the way rum.js read it when it was recorded.

After a browser step has settled, the page is outlined by the tag's own code (the part of
`rum.js` that only reads the page: headings, landmarks, tables with their column headers and row
counts, lists, link and button names, field labels, alerts) plus, per table, a digest of its rows'
text (so a sort that no longer sorts or a search that matches something else shows, without
storing any cell). The outline waits until the DOM has been quiet for a moment (an init script
notes every mutation), so a page still rendering is not compared half-built.

Each step yields one `Observation` on the page's endpoint (`PAGE /orders/{id}`, the fragment
route included): `status` is the status of the document the step loaded (0 when it loaded none:
an action inside the page, an SPA route change), `duration_ms` the document's load time or the
action's settle time, the body the outline. Mined page assertions judge it, and with a baseline
Diffy's rule compares it field by field (`fingerprint`).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page

from trodden.pages import page_path, page_url

PAGE_METHOD = "PAGE"
QUIET_MS = 200  # the DOM unchanged this long = rendered
MAX_WAIT_MS = 3000

# Installed in every document of a replayed page before its own scripts: when the DOM last changed,
# and how many of the page's fetch/XHR requests are in flight. A page that renders what a request
# returns is quiet between its load and the response (on a busy machine for longer than QUIET_MS):
# a request in flight means the page is not rendered yet, and its end counts as a change.
MUTATIONS_INIT = """(() => {
  var w = window;
  w.__troddenChanged = Date.now();
  w.__troddenPending = 0;
  function began() { w.__troddenPending++; w.__troddenChanged = Date.now(); }
  function ended() { w.__troddenPending = Math.max(0, w.__troddenPending - 1); w.__troddenChanged = Date.now(); }
  try {
    new MutationObserver(() => { w.__troddenChanged = Date.now(); })
      .observe(document, {childList: true, subtree: true, attributes: true, characterData: true});
  } catch (e) { /* no DOM yet */ }
  if (w.fetch) {
    var fetch0 = w.fetch;
    w.fetch = function () {
      began();
      try {
        return fetch0.apply(this, arguments).finally(ended);
      } catch (e) { ended(); throw e; }
    };
  }
  if (w.XMLHttpRequest) {
    var send0 = w.XMLHttpRequest.prototype.send;
    w.XMLHttpRequest.prototype.send = function () {
      began();
      this.addEventListener("loadend", ended);
      try { return send0.apply(this, arguments); } catch (e) { ended(); throw e; }
    };
  }
})();"""


# A table without column headers whose every row is a key and its value (a th, then td: a rendered
# object, such as kinto-admin's server settings, which Kinto lists from a Python set in an order of
# its process) is a mapping: its rows are digested sorted. Tables with column headers keep their
# order (a sort that broke is a regression).
_KEYED = "rows of a key (th) and its value: a mapping, in no order"
# Keyed by 0, 1, 2…, such a table renders a list of values (kinto-admin's user principals, from a
# Python set): its values are compared as a set, as lists of plain values in bodies are
# (`noise._as_set`). A table nested in a row is outlined as a table of its own, not as the row's text.
_INDEXED = "keyed 0, 1, 2…: a list of values, compared as a set"
# A row's text shown for a date-time (an element whose `datetime` or `title` is one, as timeago
# widgets render "12 seconds ago" with the date in its title) is a clock: digested as `{time}`, as
# JSON timestamps are judged by their type only (`noise._clock`). kinto-admin's records list shows
# each record's "Last mod." so, and two sides a second apart differed. A title written out
# ("Sunday, December 6, 2026 at 10:32:45 AM UTC": a year, then a time) is one too: kinto-admin's
# history shows "just now" on one side and "a minute ago" on another so.

# An alert is judged at the step that raised it. A notification that hides itself a few seconds
# later (kinto-admin's "Authenticated." after signing in) is still shown some steps on, or no
# longer, depending on how fast a side ran: what a step shows that the previous step already
# showed in the same document is that earlier step's, kept apart (`EARLIER_ALERTS`) and not
# compared again. A new document shows only what its own load raised.
EARLIER_ALERTS = "earlier_alerts"
# ... and an alert's own buttons ("Dismiss") come and go with it: they are the alert's, not the
# page's buttons (names of buttons inside an alert's element, left out of `buttons` when compared).
ALERT_BUTTONS = "alert_buttons"
_ALERT_BUTTONS = "an alert's own buttons: not the page's"


@cache
def outline_script() -> str:
    """An async function expression for `page.evaluate`: waits for a quiet DOM, then returns
    `{page, load, origin, changed, now}`, with the tag's own outline code (rum.js's read-only
    section) and a digest of every table's body rows."""
    source = (resources.files("trodden.collector") / "static" / "rum.js").read_text()
    start = source.index("  // -- describing elements")
    end = source.index("  // -- UI events")
    mask = re.search(r'var ALWAYS_MASK = ("[^"]*");', source)
    if mask is None:
        raise RuntimeError("rum.js no longer defines ALWAYS_MASK: the outline cannot be read")
    section = source[start:end]
    alerts = re.search(r'all\(("\[role=alert\][^"]*"),', section)
    if alerts is None:
        raise RuntimeError("rum.js's outline no longer reads alerts by [role=alert]: their buttons cannot be told")
    return (
        "async ([quietMs, maxMs]) => {\n"
        "  var d = document, w = window, cfg = {capture: {mask_selectors: []}};\n"
        f"  var ALWAYS_MASK = {mask.group(1)};\n"
        f"{section}\n"
        "  var began = Date.now();\n"
        "  while (Date.now() - began < maxMs &&"
        " (document.readyState !== 'complete' || (w.__troddenPending || 0) > 0"
        " || Date.now() - (w.__troddenChanged || 0) < quietMs))\n"
        "    await new Promise(function (r) { setTimeout(r, 50); });\n"
        "  function digest(text) {\n"
        "    var h = 0x811c9dc5;\n"
        "    for (var i = 0; i < text.length; i++) { h ^= text.charCodeAt(i); h = Math.imul(h, 0x01000193) >>> 0; }\n"
        "    return ('0000000' + h.toString(16)).slice(-8);\n"
        "  }\n"
        "  var page = outline(function (el, t) {\n"
        "    var rows = [], keyed = !t.headers.length, indexed = true;\n"
        "    for (var i = 0; i < el.tBodies.length; i++)\n"
        "      for (var j = 0; j < el.tBodies[i].rows.length && rows.length < 200; j++) {\n"
        "        var row = el.tBodies[i].rows[j], text = row.innerText, shown = row.querySelectorAll('time,[title]');\n"
        "        var inner = row.querySelectorAll('table');  // outlined as tables of their own\n"
        "        for (var n = 0; n < inner.length; n++)\n"
        "          if (inner[n].innerText) text = text.split(inner[n].innerText).join('{table}');\n"
        "        for (var k = 0; k < shown.length; k++) {  // a time shown relative to now is a clock\n"
        "          var at = shown[k].getAttribute('datetime') || shown[k].getAttribute('title') || '';\n"
        "          var iso = /^\\d{4}-\\d{2}-\\d{2}[T ]\\d{2}:\\d{2}/;\n"
        "          var written = /\\b[12]\\d{3}\\b.*\\b\\d{1,2}:\\d{2}\\b/;  // a year, then a time\n"
        "          if ((iso.test(at) || written.test(at)) && shown[k].innerText)\n"
        "            text = text.split(shown[k].innerText).join('{time}');\n"
        "        }\n"
        "        rows.push(text);\n"
        "        if (!(row.cells.length > 1 && row.cells[0].tagName === 'TH')) keyed = false;\n"
        "        else if (!/^\\d+$/.test(row.cells[0].innerText.trim())) indexed = false;\n"
        "      }\n"
        f"    if (keyed && indexed)  // {_INDEXED}\n"
        "      rows = rows.map(function (r) { return r.replace(/^\\s*\\d+\\s*/, ''); });\n"
        f"    if (keyed) rows.sort();  // {_KEYED}\n"
        "    t.digest = digest(rows.join('\\n'));\n"
        "  });\n"
        f"  var boxes = d.querySelectorAll({alerts.group(1)}), own = [];  // {_ALERT_BUTTONS}\n"
        "  for (var a = 0; a < boxes.length && a < 1000; a++) {\n"
        "    if (!boxes[a].getClientRects().length || masked(boxes[a])) continue;\n"
        "    var controls = boxes[a].querySelectorAll('button,input,[role=button]');\n"
        "    for (var b = 0; b < controls.length; b++) {\n"
        "      var named = role(controls[b]) === 'button' && clip(accName(controls[b]), 80);\n"
        "      if (named && own.indexOf(named) < 0) own.push(named);\n"
        "    }\n"
        "  }\n"
        f"  page.{ALERT_BUTTONS} = own;\n"
        "  return {page: page, load: load() || null, origin: performance.timeOrigin,"
        " changed: w.__troddenChanged || 0, now: Date.now()};\n"
        "}"
    )


@dataclass
class PageCapture:
    """What one step left on the page."""

    url: str
    outline: dict[str, Any]
    document_loaded: bool  # the step loaded a new document (a goto, a link, a form post)
    arrived: bool  # ... or at least changed the page's URL (an SPA route): a page was reached
    status: int  # that document's status (0: no document loaded, or the browser did not say)
    duration_ms: float  # the document's load time, else the time from the action until the DOM was quiet


class PageReader:
    """Outlines the page after each step of one browser test."""

    def __init__(self) -> None:
        self._origin: float | None = None  # performance.timeOrigin of the document last seen
        self._url: str | None = None  # the page (`page_url`) last seen
        self._alerts: list[str] = []  # the alerts the last step showed

    async def capture(self, page: Page, acted_at: float | None) -> PageCapture | None:
        """The page now (after waiting for a quiet DOM); None when it cannot be read (the page is
        navigating away, or closed)."""
        raw: Any = None
        for _ in range(2):
            try:
                raw = await page.evaluate(outline_script(), [QUIET_MS, MAX_WAIT_MS])
                break
            except PlaywrightError:  # the step's navigation replaced the document meanwhile
                try:
                    await page.wait_for_load_state("load", timeout=MAX_WAIT_MS)
                except PlaywrightError:
                    return None
        if not isinstance(raw, dict):
            return None
        loaded = raw.get("origin") != self._origin
        arrived = loaded or page_url(page.url) != self._url
        self._origin, self._url = raw.get("origin"), page_url(page.url)
        outline: dict[str, Any] = raw.get("page") or {}
        alerts = [str(a) for a in outline.get("alerts") or []]
        if not loaded:  # the same document: what the last step already showed is that step's
            outline[EARLIER_ALERTS] = [a for a in alerts if a in self._alerts]
        self._alerts = alerts
        load = raw.get("load") or {}
        if loaded:
            status = int(load.get("status") or 0)
            duration = float(load.get("duration_ms") or 0.0)
        else:
            status = 0
            duration = 0.0
            if acted_at is not None:
                # the action, on the page's clock: now minus the time since it happened
                action_epoch = float(raw["now"]) - (time.monotonic() - acted_at) * 1000.0
                duration = max(0.0, float(raw.get("changed") or 0.0) - action_epoch)
        return PageCapture(
            url=page.url,
            outline=outline,
            document_loaded=loaded,
            arrived=arrived,
            status=status,
            duration_ms=duration,
        )


# A page observation's console error texts (browser replay): shown with a "console errors" finding,
# never compared (the count is).
CONSOLE_TEXTS = "console_error_texts"


def page_endpoint(url: str) -> str:
    """The page's endpoint as journeys name it, before templating (`PAGE /orders/42`)."""
    return f"{PAGE_METHOD} {page_path(url)}"


def fingerprint(outline: dict[str, Any]) -> dict[str, Any]:
    """The comparable fields of a page outline, for Diffy's rule: lists of names as sets where
    order is incidental (links, buttons, fields, alerts, landmarks), headings in order, per table
    (by name, else position) its headers and its row count with the rows' digest. Alerts are the
    ones the step raised (`EARLIER_ALERTS` left out), buttons the page's (`ALERT_BUTTONS` left out)."""
    fields: dict[str, Any] = {"headings": list(outline.get("headings") or [])}
    apart = {"alerts": EARLIER_ALERTS, "buttons": ALERT_BUTTONS}
    for name in ("landmarks", "links", "buttons", "fields", "alerts"):
        others = set(outline.get(apart[name]) or []) if name in apart else set()
        fields[name] = sorted(v for v in outline.get(name) or [] if v not in others)
    for i, table in enumerate(outline.get("tables") or []):
        key = f"table {table.get('name') or i + 1}"
        fields[f"{key} columns"] = list(table.get("headers") or [])
        # one field for how many rows and what they hold: fewer rows is one finding, not two
        rows = table.get("rows", 0)
        fields[f"{key} rows"] = f"{rows} rows, content {table['digest']}" if "digest" in table else rows
    # Lists' item counts are left out: side lists (recent actions, notifications) follow state the
    # baseline, replayed twice, has more of than the target, and grow until a cap where both of
    # its replays agree. A list's entries that matter are links (facets, menus): compared above.
    return fields


_NUMBER = re.compile(r"\d")


def structure(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields of a page's `fingerprint` that do not depend on the app's data, for comparing a
    page whose data the baseline cannot be trusted to share (`trodden.replay.state`): table columns,
    landmarks, names of links, buttons and fields that carry no number, and how many headings and
    alerts there are (their texts name records: "Change loan", "The Atlas → Ada Novak"). Row
    counts and contents, counts in names ("Fiction (36)", "152 total") are data."""
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if name.endswith(" rows"):
            continue
        if name in ("headings", "alerts"):
            out[f"number of {name}"] = len(value)
        elif name in ("links", "buttons", "fields"):
            out[name] = [v for v in value if not _NUMBER.search(v)]
        else:
            out[name] = value
    return out
