"""What an application of the harness is: how it is installed and started, its simulated users,
its planted regressions (each with a probe that proves it changes behaviour) and how its state is
reset between replays. One module per application under `apps/`, one registry (`apps.APPS`)."""

from __future__ import annotations

import abc
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

import aiohttp

from trodden.shop.regressions import PlantedRegression
from trodden.shop.services import Service, Services

Say = Callable[[str], None]
# A recorded beacon event (as rum.js or an API client sent it): kind, url, method, request_url, …
RecordedEvent = Mapping[str, Any]


@dataclass(frozen=True)
class RumTag:
    """Where pages send their beacons: the tag a tag manager would add to every page."""

    collector_url: str
    ingest_key: str

    def script(self) -> str:
        return f'<script src="{self.collector_url}/rum.js" data-key="{self.ingest_key}" async></script>'


@dataclass
class Instance:
    """One running deployment of an application (its processes and the URL users and replays use)."""

    name: str
    url: str
    plants: frozenset[str]
    services: list[Service] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


Probe = Callable[[aiohttp.ClientSession, str], Awaitable[Any]]


@dataclass(frozen=True)
class Plant:
    """A planted regression: what changes (the shared `PlantedRegression` record, whose `matches`
    recognises a replay finding about it), how it is injected without editing the app, a probe
    (an observation over real HTTP that must differ between a deployment with the plant and one
    without), and which recorded events exercise it (to tell "missed" from "never exercised")."""

    regression: PlantedRegression
    mechanism: str
    probe: Probe
    exercises: Callable[[RecordedEvent], bool]
    # What a finding about this plant shows (the field it is on, the values it compares, the page's
    # query), beyond the words of `regression.evidence`: where plants share a page or an endpoint, a
    # finding there counts only for the plant whose change it shows.
    where: Callable[[Mapping[str, Any]], bool] | None = None
    # Plants this one hides when both are on one target (a renamed column header leaves nothing to
    # click for the sort plant; a refused "Add loan" shifts which loan the returning user opens):
    # the harness replays such plants on separate targets (`plant_groups`), as separate deploys.
    hides: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Honest attribution: a plant is caught only by a finding at its endpoint or page AND of its
        # evidence. A plant that names no evidence would be "caught" by anything on its page.
        r = self.regression
        if not (r.evidence or self.where is not None or r.kinds == ("latency",)):
            raise ValueError(
                f"plant {r.id}: name its evidence (evidence words or a `where` on the finding); "
                "otherwise any finding on its page would count as catching it"
            )

    @property
    def id(self) -> str:
        return self.regression.id

    def matches(self, finding: Mapping[str, Any]) -> bool:
        """Is a replay report's regression entry about this plant? The shared `matches` checks the
        assertion kinds, the evidence words and an API endpoint; a page plant must also be on its page
        (the finding's endpoint or URL), which the shared one leaves open."""
        r = self.regression
        if r.endpoint.startswith("PAGE ") and not any(
            on_page(finding, route.split(" ", 1)[1]) for route in (r.endpoint, *r.also_at)
        ):
            return False
        return r.matches(finding) and (self.where is None or self.where(finding))


def on_page(finding: Mapping[str, Any], route: str) -> bool:
    """A finding's endpoint (`PAGE /path`, `GET /path`) or URL is on this page route (`/books/{id}/`)."""
    pattern = re.compile("^" + r"[^/\s]+".join(re.escape(p) for p in re.split(r"\{[^}]*\}", route)) + "$")
    candidates = []
    endpoint = finding.get("endpoint")
    if isinstance(endpoint, str) and " " in endpoint:
        candidates.append(endpoint.split(" ", 1)[1])
    if isinstance(finding.get("url"), str):
        candidates.append(urlsplit(finding["url"]).path)
    return any(pattern.match(c.split("?", 1)[0].split("#", 1)[0]) for c in candidates)


@dataclass(frozen=True)
class SimConfig:
    seed: int
    sessions: int  # API client sessions
    browser_sessions: int
    concurrency: int = 4
    browser_concurrency: int = 2
    duration_s: float = 300.0


class BatchSink(abc.ABC):
    """Where an API client posts its own session as one beacon batch (what a mobile RUM SDK does)."""

    @abc.abstractmethod
    async def post_batch(self, http: aiohttp.ClientSession, batch: dict[str, Any]) -> int: ...


class RealApp(abc.ABC):
    """An application nobody here wrote, as the harness drives it."""

    name: ClassVar[str]
    title: ClassVar[str]
    covers: ClassVar[str]  # which of the kinds it stands for
    version: ClassVar[str]
    plants: ClassVar[tuple[Plant, ...]]
    default_sessions: ClassVar[int] = 60
    default_browser_sessions: ClassVar[int] = 0
    # Options the harness passes to `trodden select` / `trodden generate` for this app (with why, in its module).
    select_args: ClassVar[tuple[str, ...]] = ()
    generate_args: ClassVar[tuple[str, ...]] = ()

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir  # where its configuration files, databases and logs go
        # One secret per fleet: the production deployment's, and the staging one of the replays.
        self._secrets = {fleet: secrets.token_hex(24) for fleet in ("production", "staging")}

    def secret(self, *, production: bool) -> str:
        return self._secrets["production" if production else "staging"]

    @abc.abstractmethod
    def install(self, say: Say) -> None:
        """Install from the registries into the cache (once per version)."""

    @abc.abstractmethod
    async def start(
        self, services: Services, name: str, *, plants: frozenset[str], tag: RumTag | None, production: bool = False
    ) -> Instance:
        """Start a fresh deployment on loopback, with these plants (none: unchanged) and the tag if given.
        `production`: the deployment users are recorded on; the others (baseline, control, target) share
        another configuration, as a staging fleet does (secrets, and so ids derived from them, differ)."""

    @abc.abstractmethod
    async def reset(self, http: aiohttp.ClientSession, instance: Instance) -> None:
        """Back to the state a fresh deployment has (between replays)."""

    @abc.abstractmethod
    async def simulate(
        self, instance: Instance, tag: RumTag, sink: BatchSink, cfg: SimConfig, say: Say
    ) -> dict[str, Any]:
        """Run the simulated population against the recorded deployment; returns a traffic summary."""

    async def replay_env(self, http: aiohttp.ClientSession, instances: list[Instance]) -> dict[str, str]:
        """What a user gives `trodden replay` for this app (e.g. one test account), set up on these instances."""
        return {}

    def simulator_files(self) -> list[Path]:
        """Source files whose change makes a recorded corpus stale (the corpus key hashes them)."""
        return []

    async def stop(self) -> None:
        """Stop what the app runs inside the harness's process (proxies); its processes are `services`'."""
        return None

    def plant(self, plant_id: str) -> Plant:
        for p in self.plants:
            if p.id == plant_id:
                return p
        raise KeyError(plant_id)


def plant_groups(plants: list[Plant]) -> list[list[Plant]]:
    """The plants split into as few targets as keep every plant apart from the ones that hide it
    (first fit, in the plants' order)."""
    groups: list[list[Plant]] = []
    for plant in plants:
        for group in groups:
            if not any(plant.id in other.hides or other.id in plant.hides for other in group):
                group.append(plant)
                break
        else:
            groups.append([plant])
    return groups


# --- what a finding shows (for plants' `where`) -------------------------------------------------------


def finding_query(finding: Mapping[str, Any]) -> dict[str, str]:
    """The query of the page or request a finding is about (its URL's)."""
    url = finding.get("url")
    return dict(parse_qsl(urlsplit(url).query)) if isinstance(url, str) else {}


def on_field(finding: Mapping[str, Any], *names: str) -> bool:
    """The finding compares one of these fields (a page outline's `table result_list rows`, a JSON
    pointer's last segment such as `last_modified`, or `status`)."""
    field_ = str(finding.get("field") or "")
    return any(field_ == n or field_.endswith("/" + n) for n in names)


def shown(value: Any) -> list[str]:
    """A finding's expected or actual value as the strings it shows (a list's items, or the value)."""
    if isinstance(value, list):
        return [str(v) for v in value]
    return [] if value is None else [str(value)]


def lost(finding: Mapping[str, Any], pattern: str) -> bool:
    """Something matching `pattern` (a regex, case-insensitive) was on the baseline's side of the
    finding and is not on the target's."""
    regex = re.compile(pattern, re.I)
    before = {v for v in shown(finding.get("expected")) if regex.search(v)}
    return bool(before - set(shown(finding.get("actual"))))


def status_became(finding: Mapping[str, Any], *statuses: int) -> bool:
    """A status finding whose target side is one of these."""
    return on_field(finding, "status") and finding.get("actual") in statuses


def about_status(finding: Mapping[str, Any]) -> bool:
    """A finding about a response's or page's status (a status expectation or assertion, or a
    difference of the status from the baseline)."""
    return (finding.get("assertion") or {}).get("kind") == "status" or on_field(finding, "status")


def element_missing(finding: Mapping[str, Any], pattern: str = "") -> bool:
    """The element a recorded step acted on is not on the page (what even a replay that checks only
    that each step's element exists sees), optionally one whose locators match `pattern` (a regex)."""
    if (finding.get("assertion") or {}).get("kind") != "locator":
        return False
    return not pattern or any(re.search(pattern, v) for v in shown(finding.get("expected")))
