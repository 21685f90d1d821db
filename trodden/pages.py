"""What names a page: its path, and the route an SPA keeps in the URL fragment.

A single-page app that routes by the fragment (`/#/orders/42/items`, `/#!/orders/42`) shows a
different page for each fragment route, so the route is part of the page's identity: the page
`/#/orders/42/items` is templated like a path (`/#/orders/{id}/items`: the `#` is a segment of its
own) and a test starts there. A fragment that is not a route (`#reviews`, an anchor on the page;
`#access_token=…`, parameters) names no page and is left out. Shared by synthesis (journeys,
generation) and replay (which page a browser is on), so both read a URL the same way.
"""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit

ROUTE_MARK = "#"  # the segment that stands for the fragment in a page path


def fragment_route(fragment: str) -> str | None:
    """The route a fragment carries (`/orders/42` from `/orders/42?tab=2` or `!/orders/42`), or
    None when it carries none (an anchor, parameters, empty)."""
    if fragment.startswith("!"):
        fragment = fragment[1:]
    if not fragment.startswith("/"):
        return None
    route = fragment.split("?", 1)[0]
    return route if route.strip("/") else None


def _split(url: str | None) -> SplitResult | None:
    if not url:
        return None
    try:
        return urlsplit(url)
    except ValueError:
        return None


def page_path(url: str | None) -> str:
    """The page a URL shows: its path, followed by `/#` and the fragment's route when it has one
    (`http://x/app/#/orders/42?tab=2` → `/app/#/orders/42`); "/" for nothing."""
    parts = _split(url)
    if parts is None:
        return "/"
    path = parts.path or "/"
    route = fragment_route(parts.fragment)
    if route is None:
        return path
    return path.rstrip("/") + "/" + ROUTE_MARK + route


def page_url(url: str | None) -> str:
    """Path, query and route fragment of a URL, without scheme and host: where a test goes to
    show the same page (`/app/?lang=en#/orders/42?tab=2`). Fragments that carry no route are
    dropped (anchors scroll, parameters such as tokens are not the page)."""
    parts = _split(url)
    if parts is None:
        return "/"
    out = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if fragment_route(parts.fragment) is not None:
        out += "#" + parts.fragment
    return out


def split_page_path(path: str) -> tuple[str, str | None]:
    """(`/app`, `/orders/{id}`) from the page path `/app/#/orders/{id}`; (path, None) without a
    route fragment."""
    marker = "/" + ROUTE_MARK
    index = path.find(marker + "/")
    if index < 0:
        if path.endswith(marker):
            return path[: -len(marker)] or "/", "/"
        return path, None
    return path[:index] or "/", path[index + len(marker) :]
