"""What executing one attempt of a test yields, whatever ran it (aiohttp or a browser)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from trodden.assertions import Observation
from trodden.models.suite import AuthProfile, Suite, ValueFrom
from trodden.replay.options import ReplayOptions
from trodden.replay.results import Failure, StepRecord
from trodden.replay.routes import RouteTable


@dataclass
class Execution:
    observations: list[Observation] = field(default_factory=list)
    steps: list[StepRecord] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)  # recorded expectations + could-not-run
    aborted: bool = False


@dataclass
class SuiteEnv:
    """Per-run facts every executor needs."""

    suite: Suite
    options: ReplayOptions
    routes: RouteTable
    profiles: dict[str, AuthProfile]

    @classmethod
    def build(cls, suite: Suite, options: ReplayOptions) -> SuiteEnv:
        endpoints: set[str] = {a.endpoint for a in suite.assertions}
        endpoints |= {a.other for a in suite.assertions if a.other}
        for test in suite.tests:
            for step in test.steps:
                if step.kind == "http":
                    endpoints.add(step.endpoint)
                else:
                    endpoints.update(step.network)
        for profile in suite.auth_profiles:
            endpoints.update(s.endpoint for s in profile.login)
        return cls(suite, options, RouteTable(endpoints), {p.name: p for p in suite.auth_profiles})


class AuthError(Exception):
    """An auth profile cannot be resolved (missing env/secret): a configuration error."""


def secret_env_name(secret: str) -> str:
    """Env var a Kubernetes secret reference "name/key" is mounted as (the operator does this)."""
    cleaned = "".join(c if c.isalnum() else "_" for c in secret.upper())
    return f"TRODDEN_SECRET_{cleaned}"


def resolve_value(ref: ValueFrom, environ: dict[str, str]) -> str:
    if ref.value is not None:
        return ref.value
    if ref.env is not None:
        if ref.env not in environ:
            raise AuthError(f"environment variable {ref.env} is not set")
        return environ[ref.env]
    if ref.secret is not None:
        name = secret_env_name(ref.secret)
        if name not in environ:
            raise AuthError(f"secret {ref.secret} is not mounted (expected env {name})")
        return environ[name]
    raise AuthError("a header value has neither value, env nor secret")


def recorded_endpoints(steps: list[Any]) -> set[str]:
    out: set[str] = set()
    for step in steps:
        if step.kind == "http":
            out.add(step.endpoint)
        else:
            out.update(step.network)
    return out
