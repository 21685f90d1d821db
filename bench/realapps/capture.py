"""Recording once, re-using often: a pass-through in front of the collector that keeps every beacon
it forwards, and the corpus those beacons make (cached, keyed by what could change them).

Pages load `rum.js` through the tee and send their beacons to it; API clients post their batches
to it. Each `POST /v1/rum` body is forwarded unchanged and kept. A later run re-posts the same
bodies to a fresh collector (`--reuse-recording`), so select/generate/replay see what a live
recording would have stored, without starting the application or a browser for the recording.
"""

from __future__ import annotations

import gzip
import hashlib
import time
from importlib import resources
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from pydantic import BaseModel, Field

from .install import cache_root
from .model import BatchSink, RealApp, SimConfig
from .proxy import Proxy


class Beacon(BaseModel):
    """One POST /v1/rum body as the collector received it (the ingest key is not kept)."""

    content_type: str
    body: str


class CorpusMeta(BaseModel):
    key: str
    app: str
    version: str
    seed: int
    sessions: int
    browser_sessions: int
    recorded_at: str
    traffic: dict[str, Any] = Field(default_factory=dict)
    beacons: int = 0


def corpus_key(app: RealApp, cfg: SimConfig) -> str:
    """Application and version, simulator seed and size, and a hash of what shapes the beacons: the
    tag (rum.js), the application's simulator and this harness's traffic code."""
    digest = hashlib.sha256()
    digest.update(resources.files("trodden.collector").joinpath("static/rum.js").read_bytes())
    for path in sorted({*app.simulator_files(), Path(__file__).with_name("traffic.py")}):
        digest.update(path.read_bytes())
    return f"{app.name}-{app.version}-seed{cfg.seed}-n{cfg.sessions}-b{cfg.browser_sessions}-{digest.hexdigest()[:12]}"


class Corpus:
    def __init__(self, key: str) -> None:
        self.key = key
        self.path = cache_root() / "corpus" / f"{key}.jsonl.gz"

    def exists(self) -> bool:
        return self.path.exists()

    def write(self, meta: CorpusMeta, beacons: list[Beacon]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with gzip.open(tmp, "wb") as out:
            out.write(orjson.dumps(meta.model_dump()) + b"\n")
            for beacon in beacons:
                out.write(orjson.dumps(beacon.model_dump()) + b"\n")
        tmp.replace(self.path)

    def read(self) -> tuple[CorpusMeta, list[Beacon]]:
        with gzip.open(self.path, "rb") as src:
            lines = src.read().splitlines()
        return CorpusMeta.model_validate(orjson.loads(lines[0])), [Beacon.model_validate_json(x) for x in lines[1:]]


async def post_beacons(http: aiohttp.ClientSession, collector_url: str, ingest_key: str, beacons: list[Beacon]) -> int:
    """Send recorded beacons to a collector as the pages and clients did; returns how many failed."""
    failed = 0
    for beacon in beacons:
        async with http.post(
            f"{collector_url}/v1/rum",
            data=beacon.body.encode(),
            headers={"Content-Type": beacon.content_type, "Authorization": f"Bearer {ingest_key}"},
        ) as response:
            await response.read()
            failed += response.status >= 300
    return failed


class Tee(Proxy, BatchSink):
    """Forwards everything to the collector (rum.js, /v1/config, CORS preflights, beacons) and keeps
    each beacon body. Its URL is the collector URL the tag and the API clients are given."""

    def __init__(self, collector_url: str, ingest_key: str) -> None:
        super().__init__(collector_url)
        self.ingest_key = ingest_key
        self.beacons: list[Beacon] = []

    def observe(self, request: web.Request, body: bytes) -> None:
        if request.method == "POST" and request.path == "/v1/rum":
            self.beacons.append(
                Beacon(
                    content_type=request.headers.get("Content-Type", "text/plain"),
                    body=body.decode("utf-8", errors="replace"),
                )
            )

    async def post_batch(self, http: aiohttp.ClientSession, batch: dict[str, Any]) -> int:
        async with http.post(
            f"{self.url}/v1/rum",
            data=orjson.dumps(batch),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.ingest_key}"},
            timeout=aiohttp.ClientTimeout(total=15),
        ) as response:
            await response.read()
            return response.status


def recorded_events(beacons: list[Beacon]) -> dict[str, list[dict[str, Any]]]:
    """Events per session id, in the order sent (for counting which sessions exercised a plant)."""
    sessions: dict[str, list[dict[str, Any]]] = {}
    for beacon in beacons:
        try:
            doc = orjson.loads(beacon.body)
        except orjson.JSONDecodeError:
            continue
        for batch in doc if isinstance(doc, list) else [doc]:
            if not isinstance(batch, dict):
                continue
            sid = str(batch.get("session_id"))
            sessions.setdefault(sid, []).extend(e for e in batch.get("events", []) if isinstance(e, dict))
    return sessions


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
