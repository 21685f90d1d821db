"""A reverse proxy in front of an application, for what a CDN or a tag manager does to its pages:
add the rum.js tag to HTML (and the collector to the page's Content-Security-Policy, as a site adds
its analytics vendor), and, for planted UI regressions of single-page apps, rewrite the text of
its bundle or add a style sheet, as a front-end deploy that broke something would. The app's files
are never edited."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from trodden.shop.services import free_port

from .model import RumTag

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-length",
        "host",
        "upgrade",
        "proxy-connection",
        "te",
        "trailer",
        "content-encoding",
    }
)


@dataclass(frozen=True)
class UiChange:
    """A planted front-end change: text replaced in scripts, and/or CSS added to every page."""

    replace: tuple[tuple[str, str], ...] = ()
    style: str = ""


def _with_collector(csp: str, origin: str) -> str:
    """Allow the collector in script-src and connect-src (added from default-src when absent)."""
    directives = [d.strip() for d in csp.split(";") if d.strip()]
    names = {d.split()[0]: i for i, d in enumerate(directives)}
    default = directives[names["default-src"]].split()[1:] if "default-src" in names else []
    for name in ("script-src", "connect-src"):
        if name in names:
            directives[names[name]] += f" {origin}"
        else:
            directives.append(" ".join([name, *default, origin]))
    return "; ".join(directives)


class Proxy:
    """Forwards every request to `upstream`; HTML gets the tag (and UI plants' styles), scripts the UI
    plants' text changes. `observe` sees each request first (the capture tee keeps beacons there)."""

    def __init__(self, upstream: str, *, tag: RumTag | None = None, ui: Mapping[str, UiChange] | None = None) -> None:
        self.upstream = upstream.rstrip("/")
        self.tag = tag
        self.ui = dict(ui or {})  # the active UI plants
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None

    def observe(self, request: web.Request, body: bytes) -> None:
        """A hook: called with every request before it is forwarded."""

    async def start(self, port: int | None = None) -> str:
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        app = web.Application(client_max_size=32 * 1024**2)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        port = port or free_port()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._http is not None:
            await self._http.close()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._http is not None
        body = await request.read()
        self.observe(request, body)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP | {"accept-encoding"}}
        async with self._http.request(
            request.method, self.upstream + request.path_qs, data=body or None, headers=headers, allow_redirects=False
        ) as upstream:
            payload = await upstream.read()
            out_headers = [(k, v) for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP]
            ctype = upstream.headers.get("Content-Type", "")
        if ctype.startswith("text/html"):
            payload = self._page(payload)
            if self.tag is not None:
                origin = self.tag.collector_url
                out_headers = [
                    (k, _with_collector(v, origin) if k.lower() == "content-security-policy" else v)
                    for k, v in out_headers
                ]
        elif "javascript" in ctype and self.ui:
            text = payload.decode("utf-8", errors="surrogateescape")
            for change in self.ui.values():
                for old, new in change.replace:
                    text = text.replace(old, new)
            payload = text.encode("utf-8", errors="surrogateescape")
        out = web.Response(status=upstream.status, body=payload)
        for k, v in out_headers:
            out.headers.add(k, v)
        return out

    def _page(self, payload: bytes) -> bytes:
        extra = "".join(f"<style>{c.style}</style>" for c in self.ui.values() if c.style)
        if self.tag is not None:
            extra += self.tag.script()
        if not extra:
            return payload
        text = payload.decode("utf-8", errors="replace")
        text, n = re.subn(r"</head>", extra + "</head>", text, count=1, flags=re.I)
        return (text if n else extra + text).encode()
