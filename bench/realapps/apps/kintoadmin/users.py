"""The simulated users of kinto-admin: a team's editors managing their blog in the single-page app
(React, routes after `#`, every read and write a fetch to Kinto). They sign in with their Kinto
account, open the posts, sort by title, open, edit, publish, create and delete posts, look at the
history and permissions; some mistype their password, some submit a post without a title; one-offs
look at the tags or filter the sidebar."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ...traffic import Browsing
from .seed import EDITORS, LONG, password

ADMIN = "/v1/admin/"
POSTS_ROUTE = "#/buckets/blog/collections/posts/records"
SETTLE_MS = 600


async def settle(b: Browsing) -> None:
    await b.page.wait_for_load_state("networkidle")
    await b.page.wait_for_timeout(SETTLE_MS)


async def sign_in(b: Browsing, username: str, *, typo: bool = False) -> None:
    await b.goto(ADMIN)
    await b.page.get_by_label("Kinto Account Auth").check()
    await b.page.locator("#root_credentials_username").fill(username)
    await b.page.locator("#root_credentials_password").fill(password(username) + ("x" if typo else ""))
    await b.page.get_by_role("button", name="Sign in using Kinto Account Auth").click()
    await settle(b)


async def start(b: Browsing) -> None:
    await sign_in(b, b.rng.choice(EDITORS))


async def open_posts(b: Browsing) -> None:
    await b.page.get_by_role("link", name="posts", exact=True).first.click()
    await settle(b)


async def sort_by_title(b: Browsing) -> None:
    await b.page.locator("th", has_text="Title").locator("a.sort-link").click()
    await settle(b)


async def open_post(b: Browsing, index: int | None = None) -> None:
    edits = b.page.locator('a[title="Edit record"]')
    count = await edits.count()
    await edits.nth(index if index is not None else b.rng.randrange(max(1, min(count, 12)))).click()
    await settle(b)


async def submit(b: Browsing) -> None:
    await b.page.locator("form button[type=submit]").first.click()
    await settle(b)


# --- journeys ------------------------------------------------------------------------------------------


async def read_posts(b: Browsing) -> None:
    await start(b)
    await open_posts(b)
    await sort_by_title(b)
    await open_post(b)
    await b.page.get_by_role("link", name="records").first.click()
    await settle(b)


async def edit_post(b: Browsing) -> None:
    await start(b)
    await open_posts(b)
    await open_post(b)
    await b.page.locator("#root_body").fill(f"Edited by the team, revision {b.rng.randint(2, 9)}.")
    await submit(b)


async def open_long_post(b: Browsing) -> None:
    """Open one of the long-titled posts among the first rows (the seed titles one post in three so)."""
    rows = b.page.locator("tbody tr").filter(has_text=b.rng.choice(LONG))
    count = await rows.count()
    await rows.nth(b.rng.randrange(max(1, min(count, 4)))).locator('a[title="Edit record"]').click()
    await settle(b)


async def publish_post(b: Browsing) -> None:
    await start(b)
    await open_posts(b)
    # The long reads are what gets published: a title over 30 characters, the combination the
    # `publish-long-title-500` plant needs (edits send a post's status and title too: either alone).
    await open_long_post(b)
    await b.page.locator("#root_status").select_option("published")
    await submit(b)


async def create_post(b: Browsing) -> None:
    await start(b)
    await open_posts(b)
    await b.page.locator(".btn-record-add").first.click()
    await settle(b)
    await b.page.locator("#root_title").fill(f"Draft: {b.rng.choice(['Q4 plans', 'Meetup notes', 'Tips'])}")
    await b.page.locator("#root_status").select_option("draft")
    await b.page.locator("#root_body").fill("Work in progress.")
    await submit(b)


async def create_without_title(b: Browsing) -> None:
    await start(b)
    await open_posts(b)
    await b.page.locator(".btn-record-add").first.click()
    await settle(b)
    await b.page.locator("#root_body").fill("Forgot the title")
    await submit(b)  # the form says the title is required
    await b.page.locator("#root_title").fill("Untitled thoughts")
    await submit(b)


async def delete_post(b: Browsing) -> None:
    await start(b)
    await open_posts(b)
    b.page.once("dialog", lambda dialog: dialog.accept())
    await b.page.locator('button[title="Delete record"]').nth(b.rng.randrange(5)).click()
    await settle(b)


async def post_history(b: Browsing) -> None:
    await start(b)
    await open_posts(b)
    await b.page.get_by_role("link", name="History").first.click()
    await settle(b)
    if b.rng.random() < 0.5:
        await b.page.get_by_role("link", name="Permissions").first.click()
        await settle(b)


async def wrong_password(b: Browsing) -> None:
    user = b.rng.choice(EDITORS)
    await sign_in(b, user, typo=True)
    await sign_in(b, user)
    await open_posts(b)


async def browse_tags(b: Browsing) -> None:
    await start(b)
    await b.page.get_by_role("link", name="tags", exact=True).first.click()
    await settle(b)


async def filter_sidebar(b: Browsing) -> None:
    await start(b)
    await b.page.get_by_placeholder("Filter bucket/collection name").fill("po")
    await settle(b)
    await open_posts(b)


Journey = Callable[[Browsing], Awaitable[None]]
JOURNEYS: dict[str, tuple[float, Journey]] = {
    "read_posts": (20, read_posts),
    "edit_post": (14, edit_post),
    "publish_post": (12, publish_post),
    "create_post": (12, create_post),
    "post_history": (6, post_history),
    "wrong_password": (6, wrong_password),
    "create_without_title": (5, create_without_title),
    "delete_post": (4, delete_post),
    "browse_tags": (0.5, browse_tags),
    "filter_sidebar": (0.5, filter_sidebar),
}
WEIGHTS = {name: weight for name, (weight, _) in JOURNEYS.items()}


async def run_journey(b: Browsing) -> None:
    await JOURNEYS[b.plan.journey][1](b)
