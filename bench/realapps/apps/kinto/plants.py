"""Kinto's planted regressions: what each changes, how a replay finding about it is recognised, a
probe that shows the change over real HTTP, and which recorded requests exercise it. Injected by
the plugin `server/realapps_kinto_plants.py` (a pyramid tween loaded through `kinto.includes`)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import aiohttp

from trodden.shop.regressions import PlantedRegression

from ...model import Plant, RecordedEvent, about_status
from .users import basic

MECHANISM = "Kinto plugin (pyramid tween via kinto.includes)"
LIST_ROUTE = "/v1/buckets/{bucket}/collections/{collection}/records"
ONE_ROUTE = LIST_ROUTE + "/{id}"


# --- recognising recorded requests ----------------------------------------------------------------


Req = tuple[str, str, dict[str, str], int]  # method, path, query, status


def _requests(ev: RecordedEvent) -> list[Req]:
    """The requests a recorded event made: itself, and for POST /v1/batch each sub-request too
    (kinto-admin reads collections and records through batches)."""
    if ev.get("kind") != "request":
        return []
    parts = urlsplit(str(ev.get("request_url") or ""))
    method, status = str(ev.get("method", "GET")).upper(), int(ev.get("status") or 0)
    out: list[Req] = [(method, parts.path, dict(parse_qsl(parts.query)), status)]
    body = ev.get("request_body")
    if parts.path == "/v1/batch" and isinstance(body, Mapping) and isinstance(body.get("requests"), list):
        default = (
            (body.get("defaults") or {}).get("method", "GET") if isinstance(body.get("defaults"), Mapping) else "GET"
        )
        for sub in body["requests"]:
            if isinstance(sub, Mapping) and isinstance(sub.get("path"), str):
                sp = urlsplit(sub["path"])
                path = sp.path if sp.path.startswith("/v1/") else "/v1" + sp.path
                out.append((str(sub.get("method") or default).upper(), path, dict(parse_qsl(sp.query)), status))
    return out


def _request(ev: RecordedEvent) -> Req | None:
    found = _requests(ev)
    return found[0] if found else None


def _is_list(path: str) -> bool:
    p = path.split("/")
    return len(p) == 7 and p[1:3] == ["v1", "buckets"] and p[4] == "collections" and p[6] == "records"


def _is_one(path: str) -> bool:
    p = path.split("/")
    return len(p) == 8 and p[1:3] == ["v1", "buckets"] and p[4] == "collections" and p[6] == "records"


def _filtered(query: Mapping[str, str]) -> bool:
    return any(not k.startswith("_") or k in ("_since", "_before") for k in query)


def _headers(ev: RecordedEvent) -> Mapping[str, Any]:
    h = ev.get("request_headers")
    return {str(k).lower(): v for k, v in h.items()} if isinstance(h, Mapping) else {}


def _match(**want: Any) -> Any:
    def exercises(ev: RecordedEvent) -> bool:
        return any(_one(r, ev) for r in _requests(ev))

    def _one(r: Req, ev: RecordedEvent) -> bool:
        method, path, query, status = r
        checks = {
            "method": lambda v: method == v,
            "list": lambda v: _is_list(path) == v,
            "one": lambda v: _is_one(path) == v,
            "filtered": lambda v: _filtered(query) == v,
            "limit": lambda v: ("_limit" in query) == v,
            "sort_title": lambda v: ("title" in query.get("_sort", "")) == v,
            "status_4xx": lambda v: (400 <= status < 500) == v,
            "numeric_id": lambda v: ("/notes/" in path) == v,
            "path": lambda v: path == v,
            "anonymous_other_bucket": lambda v: (
                (
                    "authorization" not in _headers(ev)
                    and "/buckets/default/" not in path
                    and (_is_list(path) or _is_one(path))
                )
                == v
            ),
        }
        return all(checks[k](v) for k, v in want.items())

    return exercises


# --- probes (one account per deployment, one collection per probe) --------------------------------

_ACCOUNTS: dict[str, dict[str, str]] = {}


async def _account(http: aiohttp.ClientSession, base: str) -> dict[str, str]:
    """A probe account on this deployment (bcrypt makes each new account cost a quarter second)."""
    if base not in _ACCOUNTS:
        name, password = f"probe-{secrets.token_hex(4)}", secrets.token_hex(8)
        async with http.put(f"{base}/v1/accounts/{name}", json={"data": {"password": password}}) as r:
            r.raise_for_status()
        _ACCOUNTS[base] = {"Authorization": basic(name, password)}
    return _ACCOUNTS[base]


async def _json(
    http: aiohttp.ClientSession, method: str, url: str, headers: Mapping[str, str], body: Any = None
) -> tuple[int, Any]:
    async with http.request(method, url, json=body, headers=dict(headers)) as r:
        return r.status, await r.json(content_type=None)


async def _collection(
    http: aiohttp.ClientSession, base: str, name: str, titles: tuple[str, ...] = ()
) -> tuple[str, dict[str, str]]:
    """A fresh collection of the probe account's personal bucket, with these records."""
    h = await _account(http, base)
    records = f"{base}/v1/buckets/default/collections/{name}-{secrets.token_hex(3)}/records"
    for i, title in enumerate(titles):
        await _json(http, "POST", records, h, {"data": {"title": title, "done": i % 2 == 0}})
    return records, h


async def probe_create(http: aiohttp.ClientSession, base: str) -> Any:
    records, h = await _collection(http, base, "create")
    return (await _json(http, "POST", records, h, {"data": {"title": "probe"}}))[0]


async def probe_error_shape(http: aiohttp.ClientSession, base: str) -> Any:
    records, h = await _collection(http, base, "errors")
    return sorted((await _json(http, "GET", f"{records}/nope", h))[1])


async def probe_last_modified(http: aiohttp.ClientSession, base: str) -> Any:
    records, h = await _collection(http, base, "lastmod")
    _, made = await _json(http, "POST", records, h, {"data": {"title": "probe"}})
    _, body = await _json(http, "GET", f"{records}/{made['data']['id']}", h)
    return type(body["data"]["last_modified"]).__name__


async def probe_numeric_id(http: aiohttp.ClientSession, base: str) -> Any:
    records, h = await _collection(http, base, "notes")
    await _json(http, "PUT", f"{records}/7", h, {"data": {"title": "probe"}})
    _, body = await _json(http, "GET", f"{records}/7", h)
    return type(body["data"]["id"]).__name__


async def probe_sort_title(http: aiohttp.ClientSession, base: str) -> Any:
    records, h = await _collection(http, base, "sort", ("b", "c", "a"))
    _, body = await _json(http, "GET", f"{records}?_sort=title", h)
    return [r["title"] for r in body["data"]]


async def probe_page_size(http: aiohttp.ClientSession, base: str) -> Any:
    records, h = await _collection(http, base, "pages", ("a", "b", "c", "d", "e"))
    return len((await _json(http, "GET", f"{records}?_limit=2", h))[1]["data"])


async def probe_public_read(http: aiohttp.ClientSession, base: str) -> Any:
    h = await _account(http, base)
    _, me = await _json(http, "GET", f"{base}/v1/", h)
    name = f"shared-{secrets.token_hex(3)}"
    await _json(
        http, "PUT", f"{base}/v1/buckets/default/collections/{name}", h, {"permissions": {"read": ["system.Everyone"]}}
    )
    return (await _json(http, "GET", f"{base}/v1/buckets/{me['user']['bucket']}/collections/{name}/records", {}))[0]


async def probe_slow(http: aiohttp.ClientSession, base: str) -> Any:
    records, h = await _collection(http, base, "slow", ("a",))
    best = float("inf")
    for _ in range(5):  # the fastest of five: a busy machine only ever adds time
        started = time.perf_counter()
        await _json(http, "GET", f"{records}?done=false", h)
        best = min(best, time.perf_counter() - started)
    return "slow (≥ 350 ms)" if best >= 0.35 else "fast"


async def probe_batch(http: aiohttp.ClientSession, base: str) -> Any:
    records, h = await _collection(http, base, "import")  # not "batch": Kinto refuses a path with it
    path = records.removeprefix(base + "/v1")
    _, body = await _json(
        http,
        "POST",
        f"{base}/v1/batch",
        h,
        {"requests": [{"method": "POST", "path": path, "body": {"data": {"title": "x"}}}]},
    )
    return sorted(body["responses"][0])


async def probe_filtered_paging(http: aiohttp.ClientSession, base: str) -> Any:
    records, h = await _collection(http, base, "filtered", ("a", "b", "c"))
    return [
        (await _json(http, "GET", f"{records}?{query}", h))[0]
        for query in ("done=false", "_limit=1", "done=false&_limit=1")
    ]


PLANTS: tuple[Plant, ...] = (
    Plant(
        PlantedRegression(
            id="record-create-200",
            kind="status",
            description="Creating a record (POST …/records) answers 200 instead of 201.",
            endpoint=f"POST {LIST_ROUTE}",
            detect_by=("status", "expectation"),
            kinds=("status", "diff"),
            exercised_by="every session that creates a task or a shared record",
        ),
        MECHANISM,
        probe_create,
        _match(method="POST", list=True),
        where=about_status,
    ),
    Plant(
        PlantedRegression(
            id="error-body-shape",
            kind="error_shape",
            description="4xx error bodies {code, errno, error, message, details} became {status, error, message}.",
            endpoint=f"GET {LIST_ROUTE}",
            also_at=(f"GET {ONE_ROUTE}", f"POST {LIST_ROUTE}", f"PATCH {ONE_ROUTE}"),
            detect_by=("error_shape", "present", "expectation"),
            evidence=("errno",),
            exercised_by="mistakes: wrong password (401), missing record (404), bad parameter (400), stale If-Match",
        ),
        MECHANISM,
        probe_error_shape,
        _match(status_4xx=True),
    ),
    Plant(
        PlantedRegression(
            id="record-last-modified-null",
            kind="null_field",
            description="A single record's data.last_modified is null (GET …/records/{id}).",
            endpoint=f"GET {ONE_ROUTE}",
            detect_by=("not_null", "type", "expectation"),
            evidence=("last_modified",),
            exercised_by="reading one task or note",
        ),
        MECHANISM,
        probe_last_modified,
        _match(method="GET", one=True),
    ),
    Plant(
        PlantedRegression(
            id="numeric-id-number",
            kind="type",
            description='Records whose id is numeric come back with a number id (7) instead of the string "7".',
            endpoint=f"GET {ONE_ROUTE}",
            also_at=(f"GET {LIST_ROUTE}", f"PUT {ONE_ROUTE}", f"PATCH {ONE_ROUTE}"),
            detect_by=("type", "expectation"),
            evidence=("id",),
            kinds=("type", "diff", "format", "value_set"),
            exercised_by="the notes screen (client-numbered notes)",
        ),
        MECHANISM,
        probe_numeric_id,
        _match(numeric_id=True),
    ),
    Plant(
        PlantedRegression(
            id="sort-title-ignored",
            kind="ordering",
            description="_sort=title (or -title) is ignored: records come newest first.",
            endpoint=f"GET {LIST_ROUTE}",
            detect_by=("diff", "expectation"),
            kinds=("diff", "value", "value_set", "type", "format"),
            evidence=("/data/",),
            exercised_by="sorting tasks or notes by title",
        ),
        MECHANISM,
        probe_sort_title,
        _match(method="GET", list=True, sort_title=True),
    ),
    Plant(
        PlantedRegression(
            id="page-size-off-by-one",
            kind="pagination",
            description="A full page with _limit=N holds N-1 records; the next page starts after the lost one.",
            endpoint=f"GET {LIST_ROUTE}",
            detect_by=("diff", "expectation"),
            evidence=("#len",),
            exercised_by="paging through tasks with _limit and Next-Page",
        ),
        MECHANISM,
        probe_page_size,
        _match(method="GET", list=True, limit=True),
    ),
    Plant(
        PlantedRegression(
            id="public-read-401",
            kind="permission",
            description="A collection readable by system.Everyone answers 401 to anonymous reads.",
            endpoint=f"GET {LIST_ROUTE}",
            also_at=(f"GET {ONE_ROUTE}",),
            detect_by=("status", "expectation"),
            kinds=("status", "diff"),
            evidence=("401",),
            exercised_by="a shared list opened from its link without an account (rare)",
        ),
        MECHANISM,
        probe_public_read,
        _match(method="GET", anonymous_other_bucket=True),
    ),
    Plant(
        PlantedRegression(
            id="filtered-list-slow",
            kind="latency",
            description="Filtered record lists (done=…, like_…, has_…, _since) take 350 ms longer.",
            endpoint=f"GET {LIST_ROUTE}",
            detect_by=("latency",),
            kinds=("latency",),
            exercised_by="open tasks, searching titles, syncing with _since",
        ),
        MECHANISM,
        probe_slow,
        _match(method="GET", list=True, filtered=True),
    ),
    Plant(
        PlantedRegression(
            id="batch-missing-path",
            kind="shape",
            description="POST /v1/batch: each sub-response lost its `path`.",
            endpoint="POST /v1/batch",
            detect_by=("present", "expectation", "diff"),
            evidence=("path",),
            exercised_by="importing tasks in one batch",
        ),
        MECHANISM,
        probe_batch,
        _match(method="POST", path="/v1/batch"),
    ),
    Plant(
        PlantedRegression(
            id="filtered-paging-500",
            kind="combination",
            description="A filter and _limit together answer 500; either alone still works.",
            endpoint=f"GET {LIST_ROUTE}",
            detect_by=("status", "expectation"),
            kinds=("status", "diff"),
            evidence=("500",),
            exercised_by="paging through the open tasks only",
        ),
        MECHANISM,
        probe_filtered_paging,
        _match(method="GET", list=True, filtered=True, limit=True),
    ),
)
