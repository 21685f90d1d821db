"""The team blog's state on every deployment of kinto-admin (production and staging alike): the
bucket's owner, the editors' accounts, the `blog` bucket with `posts` (a JSON schema, display
fields) and `tags`, and 40 posts with fixed ids. Applied over HTTP after each flush."""

from __future__ import annotations

import base64
import random

import aiohttp

OWNER = ("blog-admin", "blog-admin-Pass-2026")
EDITORS = ("ana.silva", "bo.chen", "carla.ruiz", "dev.patel", "eva.novak")
TESTER = "replay.tester"
POSTS = "/v1/buckets/blog/collections/posts/records"
SCHEMA = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "title": "Title"},
        "status": {"type": "string", "title": "Status", "enum": ["draft", "review", "published"]},
        "body": {"type": "string", "title": "Body"},
    },
    "required": ["title"],
}
TOPICS = (
    "Release notes",
    "How we test",
    "Hiring",
    "Postmortem",
    "Roadmap",
    "Office move",
    "Conference recap",
    "Security update",
    "Team offsite",
    "Customer story",
)
LONG = (
    "What we learned from migrating the whole platform to a new database",
    "A very long look back at three years of on-call rotations and what changed",
)


def password(username: str) -> str:
    return OWNER[1] if username == OWNER[0] else f"{username.replace('.', '-')}-Blog-2026"


def basic(username: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password(username)}".encode()).decode()


def post(i: int) -> tuple[str, dict[str, str]]:
    rng = random.Random(i)
    title = rng.choice(LONG) if i % 3 == 1 else f"{rng.choice(TOPICS)} #{i}"
    return f"post-{i:03d}", {
        "title": title,
        "status": rng.choice(["draft", "review", "published"]),
        "body": f"Body of post {i}.",
    }


async def seed(http: aiohttp.ClientSession, base: str) -> None:
    for username in (OWNER[0], *EDITORS, TESTER):
        async with http.put(f"{base}/v1/accounts/{username}", json={"data": {"password": password(username)}}) as r:
            if r.status not in (200, 201):
                raise RuntimeError(f"seed: account {username}: {r.status}")
    owner = {"Authorization": basic(OWNER[0])}
    everyone = {"read": ["system.Authenticated"], "write": ["system.Authenticated"]}
    requests = [
        {"method": "PUT", "path": "/buckets/blog", "body": {"permissions": everyone}},
        {
            "method": "PUT",
            "path": "/buckets/blog/collections/posts",
            "body": {
                "data": {"schema": SCHEMA, "displayFields": ["title", "status"], "sort": "-last_modified"},
                "permissions": everyone,
            },
        },
        {
            "method": "PUT",
            "path": "/buckets/blog/collections/tags",
            "body": {"data": {"displayFields": ["name"]}, "permissions": everyone},
        },
    ]
    requests += [
        {"method": "PUT", "path": f"/buckets/blog/collections/tags/records/{t.lower()}", "body": {"data": {"name": t}}}
        for t in ("News", "Engineering", "People")
    ]
    requests += [
        {"method": "PUT", "path": f"/buckets/blog/collections/posts/records/{rid}", "body": {"data": data}}
        for rid, data in map(post, range(40))
    ]
    for start in range(0, len(requests), 25):  # batch_max_requests
        async with http.post(f"{base}/v1/batch", json={"requests": requests[start : start + 25]}, headers=owner) as r:
            body = await r.json()
            bad = [x.get("status") for x in body.get("responses", []) if x.get("status", 0) >= 300]
            if r.status != 200 or bad:
                raise RuntimeError(f"seed: batch answered {r.status} {bad[:3]}")
