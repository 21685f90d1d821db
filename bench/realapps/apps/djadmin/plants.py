"""Planted regressions of the library's Django admin, with their probes (the test account logs in
over HTTP and reads the pages) and which recorded page views or submits exercise them. Injected by
`site/realapps_django_plants.py` (monkeypatches and a middleware installed at start-up)."""

from __future__ import annotations

import datetime
import html
import re
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import aiohttp

from trodden.shop.regressions import PlantedRegression

from ...model import Plant, RecordedEvent, element_missing, finding_query, lost, on_field, shown, status_became
from .site.realapps_staff import TESTER, password

MECHANISM = "monkeypatch of the admin at start-up"
MIDDLEWARE = "Django middleware"
BOOKS = "/admin/library/book/"
LOANS = "/admin/library/loan/"


# --- recognising recorded events ------------------------------------------------------------------


def _page(ev: RecordedEvent) -> tuple[str, dict[str, str]] | None:
    """(path, query) of a page the user saw (a page view or an SPA-style navigation)."""
    if ev.get("kind") not in ("page_view", "navigation"):
        return None
    url = str(ev.get("to_url") or ev.get("url") or "")
    parts = urlsplit(url)
    return parts.path, dict(parse_qsl(parts.query))


def _books_list(pred: Any = None) -> Any:
    def exercises(ev: RecordedEvent) -> bool:
        page = _page(ev)
        return page is not None and page[0] == BOOKS and (pred is None or pred(page[1]))

    return exercises


def _sorted_by_published(query: dict[str, str]) -> bool:
    return any(part.lstrip("-") == "4" for part in query.get("o", "").split("."))


def _unfiltered(query: dict[str, str]) -> bool:
    return not (set(query) - {"o", "p"})


def _submit_on(pattern: str) -> Any:
    regex = re.compile(pattern)

    def exercises(ev: RecordedEvent) -> bool:
        return (
            ev.get("kind") in ("submit", "click")
            and bool(regex.search(urlsplit(str(ev.get("url") or "")).path))
            and (ev.get("kind") == "submit" or "Save" in str((ev.get("target") or {}).get("name", "")))
        )

    return exercises


def _page_is(path: str) -> Any:
    def exercises(ev: RecordedEvent) -> bool:
        page = _page(ev)
        return page is not None and page[0] == path

    return exercises


# --- probes ------------------------------------------------------------------------------------------


async def _login(http: aiohttp.ClientSession, base: str) -> None:
    async with http.get(f"{base}/admin/login/") as r:
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', await r.text())
    async with http.post(
        f"{base}/admin/login/",
        data={
            "csrfmiddlewaretoken": token.group(1) if token else "",
            "username": TESTER,
            "password": password(TESTER),
            "next": "/admin/",
        },
    ) as r:
        if "/admin/login/" in str(r.url):
            raise RuntimeError("the test account could not log in")


async def _page_html(base: str, path: str) -> tuple[int, str, float]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await _login(http, base)
        started = time.perf_counter()
        async with http.get(base + path) as r:
            return r.status, await r.text(), time.perf_counter() - started


async def _post_form(base: str, path: str, fields: dict[str, str]) -> tuple[int, str]:
    """Submit a change form as the browser would (with its CSRF token), following the redirect."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await _login(http, base)
        async with http.get(base + path) as r:
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', await r.text())
        data = {"csrfmiddlewaretoken": token.group(1) if token else "", **fields}
        async with http.post(base + path, data=data) as r:
            return r.status, await r.text()


def _cells(page: str, field: str) -> list[str]:
    return [html.unescape(x) for x in re.findall(rf'<td class="field-{field}[^"]*">([^<]*)</td>', page)]


async def probe_sort(http: aiohttp.ClientSession, base: str) -> Any:
    return _cells((await _page_html(base, BOOKS + "?o=4"))[1], "published")[:3]


async def probe_header(http: aiohttp.ClientSession, base: str) -> Any:
    page = (await _page_html(base, BOOKS))[1]
    return [
        html.unescape(h)
        for h in re.findall(
            r'<th scope="col" class="sortable[^"]*">\s*<div class="text">'
            r'<a href="[^"]*">([^<]+)</a>',
            page,
        )
    ]


async def probe_rows(http: aiohttp.ClientSession, base: str) -> Any:
    return (await _page_html(base, BOOKS))[1].count('class="action-select"')


async def probe_facet(http: aiohttp.ClientSession, base: str) -> Any:
    return re.findall(r">((?:Fiction|Science) \(\d+\))<", (await _page_html(base, BOOKS))[1])


async def probe_search(http: aiohttp.ClientSession, base: str) -> Any:
    return (await _page_html(base, BOOKS + "?q=war"))[1].count('class="action-select"')


async def probe_loan_500(http: aiohttp.ClientSession, base: str) -> Any:
    today = datetime.date.today()
    fields = {
        "book": "1",
        "member": "1",
        "borrowed": (today - datetime.timedelta(days=40)).isoformat(),
        "due": (today - datetime.timedelta(days=19)).isoformat(),
        "returned": "on",
        "_save": "Save",
    }
    return (await _post_form(base, f"{LOANS}1/change/", fields))[0]


async def probe_slow(http: aiohttp.ClientSession, base: str) -> Any:
    best = min([(await _page_html(base, BOOKS))[2] for _ in range(3)])
    return "slow (≥ 400 ms)" if best >= 0.4 else "fast"


async def probe_403(http: aiohttp.ClientSession, base: str) -> Any:
    return (await _page_html(base, LOANS + "add/"))[0]


async def probe_filter(http: aiohttp.ClientSession, base: str) -> Any:
    return re.findall(r'data-filter-title="([^"]+)"', (await _page_html(base, BOOKS))[1])


async def probe_message(http: aiohttp.ClientSession, base: str) -> Any:
    page = (await _page_html(base, f"{BOOKS}1/change/"))[1]
    value = {name: html.unescape(v) for name, v in re.findall(r'name="(\w+)" value="([^"]*)"', page)}
    author = re.search(r'<select name="author".*?<option value="(\d+)" selected>', page, re.S)
    genre = re.search(r'<select name="genre".*?<option value="(\w+)" selected>', page, re.S)
    fields = {
        "title": value.get("title", ""),
        "author": author.group(1) if author else "1",
        "genre": genre.group(1) if genre else "fiction",
        "published": value.get("published", "2000-01-01"),
        "isbn": value.get("isbn", ""),
        "pages": "321",
        "available": "on",
        "_save": "Save",
    }
    status, after = await _post_form(base, f"{BOOKS}1/change/", fields)
    return [status, "was changed successfully" in after]


# --- what a finding about each plant shows -------------------------------------------------------------

ROWS = "table result_list rows"  # the page outline's rows of the change list: "20 rows, content 0857cf9f"
GENRES = r"^(Children|Fiction|History|Poetry|Science|Travel) \(\d+\)$"  # the genre filter's facets


def _rows(value: Any) -> tuple[int, str] | None:
    m = re.fullmatch(r"(\d+) rows?, content (\w+)", str(value))
    return (int(m.group(1)), m.group(2)) if m else None


def _rows_changed(finding: Any) -> bool:
    before, after = _rows(finding.get("expected")), _rows(finding.get("actual"))
    return on_field(finding, ROWS) and before is not None and before != after


def shows_sort_ignored(finding: Any) -> bool:
    """Other rows (or rows in another order) on a books list sorted by Published."""
    return _sorted_by_published(finding_query(finding)) and _rows_changed(finding)


def shows_short_page(finding: Any) -> bool:
    """A full page (20 rows) of books now lists fewer; or the 20th row a user clicked is not there."""
    before, after = _rows(finding.get("expected")), _rows(finding.get("actual"))
    if element_missing(finding, r"result_list.*tr:nth-of-type\(20\)"):
        return True
    return on_field(finding, ROWS) and before is not None and before[0] == 20 and after is not None and after[0] < 20


def shows_search_changed(finding: Any) -> bool:
    """A books search lists other rows."""
    return bool(finding_query(finding).get("q")) and _rows_changed(finding)


def shows_facet_changed(finding: Any) -> bool:
    return lost(finding, GENRES)


def shows_available_filter_gone(finding: Any) -> bool:
    """The "By available" filter's choices (Yes/No with their counts) are gone from the books list."""
    yes_no = r"^(Yes|No)( \(\d+\))?$"
    return lost(finding, yes_no) and not any(re.match(yes_no, v) for v in shown(finding.get("actual")))


def shows_header_renamed(finding: Any) -> bool:
    return lost(finding, r"^published$")


def _p(id: str, kind: str, description: str, endpoint: str, **kw: Any) -> PlantedRegression:
    return PlantedRegression(
        id=id, kind=kind, description=description, endpoint=endpoint, detect_by=kw.pop("detect_by", ("browser",)), **kw
    )


PLANTS: tuple[Plant, ...] = (
    Plant(
        _p(
            "sort-published-ignored",
            "ordering",
            'Sorting books by the "Published" column no longer sorts (the list stays by title).',
            f"PAGE {BOOKS}",
            exercised_by="catalogue staff sorting books by date",
        ),
        MECHANISM,
        probe_sort,
        _books_list(_sorted_by_published),
        where=shows_sort_ignored,
    ),
    Plant(
        _p(
            "header-renamed",
            "ui_text",
            'The books table\'s "Published" column header became "Publication date".',
            f"PAGE {BOOKS}",
            evidence=("published",),
            exercised_by="every books list",
        ),
        MECHANISM,
        probe_header,
        _books_list(),
        where=shows_header_renamed,
        hides=("sort-published-ignored",),
    ),  # the recorded click on "Published" has nothing to click
    Plant(
        _p(
            "rows-per-page-short",
            "pagination",
            "A full page of books shows 19 rows, not 20: one book per page is never listed.",
            f"PAGE {BOOKS}",
            exercised_by="unfiltered books lists",
        ),
        MECHANISM,
        probe_rows,
        _books_list(_unfiltered),
        where=shows_short_page,
    ),
    Plant(
        _p(
            "facet-count-off-by-one",
            "ui_data",
            'The genre filter\'s facet counts are one too many ("Fiction (37)").',
            f"PAGE {BOOKS}",
            evidence=("(",),
            exercised_by="every books list (facets always shown)",
        ),
        MECHANISM,
        probe_facet,
        _books_list(),
        where=shows_facet_changed,
    ),
    Plant(
        _p(
            "search-exact-title",
            "logic",
            'Searching books by title needs the exact title ("war" finds nothing).',
            f"PAGE {BOOKS}",
            exercised_by="searches of the books list",
        ),
        MECHANISM,
        probe_search,
        _books_list(lambda q: "q" in q),
        where=shows_search_changed,
    ),
    Plant(
        _p(
            "loan-return-overdue-500",
            "combination",
            "Marking a loan returned answers 500 when the loan is overdue; returning one in time still works.",
            f"PAGE {LOANS}{{id}}/change/",
            detect_by=("status", "browser"),
            exercised_by="front desk taking back books (about half of them overdue)",
        ),
        MECHANISM,
        probe_loan_500,
        _submit_on(r"^/admin/library/loan/\d+/change/$"),
        where=lambda f: status_became(f, 500),
    ),
    Plant(
        _p(
            "books-list-slow",
            "latency",
            "The books list takes 400 ms longer.",
            f"PAGE {BOOKS}",
            detect_by=("latency",),
            kinds=("latency",),
            exercised_by="every books list",
        ),
        MIDDLEWARE,
        probe_slow,
        _books_list(),
    ),
    Plant(
        _p(
            "frontdesk-loan-add-403",
            "permission",
            'Front-desk staff get 403 on "Add loan".',
            f"PAGE {LOANS}add/",
            detect_by=("status", "browser"),
            exercised_by="front desk lending a book",
        ),
        MIDDLEWARE,
        probe_403,
        _page_is(LOANS + "add/"),
        # the page answers 403 (or what the user filled in on it is not there)
        where=lambda f: status_became(f, 403) or element_missing(f),
        hides=("loan-return-overdue-500",),
    ),  # a loan less: the front desk opens another loan in its row
    Plant(
        _p(
            "available-filter-gone",
            "ui_structure",
            'The "By available" filter is gone from the books list.',
            f"PAGE {BOOKS}",
            exercised_by="every books list; filtering by availability",
        ),
        MECHANISM,
        probe_filter,
        _books_list(),
        where=shows_available_filter_gone,
    ),
    Plant(
        _p(
            "change-message-missing",
            "ui_text",
            'After a save the success message ("… was changed successfully.") is not shown.',
            "PAGE /admin/library/{model}/",
            exercised_by="every save: editing a book, lending and taking back books",
        ),
        MECHANISM,
        probe_message,
        _submit_on(r"^/admin/library/\w+/(add|\d+/change)/$"),
        where=lambda f: on_field(f, "alerts") and lost(f, r"was (changed|added|deleted) successfully"),
    ),
)
