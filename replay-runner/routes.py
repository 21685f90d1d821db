"""Naming what was observed: a request's method and path → the suite's endpoint ("GET /orders/{id}").

Mined assertions are keyed by endpoint; HTTP steps carry theirs, but requests a page makes in a
browser test (and redirect hops) are only URLs, so they are matched against the route templates
the suite knows. The most specific template wins (most literal segments), as in web routers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from trodden.pages import page_path

_PARAM = re.compile(r"\{[^/{}]+\}")


def split_endpoint(endpoint: str) -> tuple[str, str]:
    """("GET", "/orders/{id}") from "GET /orders/{id}"; a bare path means any method ("*")."""
    method, sep, path = endpoint.strip().partition(" ")
    if not sep:
        return "*", method
    return method.upper(), path.strip()


@dataclass(frozen=True)
class _Route:
    endpoint: str
    method: str
    pattern: re.Pattern[str]
    literal_segments: int


def _compile(endpoint: str) -> _Route:
    method, path = split_endpoint(endpoint)
    path = path.split("?", 1)[0].rstrip("/") or "/"
    regex = "".join(
        "[^/]+" if _PARAM.fullmatch(part) else re.escape(part) for part in re.split(r"(\{[^/{}]+\})", path) if part
    )
    literal = sum(1 for seg in path.split("/") if seg and not _PARAM.search(seg))
    return _Route(endpoint, method, re.compile(f"^{regex}/?$"), literal)


class RouteTable:
    """Endpoint templates; `match(method, url)` gives the endpoint a request belongs to, or None."""

    def __init__(self, endpoints: list[str] | set[str]) -> None:
        routes = [_compile(e) for e in sorted(set(endpoints))]
        # Most literal segments first, so "/orders/mine" beats "/orders/{id}".
        self._routes = sorted(routes, key=lambda r: -r.literal_segments)
        self._cache: dict[tuple[str, str], str | None] = {}

    def path_matches(self, url: str, endpoints: set[str]) -> bool:
        """Whether `url`'s path matches one of `endpoints`, whatever the method (a URL filter)."""
        path = urlsplit(url).path or "/"
        return any(r.endpoint in endpoints and r.pattern.match(path) for r in self._routes)

    def match(self, method: str, url: str) -> str | None:
        """The endpoint of a request, or of a page (method "PAGE": its path with the route an SPA
        keeps in the fragment, as journeys name pages)."""
        path = page_path(url) if method.upper() == "PAGE" else (urlsplit(url).path or "/")
        key = (method.upper(), path)
        if key not in self._cache:
            self._cache[key] = next(
                (r.endpoint for r in self._routes if r.method in (key[0], "*") and r.pattern.match(path)), None
            )
        return self._cache[key]
