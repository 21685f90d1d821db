"""The simulated users of the library's Django admin: librarians in Chromium, clicking through the
server-rendered pages (links, forms, tables; no test ids, no fetch). Catalogue staff browse, sort,
search, filter by facets and edit books; front-desk staff lend and take back books and look up
members. Most sessions start at the login page; some start logged in (a session cookie from
earlier: the login is done over HTTP before the recorded tab opens). Mistakes (a wrong password,
a due date before the loan date), rare paths (a bulk action, "Show all", deleting a loan) and
one-offs (a search that finds nothing) are in the mix."""

from __future__ import annotations

import datetime
import re
from collections.abc import Awaitable, Callable

from ...traffic import Browsing
from .site.realapps_staff import CATALOGUE, FRONT_DESK, password

SEARCHES = ("war", "garden", "river", "night", "forest", "island")
STARTS_LOGGED_IN = 0.25


async def settle(b: Browsing) -> None:
    await b.page.wait_for_load_state("load")


async def click(b: Browsing, role: str, name: str, *, exact: bool = True, nth: int = 0) -> None:
    await b.page.get_by_role(role, name=name, exact=exact).nth(nth).click()
    await settle(b)


async def login(b: Browsing, username: str, *, typo: bool = False) -> None:
    await b.goto("/admin/")
    await b.page.get_by_label("Username:").fill(username)
    await b.page.get_by_label("Password:").fill(password(username) + ("x" if typo else ""))
    await click(b, "button", "Log in")


async def start(b: Browsing, username: str) -> None:
    """Open the admin: logged in already (a kept session) or through the login page."""
    if b.rng.random() < STARTS_LOGGED_IN:
        request = b.page.context.request
        page = await request.get(b.base_url + "/admin/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', await page.text())
        await request.post(
            b.base_url + "/admin/login/",
            form={
                "csrfmiddlewaretoken": token.group(1) if token else "",
                "username": username,
                "password": password(username),
                "next": "/admin/",
            },
        )
        await b.goto("/admin/")
    else:
        await login(b, username)


async def open_list(b: Browsing, model: str) -> None:
    """The model's change list, from the admin's home page or the sidebar."""
    await click(b, "link", model)


async def sort_by(b: Browsing, column: str) -> None:
    await b.page.locator("#result_list thead").get_by_role("link", name=column, exact=True).click()
    await settle(b)


async def open_row(b: Browsing, index: int | None = None) -> None:
    rows = b.page.locator("#result_list tbody tr th a")
    count = await rows.count()
    if count:
        await rows.nth(index if index is not None else b.rng.randrange(count)).click()
        await settle(b)


async def save(b: Browsing) -> None:
    await b.page.locator("input[type=submit][name=_save]").click()
    await settle(b)


# --- catalogue staff ------------------------------------------------------------------------------


async def browse_books(b: Browsing) -> None:
    await start(b, b.rng.choice(CATALOGUE))
    await open_list(b, "Books")
    await sort_by(b, "Published")
    if b.rng.random() < 0.5:
        await sort_by(b, "Published")  # again: newest first
    await b.page.locator(".paginator").get_by_role("link", name=str(b.rng.randint(2, 4)), exact=True).click()
    await settle(b)
    await open_row(b)
    await click(b, "link", "Books")


async def search_books(b: Browsing) -> None:
    await start(b, b.rng.choice(CATALOGUE))
    await open_list(b, "Books")
    await b.page.locator("#searchbar").fill(b.rng.choice(SEARCHES))
    await click(b, "button", "Search")
    await open_row(b, 0)
    if await b.page.locator("#id_pages").count():
        await b.page.locator("#id_pages").fill(str(b.rng.randint(90, 800)))
        await save(b)


async def filter_facets(b: Browsing) -> None:
    await start(b, b.rng.choice(CATALOGUE))
    await open_list(b, "Books")
    genre = b.rng.choice(["Fiction", "Science", "History", "Poetry", "Children", "Travel"])
    await b.page.locator("#changelist-filter a", has_text=re.compile(rf"^{genre} \(")).click()
    await settle(b)
    await b.page.locator("#changelist-filter a", has_text=re.compile(r"^Yes \(")).first.click()
    await settle(b)
    if b.rng.random() < 0.5:
        await open_row(b)
        await b.page.go_back()
        await settle(b)
    await click(b, "link", "✖ Clear all filters", exact=False)


async def bulk_unavailable(b: Browsing) -> None:
    await start(b, b.rng.choice(CATALOGUE))
    await open_list(b, "Books")
    boxes = b.page.locator("#result_list input.action-select")
    for i in b.rng.sample(range(await boxes.count()), 2):
        await boxes.nth(i).check()
    await b.page.locator("select[name=action]").select_option("mark_unavailable")
    await click(b, "button", "Go")


async def authors_by_count(b: Browsing) -> None:
    await start(b, b.rng.choice(CATALOGUE))
    await open_list(b, "Authors")
    await sort_by(b, "Books")  # the number of books each wrote
    await open_row(b, 0)


async def show_all_books(b: Browsing) -> None:
    await start(b, b.rng.choice(CATALOGUE))
    await open_list(b, "Books")
    await click(b, "link", "Show all")


async def search_nothing(b: Browsing) -> None:
    await start(b, b.rng.choice(CATALOGUE))
    await open_list(b, "Books")
    await b.page.locator("#searchbar").fill("zzyzx")
    await b.page.locator("#searchbar").press("Enter")
    await settle(b)


# --- front desk -------------------------------------------------------------------------------------


async def fill_loan(b: Browsing, *, due_days: int) -> None:
    books = b.page.locator("#id_book option")
    members = b.page.locator("#id_member option")
    await b.page.locator("#id_book").select_option(index=b.rng.randrange(1, await books.count()))
    await b.page.locator("#id_member").select_option(index=b.rng.randrange(1, await members.count()))
    await b.page.locator("#id_due").fill((datetime.date.today() + datetime.timedelta(days=due_days)).isoformat())


async def add_loan(b: Browsing) -> None:
    await start(b, b.rng.choice(FRONT_DESK))
    await open_list(b, "Loans")
    await click(b, "link", "Add loan", exact=False)
    await fill_loan(b, due_days=21)
    await save(b)


async def add_loan_mistake(b: Browsing) -> None:
    await start(b, b.rng.choice(FRONT_DESK))
    await open_list(b, "Loans")
    await click(b, "link", "Add loan", exact=False)
    await fill_loan(b, due_days=-3)  # the due date before the loan date: the form says so
    await save(b)
    await b.page.locator("#id_due").fill((datetime.date.today() + datetime.timedelta(days=14)).isoformat())
    await save(b)


async def return_loan(b: Browsing) -> None:
    await start(b, b.rng.choice(FRONT_DESK))
    await open_list(b, "Loans")
    await b.page.locator("#changelist-filter a", has_text=re.compile(r"^No \(")).first.click()
    await settle(b)
    await open_row(b)
    await b.page.locator("#id_returned").check()
    await save(b)


async def members_lookup(b: Browsing) -> None:
    await start(b, b.rng.choice(FRONT_DESK))
    await open_list(b, "Members")
    await b.page.locator("#searchbar").fill(b.rng.choice(["Lyon", "Porto", "Ghent", "an", "er"]))
    await b.page.locator("#searchbar").press("Enter")
    await settle(b)
    await open_row(b)


async def delete_loan(b: Browsing) -> None:
    await start(b, b.rng.choice(FRONT_DESK))
    await open_list(b, "Loans")
    await open_row(b)
    await click(b, "link", "Delete")
    await b.page.locator("input[type=submit]").first.click()
    await settle(b)


async def wrong_password(b: Browsing) -> None:
    user = b.rng.choice(CATALOGUE + FRONT_DESK)
    await login(b, user, typo=True)
    await login(b, user)
    await open_list(b, "Books")


Journey = Callable[[Browsing], Awaitable[None]]
JOURNEYS: dict[str, tuple[float, Journey]] = {
    "browse_books": (18, browse_books),
    "search_books": (14, search_books),
    "filter_facets": (12, filter_facets),
    "add_loan": (12, add_loan),
    "return_loan": (12, return_loan),
    "wrong_password": (6, wrong_password),
    "members_lookup": (6, members_lookup),
    "authors_by_count": (6, authors_by_count),
    "add_loan_mistake": (5, add_loan_mistake),
    "bulk_unavailable": (3, bulk_unavailable),
    "show_all_books": (0.5, show_all_books),
    "delete_loan": (0.5, delete_loan),
    "search_nothing": (0.5, search_nothing),
}
WEIGHTS = {name: weight for name, (weight, _) in JOURNEYS.items()}


async def run_journey(b: Browsing) -> None:
    await JOURNEYS[b.plan.journey][1](b)
