"""The instrumentation config: what the collector serves at `/v1/config` and the tag obeys.

The operator writes it after each ReplayRun into the ConfigMap `<rumsource>-instrumentation`
(key `config.json`); the collector Deployment mounts that ConfigMap and the collector re-reads the
file when it changes (`trodden collect --instrumentation-file PATH`). Without a file the collector
serves the defaults below.

Routes are endpoints as journeys name them ("METHOD /route/{param}") or page paths
("PAGE /cart"); patterns may use `{param}` segments and a trailing `*`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SamplingBoost(_Model):
    route: str
    rate: float = Field(ge=0, le=1)
    reason: Literal["regressed", "flaky", "uncovered", "manual"]
    until: str | None = None  # RFC 3339; the boost lapses afterwards


class CaptureDetail(_Model):
    """Capture more for flows whose replay depended on state the capture lacked."""

    route: str
    request_bodies: bool = True
    response_bodies: bool = True
    headers: list[str] = Field(default_factory=list)
    storage: bool = False  # also record localStorage/sessionStorage keys at page load
    reason: str = ""


class Sampling(_Model):
    rate: float = Field(1.0, ge=0, le=1)  # share of sessions captured
    boosts: list[SamplingBoost] = Field(default_factory=list)


class Capture(_Model):
    bodies: Literal["none", "json", "json+form"] = "json+form"
    max_body_bytes: int = Field(16384, ge=0, le=1_048_576)
    request_headers: list[str] = Field(default_factory=lambda: ["content-type", "accept", "if-match", "x-csrf-token"])
    response_headers: list[str] = Field(default_factory=lambda: ["content-type", "etag", "location"])
    mask_selectors: list[str] = Field(default_factory=lambda: ["[data-sensitive]", "input[type=password]"])
    detail: list[CaptureDetail] = Field(default_factory=list)


class InstrumentationConfig(_Model):
    version: int = 1
    generation: int = 0  # bumped by the operator on every write, so tags can tell configs apart
    sampling: Sampling = Field(default_factory=Sampling)
    capture: Capture = Field(default_factory=Capture)
    uncovered_routes: list[str] = Field(default_factory=list)  # seen in traces, covered by no session
    flush_interval_ms: int = Field(5000, ge=200, le=600_000)
