"""HAR files → beacon batches: every page (or the whole file when it has no pages) is a session.

HAR is how users bring recordings from any browser's developer tools or from Playwright. Session
ids derive from the file's content and the page id, so importing the same file twice adds nothing.
Bodies are kept as JSON when they parse; forms, multipart, HTML and other text as their text (the
sanitiser handles each the same way whatever brought it); binary bodies are dropped; everything is
capped like the tag caps it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
from datetime import datetime
from typing import Any

import orjson

MAX_BODY_CHARS = 65536
_SKIP_HEADERS = {":authority", ":method", ":path", ":scheme", ":status"}
_TEXT_MIMES = ("json", "x-www-form-urlencoded", "multipart/form-data", "text/plain", "text/html", "xml")


def is_har(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("log"), dict) and isinstance(doc["log"].get("entries"), list)


def _millis(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000.0


def _millis_or_none(value: Any) -> float | None:
    """None for a missing or unreadable time: the event is then refused with a reason."""
    try:
        return _millis(str(value)) if value else None
    except ValueError:
        return None


def _headers(items: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for h in items or []:
        if not isinstance(h, dict):
            continue
        name, value = str(h.get("name", "")), str(h.get("value", ""))
        if not name or name.lower() in _SKIP_HEADERS:
            continue
        key = name.lower()
        out[key] = (
            f"{out[key]}\n{value}"
            if key == "set-cookie" and key in out
            else (f"{out[key]}, {value}" if key in out else value)
        )
    return out


def _body(text: Any, mime: str, encoding: str | None = None) -> tuple[Any, bool]:
    """(body, truncated) as the tag would have captured it."""
    if not isinstance(text, str) or not text:
        return None, False
    if encoding == "base64":
        if len(text) > MAX_BODY_CHARS * 8:  # decoding is bounded; a body that large is not kept anyway
            return None, False
        try:
            text = base64.b64decode(text).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None, False
    mime = mime.lower()
    if "json" in mime:
        try:
            return orjson.loads(text), False
        except orjson.JSONDecodeError:
            pass
    if any(kind in mime for kind in _TEXT_MIMES):
        return (text[:MAX_BODY_CHARS], True) if len(text) > MAX_BODY_CHARS else (text, False)
    return None, False


def _page_url(entries: list[dict[str, Any]]) -> str | None:
    for e in entries:
        mime = str(e.get("response", {}).get("content", {}).get("mimeType", ""))
        if "html" in mime:
            return str(e.get("request", {}).get("url"))
    return str(entries[0].get("request", {}).get("url")) if entries else None


def har_batches(doc: dict[str, Any], content_digest: str) -> list[dict[str, Any]]:
    """The HAR as beacon batches (dicts; validated and sanitised by the beacon decoder)."""
    log = doc["log"]
    entries = [e for e in log["entries"] if isinstance(e, dict)]
    pages = [p for p in log.get("pages") or [] if isinstance(p, dict) and p.get("id")]
    groups: list[tuple[str, dict[str, Any] | None, list[dict[str, Any]]]] = []
    if pages:
        by_page: dict[str, list[dict[str, Any]]] = {str(p["id"]): [] for p in pages}
        orphans: list[dict[str, Any]] = []
        for e in entries:
            by_page.get(str(e.get("pageref")), orphans).append(e)
        groups = [(str(p["id"]), p, by_page[str(p["id"])]) for p in pages]
        if orphans:
            groups.append(("orphans", None, orphans))
    else:
        groups = [("all", None, entries)]
    batches = []
    for page_id, page, page_entries in groups:
        session_id = "har-" + hashlib.sha256(f"{content_digest}:{page_id}".encode()).hexdigest()[:20]
        events: list[dict[str, Any]] = []
        url = _page_url(page_entries)
        started = page.get("startedDateTime") if page else None
        if started is None and page_entries:
            started = page_entries[0].get("startedDateTime")
        if url is not None and started:
            with contextlib.suppress(ValueError):
                events.append(
                    {
                        "kind": "page_view",
                        "seq": 0,
                        "ts": _millis(str(started)),
                        "url": url,
                        "title": str(page.get("title"))[:512] if page and page.get("title") else None,
                    }
                )
        for e in sorted(page_entries, key=lambda e: str(e.get("startedDateTime", ""))):
            events.append(_request_event(e, len(events), url))
        if events:
            batches.append({"session_id": session_id, "attributes": {"origin": "har"}, "events": events})
    return batches


def _request_event(entry: dict[str, Any], seq: int, page_url: str | None) -> dict[str, Any]:
    request = entry.get("request") or {}
    response = entry.get("response") or {}
    content = response.get("content") or {}
    post = request.get("postData") or {}
    req_body, req_trunc = _body(post.get("text"), str(post.get("mimeType", "")))
    res_body, res_trunc = _body(content.get("text"), str(content.get("mimeType", "")), content.get("encoding"))
    event: dict[str, Any] = {
        "kind": "request",
        "seq": seq,
        "ts": _millis_or_none(entry.get("startedDateTime")),
        "url": page_url,
        "initiator": "document" if "html" in str(content.get("mimeType", "")) else "har",
        "method": request.get("method"),
        "request_url": request.get("url"),
        "status": response.get("status", 0),
        "duration_ms": max(0.0, float(entry.get("time") or 0)),
        "request_headers": _headers(request.get("headers")),
        "response_headers": _headers(response.get("headers")),
        "request_body": req_body,
        "response_body": res_body,
        "body_truncated": req_trunc or res_trunc,
    }
    if event["status"] == 0 and response.get("_error"):
        event["error"] = str(response.get("_error"))[:1024]
    return event
