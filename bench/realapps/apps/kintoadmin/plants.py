"""kinto-admin's planted regressions: server-side ones in the Kinto plugin (what the SPA fetches
changes), front-end ones in the proxy (the bundle's text, a style sheet), as a back-end or a
front-end deploy would break them. Probes read Kinto or the served assets over HTTP."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
import orjson

from trodden.shop.regressions import PlantedRegression

from ...model import Plant, RecordedEvent, about_status, finding_query, on_field
from ...proxy import UiChange
from ..kinto.plants import LIST_ROUTE, ONE_ROUTE, _is_list, _is_one, _requests, probe_create, probe_last_modified
from .seed import OWNER, POSTS, TESTER, basic

SERVER = "Kinto plugin (pyramid tween via kinto.includes)"
FRONT = "reverse proxy (the SPA's bundle or style sheet, as a front-end deploy)"
COLLECTION_ROUTE = "/v1/buckets/{bucket}/collections/{collection}"
PAGE = "PAGE /v1/admin/"
UI: dict[str, UiChange] = {
    "create-button-renamed": UiChange(
        replace=(
            (
                'className:"btn btn-info btn-record-add",children:"Create record"',
                'className:"btn btn-info btn-record-add",children:"New record"',
            ),
        )
    ),
    "history-tab-hidden": UiChange(style='.nav-link[href$="/history"]{display:none !important}'),
}


def _req(method: str | tuple[str, ...], where: Any) -> Any:
    methods = (method,) if isinstance(method, str) else method

    def exercises(ev: RecordedEvent) -> bool:
        return any(r[0] in methods and where(r[1], r[2], ev) for r in _requests(ev))

    return exercises


def _long_publish(ev: RecordedEvent) -> bool:
    body = ev.get("request_body")
    if isinstance(body, str):
        try:
            body = orjson.loads(body)
        except orjson.JSONDecodeError:
            return False
    data = body.get("data") if isinstance(body, Mapping) else None
    return isinstance(data, Mapping) and data.get("status") == "published" and len(str(data.get("title", ""))) > 30


def _admin_page(fragment: str = "") -> Any:
    def exercises(ev: RecordedEvent) -> bool:
        if ev.get("kind") not in ("page_view", "navigation"):
            return False
        parts = urlsplit(str(ev.get("to_url") or ev.get("url") or ""))
        return parts.path == "/v1/admin/" and fragment in parts.fragment

    return exercises


async def _timed(http: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    async with http.get(url, headers=headers) as r:
        await r.read()
    return time.perf_counter() - started


async def probe_sort(http: aiohttp.ClientSession, base: str) -> Any:
    async with http.get(f"{base}{POSTS}?_sort=title", headers={"Authorization": basic(TESTER)}) as r:
        return [x["id"] for x in (await r.json())["data"]][:3]


async def probe_edit(http: aiohttp.ClientSession, base: str) -> Any:
    async with http.patch(
        f"{base}{POSTS}/post-001", json={"data": {"body": "probe"}}, headers={"Authorization": basic(TESTER)}
    ) as r:
        return r.status


async def probe_total(http: aiohttp.ClientSession, base: str) -> Any:
    async with http.head(f"{base}{POSTS}", headers={"Authorization": basic(TESTER)}) as r:
        return r.headers.get("Total-Records")


async def probe_display(http: aiohttp.ClientSession, base: str) -> Any:
    async with http.get(f"{base}/v1/buckets/blog/collections/posts", headers={"Authorization": basic(TESTER)}) as r:
        return (await r.json())["data"].get("displayFields")


async def probe_slow(http: aiohttp.ClientSession, base: str) -> Any:
    best = min([await _timed(http, f"{base}{POSTS}?_limit=5", {"Authorization": basic(TESTER)}) for _ in range(3)])
    return "slow (≥ 350 ms)" if best >= 0.35 else "fast"


async def probe_publish(http: aiohttp.ClientSession, base: str) -> Any:
    data = {"title": "A title that is certainly longer than thirty characters", "status": "published"}
    async with http.patch(
        f"{base}{POSTS}/post-002", json={"data": data}, headers={"Authorization": basic(OWNER[0])}
    ) as r:
        return r.status


async def probe_button(http: aiohttp.ClientSession, base: str) -> Any:
    async with http.get(f"{base}/v1/admin/") as r:
        script = re.search(r'src="([^"]+/index-[^"]+\.js)"', await r.text())
    assert script is not None, "no bundle in the admin page"
    async with http.get(urljoin(f"{base}/v1/admin/", script.group(1))) as r:
        bundle = await r.text()
    return ["Create record" if '"btn btn-info btn-record-add",children:"Create record"' in bundle else "other"]


async def probe_history(http: aiohttp.ClientSession, base: str) -> Any:
    async with http.get(f"{base}/v1/admin/") as r:
        return "/history" in await r.text()  # the planted style sheet names the tab it hides


def _p(id: str, kind: str, description: str, endpoint: str, **kw: Any) -> PlantedRegression:
    return PlantedRegression(
        id=id,
        kind=kind,
        description=description,
        endpoint=endpoint,
        detect_by=kw.pop("detect_by", ("diff", "expectation")),
        **kw,
    )


PLANTS: tuple[Plant, ...] = (
    Plant(
        _p(
            "sort-title-ignored",
            "ordering",
            "Sorting the posts by title (_sort=title) is ignored.",
            f"GET {LIST_ROUTE}",
            kinds=("diff", "value", "value_set", "browser", "visible_text", "page"),
            exercised_by="editors sorting the posts table by title",
        ),
        SERVER,
        probe_sort,
        _req("GET", lambda p, q, _: _is_list(p) and "title" in q.get("_sort", "")),
        where=lambda f: "title" in finding_query(f).get("_sort", ""),
    ),
    Plant(
        _p(
            "record-create-200",
            "status",
            "Creating a post answers 200 instead of 201.",
            f"POST {LIST_ROUTE}",
            kinds=("status", "diff"),
            exercised_by="editors creating posts",
        ),
        SERVER,
        probe_create,
        _req("POST", lambda p, q, _: _is_list(p)),
        where=about_status,
    ),
    Plant(
        _p(
            "record-last-modified-null",
            "null_field",
            "A single post's data.last_modified is null.",
            f"GET {ONE_ROUTE}",
            evidence=("last_modified",),
            exercised_by="opening a post",
            # kinto-admin reads a post inside a batch (POST /v1/batch, one response per request)
            also_at=("POST /v1/batch",),
        ),
        SERVER,
        probe_last_modified,
        _req("GET", lambda p, q, _: _is_one(p)),
        where=lambda f: on_field(f, "last_modified"),
    ),
    Plant(
        _p(
            "edit-forbidden-403",
            "permission",
            "Editors get 403 when they save a post; only the owner may.",
            f"PATCH {ONE_ROUTE}",
            also_at=(f"PUT {ONE_ROUTE}",),
            kinds=("status", "diff"),
            exercised_by="editors editing or publishing posts",
        ),
        SERVER,
        probe_edit,
        _req(("PATCH", "PUT"), lambda p, q, _: _is_one(p)),
        where=about_status,
        hides=("publish-long-title-500",),
    ),  # an editor's publish answers 403 before it could answer 500
    Plant(
        _p(
            "total-records-off-by-one",
            "ui_data",
            'The Total-Records header is one short: "Records (39)".',
            f"HEAD {LIST_ROUTE}",
            also_at=(PAGE,),
            evidence=("records",),
            exercised_by="every records list (the tab's count)",
        ),
        SERVER,
        probe_total,
        _req("HEAD", lambda p, q, _: _is_list(p)),
    ),
    Plant(
        _p(
            "display-fields-drop-status",
            "ui_structure",
            "The posts collection lost `status` from its displayFields: the table has no Status column.",
            f"GET {COLLECTION_ROUTE}",
            also_at=(PAGE,),
            evidence=("status",),
            exercised_by="every posts list",
        ),
        SERVER,
        probe_display,
        _req("GET", lambda p, q, _: p.count("/") == 5 and "/collections/" in p),
    ),
    Plant(
        _p(
            "records-list-slow",
            "latency",
            "Record lists take 350 ms longer.",
            f"GET {LIST_ROUTE}",
            detect_by=("latency",),
            kinds=("latency",),
            exercised_by="every records list",
        ),
        SERVER,
        probe_slow,
        _req("GET", lambda p, q, _: _is_list(p)),
    ),
    Plant(
        _p(
            "publish-long-title-500",
            "combination",
            "Saving a post as published with a title over 30 characters answers 500; either alone works.",
            f"PATCH {ONE_ROUTE}",
            also_at=(f"PUT {ONE_ROUTE}",),
            kinds=("status", "diff"),
            evidence=("500",),
            exercised_by="publishing one of the long-titled posts",
        ),
        SERVER,
        probe_publish,
        _req(("PATCH", "PUT"), lambda p, q, ev: _is_one(p) and _long_publish(ev)),
    ),
    Plant(
        _p(
            "create-button-renamed",
            "ui_text",
            'The records list\'s "Create record" button reads "New record".',
            PAGE,
            evidence=("create record",),
            detect_by=("browser",),
            exercised_by="editors creating posts",
        ),
        FRONT,
        probe_button,
        _admin_page("/records"),
        hides=("record-create-200",),
    ),  # no "Create record" to click: nothing is created
    Plant(
        _p(
            "history-tab-hidden",
            "ui_structure",
            'The "History" tab is hidden by a style sheet.',
            PAGE,
            evidence=("history",),
            detect_by=("browser",),
            exercised_by="editors opening the history",
        ),
        FRONT,
        probe_history,
        _admin_page("/history"),
    ),
)
