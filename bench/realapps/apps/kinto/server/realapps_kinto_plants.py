"""Planted regressions for Kinto, as a Kinto plugin: `kinto.includes = realapps_kinto_plants` and
`realapps.plants = id id …` in the ini file. Kinto's own files are never edited; this is what a
team's plugin (a pyramid tween) that broke something would look like.

Runs inside Kinto's virtualenv (pyramid, no Trodden). The ids and what they do are listed, with
their probes, in `bench/realapps/apps/kinto/plants.py`; the two must agree (a test checks that
every plant there has a branch here).
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from pyramid.response import Response

# Batch sub-requests may carry their path without the /v1 prefix.
LIST = re.compile(r"^(?:/v1)?/buckets/([^/]+)/collections/[^/]+/records$")
ONE = re.compile(r"^(?:/v1)?/buckets/([^/]+)/collections/[^/]+/records/[^/]+$")
KNOWN = frozenset(
    {
        "record-create-200",
        "error-body-shape",
        "record-last-modified-null",
        "numeric-id-number",
        "sort-title-ignored",
        "page-size-off-by-one",
        "public-read-401",
        "filtered-list-slow",
        "batch-missing-path",
        "filtered-paging-500",
        # kinto-admin's (the SPA app's) server-side plants
        "edit-forbidden-403",
        "total-records-off-by-one",
        "display-fields-drop-status",
        "records-list-slow",
        "publish-long-title-500",
    }
)
COLLECTION = re.compile(r"^(?:/v1)?/buckets/([^/]+)/collections/([^/]+)$")
SLOW_S = 0.35


def _filters(request: Any) -> list[str]:
    """Kinto's filters are the query parameters that do not start with `_` (plus `_since`/`_before`)."""
    return [k for k in request.GET if not k.startswith("_") or k in ("_since", "_before")]


def _json_response(status: int, body: dict[str, Any], template: Any = None) -> Response:
    response = Response(status=status, content_type="application/json", charset="utf-8")
    response.body = json.dumps(body).encode()
    if template is not None:  # keep the CORS and security headers Kinto sets on every response
        for name in ("Access-Control-Expose-Headers", "Content-Security-Policy", "X-Content-Type-Options"):
            if name in template.headers:
                response.headers[name] = template.headers[name]
    return response


def _body(response: Any) -> Any:
    if not (response.content_type or "").startswith("application/json") or not response.body:
        return None
    try:
        return json.loads(response.body)
    except ValueError:
        return None


def _numeric_ids(items: list[Any]) -> None:
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"].isdigit():
            item["id"] = int(item["id"])


def _plants(registry: Any) -> frozenset[str]:
    plants = frozenset(str(registry.settings.get("realapps.plants", "")).split())
    unknown = plants - KNOWN
    if unknown:
        raise ValueError(f"unknown Kinto plants: {sorted(unknown)}")
    return plants


def tween_factory(handler: Any, registry: Any) -> Any:
    """Plants that answer instead of Kinto, or delay it (direct requests; batch sub-requests skip tweens)."""
    plants = _plants(registry)
    if not plants:
        return handler
    owner = str(registry.settings.get("realapps.owner", ""))  # who keeps write access (edit-forbidden-403)

    def tween(request: Any) -> Any:
        path, method = request.path, request.method
        is_list, is_one = LIST.match(path), ONE.match(path)
        anonymous = "Authorization" not in request.headers
        if (
            "filtered-paging-500" in plants
            and is_list
            and method == "GET"
            and _filters(request)
            and "_limit" in request.GET
        ):
            return _json_response(
                500,
                {
                    "code": 500,
                    "errno": 999,
                    "error": "Internal Server Error",
                    "message": "A programmatic error occured, developers have been informed.",
                },
            )
        if "public-read-401" in plants and method == "GET" and anonymous and (is_list or is_one):
            bucket = (is_list or is_one).group(1)  # type: ignore[union-attr]
            if bucket != "default":
                response = _json_response(
                    401,
                    {
                        "code": 401,
                        "errno": 104,
                        "error": "Unauthorized",
                        "message": "Please authenticate yourself to use this endpoint.",
                    },
                )
                response.headers["WWW-Authenticate"] = 'Basic realm="Realm"'
                return response
        if "filtered-list-slow" in plants and is_list and method == "GET" and _filters(request):
            time.sleep(SLOW_S)
        if "records-list-slow" in plants and is_list and method == "GET":
            time.sleep(SLOW_S)
        if (
            "edit-forbidden-403" in plants
            and is_one
            and method in ("PATCH", "PUT")
            and getattr(request, "prefixed_userid", None) != owner
        ):
            return _json_response(
                403,
                {"code": 403, "errno": 121, "error": "Forbidden", "message": "This user cannot access this resource."},
            )
        if "publish-long-title-500" in plants and is_one and method in ("PATCH", "PUT"):
            data = (_json_body(request) or {}).get("data") or {}
            if data.get("status") == "published" and len(str(data.get("title", ""))) > 30:
                return _json_response(
                    500,
                    {
                        "code": 500,
                        "errno": 999,
                        "error": "Internal Server Error",
                        "message": "A programmatic error occured, developers have been informed.",
                    },
                )
        return handler(request)

    return tween


def on_new_response(event: Any) -> None:
    """Plants that change what Kinto answered: every response, batch sub-requests included (what
    kinto-admin reads through /v1/batch)."""
    plants = _plants(event.request.registry)
    if plants:
        _change(plants, event.request, event.response)


def _change(plants: frozenset[str], request: Any, response: Any) -> None:
    path, method = request.path, request.method
    is_list, is_one = LIST.match(path), ONE.match(path)
    body = _body(response)
    changed = False
    if (
        "total-records-off-by-one" in plants
        and is_list
        and method in ("GET", "HEAD")
        and "Total-Records" in response.headers
    ):
        response.headers["Total-Records"] = str(max(0, int(response.headers["Total-Records"]) - 1))
    if (
        "display-fields-drop-status" in plants
        and COLLECTION.match(path)
        and method == "GET"
        and body is not None
        and isinstance(body.get("data"), dict)
    ):
        fields = body["data"].get("displayFields")
        if isinstance(fields, list) and "status" in fields:
            body["data"]["displayFields"] = [f for f in fields if f != "status"]
            changed = True
    if "record-create-200" in plants and is_list and method == "POST" and response.status_code == 201:
        response.status = "200 OK"
    if body is not None and isinstance(body.get("data"), list) and is_list and method == "GET":
        data = body["data"]
        if "sort-title-ignored" in plants and "title" in request.GET.get("_sort", ""):
            data.sort(key=lambda r: -int(r.get("last_modified") or 0) if isinstance(r, dict) else 0)
            changed = True
        if (
            "page-size-off-by-one" in plants
            and "_limit" in request.GET
            and "Next-Page" in response.headers
            and len(data) > 1
        ):
            data.pop()  # the page's last record is lost: the next page starts after it
            changed = True
        if "numeric-id-number" in plants:
            _numeric_ids(data)
            changed = True
    if body is not None and isinstance(body.get("data"), dict) and (is_one or is_list):
        if "numeric-id-number" in plants:
            _numeric_ids([body["data"]])
            changed = True
        if "record-last-modified-null" in plants and is_one and method == "GET":
            body["data"]["last_modified"] = None
            changed = True
    if "batch-missing-path" in plants and path == "/v1/batch" and method == "POST" and body is not None:
        for item in body.get("responses", []):
            if isinstance(item, dict):
                item.pop("path", None)
        changed = True
    if changed:
        response.body = json.dumps(body).encode()
    if "error-body-shape" in plants and 400 <= response.status_code < 500:
        _error_shape(response)


def _json_body(request: Any) -> Any:
    try:
        return json.loads(request.body or b"null")
    except ValueError:
        return None


def _error_shape(response: Any) -> Any:
    """Kinto's error body {code, errno, error, message, details?, info?} became {status, error, message}."""
    body = _body(response)
    if isinstance(body, dict) and "errno" in body:
        response.body = json.dumps(
            {"status": body.get("code"), "error": body.get("error"), "message": body.get("message")}
        ).encode()
    return response


def includeme(config: Any) -> None:
    from pyramid.events import NewResponse

    config.add_tween("realapps_kinto_plants.tween_factory")
    config.add_subscriber(on_new_response, NewResponse)
