"""The loop on one third-party application, through Trodden's own CLIs, stage by stage:

install → collector + tee → record (simulated users on the "production" deployment; or re-post the
cached corpus) → trodden select → trodden generate → start baseline, control and target
deployments → probe every plant → N control replays (target = an unchanged deployment, with
--baseline) → the target replay (plants on, with --baseline) → the status-only peer on the same
target → nothing left running.

A stage that fails is recorded with its reason and the stages that need it are skipped; the
result is written whatever happened. Nothing here is tuned to the pipeline: findings are matched
to plants by the plants' own description (`PlantedRegression.matches`), and every target finding
that matches no plant is reported as unexplained.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from trodden.shop.loop import count_captured
from trodden.shop.services import Services, reserve_ports, trodden

from .capture import Corpus, CorpusMeta, Tee, corpus_key, now_iso, post_beacons, recorded_events
from .model import Instance, Plant, RealApp, RumTag, SimConfig, plant_groups
from .results import AppResult, Finding, PlantResult, ReplayOutcome

_LOCAL_PORT = re.compile(r"//(?:127\.0\.0\.1|localhost):(\d{2,5})\b")

Say = Callable[[str, str], None]  # (stage, message)
REPLAY_ARGS = ("--retries", "0", "--concurrency", "4")
# A replay's time limit: browser tests that run through (sign-in, then ten or more steps) on three
# sides take 15-25 minutes for 20-30 tests on this shared 2-core machine.
REPLAY_TIMEOUT_S = 3600.0


@dataclass(frozen=True)
class RunOptions:
    run_dir: Path
    seed: int = 7
    sessions: int | None = None  # API client sessions (default: the app's)
    browser_sessions: int | None = None
    plants: tuple[str, ...] | None = None  # None: all of the app's plants
    controls: int = 3
    reuse_recording: bool = False
    peer: bool = True
    dsn: str | None = None
    duration_s: float = 300.0
    # a second deployment of the baseline (replay's --secondary-baseline, Diffy's secondary): each
    # deployment then replays every write once, so what pages and lists show stays comparable
    secondary_baseline: bool = True


class StageError(RuntimeError):
    pass


def _env(opts: RunOptions, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    import os

    env = dict(os.environ)
    if opts.dsn:
        env["TRODDEN_DSN"] = opts.dsn
    env.setdefault("TRODDEN_LOG_LEVEL", "warning")
    env.update(extra or {})
    return env


async def _cli(
    opts: RunOptions, args: list[str], extra_env: Mapping[str, str] | None = None, ok: tuple[int, ...] = (0,)
) -> Any:
    result = await trodden(args, _env(opts, extra_env))
    if result.returncode not in ok:
        raise StageError(f"`trodden {args[0]}` exit {result.returncode}: {result.reason()}")
    return result


async def _settle(source: str, dsn: str | None, max_wait_s: float = 30) -> dict[str, Any]:
    """Wait until what reached PostgreSQL stops growing (page-hide beacons arrive last)."""
    last: dict[str, Any] = {}
    deadline = time.monotonic() + max_wait_s
    while time.monotonic() < deadline:
        now = await count_captured(source, dsn)
        if now == last and now["sessions"]:
            break
        last = now
        await asyncio.sleep(2)
    return last


def _outcome(
    name: str, code: int, report: Mapping[str, Any] | None, error: str | None, seconds: float
) -> ReplayOutcome:
    out = ReplayOutcome(name=name, exit_code=code, error=error, seconds=round(seconds, 1))
    if report is not None:
        counts = report.get("counts") or {}
        out.total, out.passed, out.failed = counts.get("total", 0), counts.get("passed", 0), counts.get("failed", 0)
        out.flaky, out.skipped, out.errored = counts.get("flaky", 0), counts.get("skipped", 0), counts.get("error", 0)
        out.findings = len(report.get("regressions", []))
        reasons = Counter(str(s.get("reason", ""))[:100] for s in report.get("skipped", []))
        out.skip_reasons = dict(reasons.most_common(5))
    return out


class AppRun:
    def __init__(self, app: RealApp, opts: RunOptions, say: Say) -> None:
        self.app = app
        self.opts = opts
        self.say = say
        sessions = opts.sessions if opts.sessions is not None else app.default_sessions
        browsers = opts.browser_sessions if opts.browser_sessions is not None else app.default_browser_sessions
        self.sim = SimConfig(seed=opts.seed, sessions=sessions, browser_sessions=browsers, duration_s=opts.duration_s)
        stamp = time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)
        self.source = self.suite = f"{app.name}-{stamp}"
        chosen = opts.plants if opts.plants is not None else tuple(p.id for p in app.plants)
        unknown = set(chosen) - {p.id for p in app.plants}
        if unknown:
            raise ValueError(
                f"{app.name} has no plant {', '.join(sorted(unknown))}; "
                f"its plants: {', '.join(p.id for p in app.plants)}"
            )
        self.active: list[Plant] = [app.plant(p) for p in chosen]
        self.secondary: Instance | None = None
        self.result = AppResult(
            app=app.name,
            title=app.title,
            covers=app.covers,
            version=app.version,
            run_dir=str(opts.run_dir),
            corpus=corpus_key(app, self.sim),
        )
        self.result.plants = [
            PlantResult(
                id=p.id,
                kind=p.regression.kind,
                endpoint=p.regression.endpoint,
                description=p.regression.description,
                mechanism=p.mechanism,
            )
            for p in self.active
        ]
        self.services = Services(opts.run_dir / "logs", env=_env(opts))
        self.beacons: list[Any] = []

    def _stage(self, name: str, started: float) -> None:
        self.result.stages[name] = round(time.monotonic() - started, 1)

    async def run(self) -> AppResult:
        started = time.monotonic()
        self.opts.run_dir.mkdir(parents=True, exist_ok=True)
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as http:
                await self._run(http)
        except StageError as exc:
            self.result.failures.append(str(exc))
            self.say("failed", str(exc))
        finally:
            try:
                await self.app.stop()
                await self.services.stop_all()
            finally:
                self.services.kill_all_now()
        self.result.seconds = round(time.monotonic() - started, 1)
        return self.result

    async def _run(self, http: aiohttp.ClientSession) -> None:
        t = time.monotonic()
        self.say("install", f"{self.app.title}")
        try:
            await asyncio.to_thread(self.app.install, lambda m: self.say("install", m))
        except Exception as exc:
            raise StageError(f"install: {exc}") from exc
        self._stage("install", t)

        t = time.monotonic()
        ingest_key = secrets.token_urlsafe(24)
        collector = await self.services.start_collector(self.source, ingest_key)
        tee = Tee(collector.url, ingest_key)
        await tee.start()
        try:
            await self._record(http, tee, ingest_key)
        finally:
            await tee.stop()
        self.result.captured = await _settle(self.source, self.opts.dsn)
        await self.services.stop(collector)
        self._stage("record", t)
        sessions = self.result.captured.get("sessions", 0)
        self.say("captured", f"{sessions} sessions, events {self.result.captured.get('events')}")
        if not sessions:
            raise StageError("no session reached the collector")
        self._count_exercised()

        t = time.monotonic()
        select = await _cli(self.opts, ["select", "--source", self.source, "--json", *self.app.select_args])
        selection = select.json()
        (self.opts.run_dir / "selection.json").write_bytes(orjson.dumps(selection, option=orjson.OPT_INDENT_2))
        chosen = selection.get("sessions", []) if isinstance(selection, dict) else []
        self.result.selected_sessions = len(chosen)
        self.say("select", f"{len(chosen)} sessions selected")
        generate = await _cli(
            self.opts, ["generate", "--source", self.source, "--suite", self.suite, "--json", *self.app.generate_args]
        )
        gen = generate.json() if generate.stdout.strip() else {}
        self.result.suite = {
            k: gen.get(k)
            for k in ("tests", "http_tests", "browser_tests", "assertions", "sessions_mined", "revision")
            if k in gen
        }
        self.say("generate", f"suite {self.suite}: {self.result.suite}")
        self._stage("select+generate", t)

        t = time.monotonic()
        plants = frozenset(p.id for p in self.active)
        baseline, control, target = await asyncio.gather(
            self.app.start(self.services, "baseline", plants=frozenset(), tag=None),
            self.app.start(self.services, "control", plants=frozenset(), tag=None),
            self.app.start(self.services, "target", plants=plants, tag=None),
        )
        if self.opts.secondary_baseline:
            self.secondary = await self.app.start(self.services, "baseline-2", plants=frozenset(), tag=None)
        self.say(
            "deployments",
            f"baseline {baseline.url}"
            + (f" (secondary {self.secondary.url})" if self.secondary else "")
            + f" · control {control.url} · target {target.url} "
            f"(plants: {', '.join(sorted(plants)) or 'none'})",
        )
        await self._probe(http, baseline, control, target)
        self._stage("probes", t)

        for i in range(self.opts.controls):
            t = time.monotonic()
            outcome, report = await self._replay(http, f"control-{i + 1}", control, baseline)
            self.result.controls.append(outcome)
            self.result.control_findings += [Finding.of(f) for f in (report or {}).get("regressions", [])][:10]
            self.say("control", f"{i + 1}/{self.opts.controls}: {self._counts(outcome)}")
            self._stage(f"control-{i + 1}", t)

        groups = plant_groups(self.active)
        self.result.target_groups = [[p.id for p in g] for g in groups]
        if len(groups) > 1:
            self.say(
                "target",
                f"{len(groups)} targets, as plants that hide each other are deployed apart: "
                + " | ".join(", ".join(p.id for p in g) for g in groups),
            )
        targets: list[ReplayOutcome] = []
        peers: list[ReplayOutcome] = []
        for i, group in enumerate(groups):
            suffix = f"-{i + 1}" if len(groups) > 1 else ""
            deployed = target
            if len(groups) > 1:
                deployed = await self.app.start(
                    self.services, f"target{suffix}", plants=frozenset(p.id for p in group), tag=None
                )
            try:
                t = time.monotonic()
                outcome, report = await self._replay(http, f"target{suffix}", deployed, baseline)
                targets.append(outcome)
                self._attribute((report or {}).get("regressions", []), peer=False, plants=group)
                self.say(
                    "target",
                    f"{', '.join(p.id for p in group) if suffix else 'all plants'}: "
                    f"{self._counts(outcome)}; caught {self.result.caught}/{self.result.planted}",
                )
                self._stage(f"target{suffix}", t)
                if self.opts.peer:
                    t = time.monotonic()
                    outcome, report = await self._replay(
                        http, f"peer{suffix}", deployed, None, extra=("--status-only",)
                    )
                    peers.append(outcome)
                    self._attribute((report or {}).get("regressions", []), peer=True, plants=group)
                    so_far = sum(bool(p.peer_caught) for p in self.result.plants)
                    self.say("peer", f"status only: {self._counts(outcome)}; caught {so_far}/{self.result.planted}")
                    self._stage(f"peer{suffix}", t)
            finally:
                if deployed is not target:
                    for service in deployed.services:
                        await self.services.stop(service)
        self.result.target = ReplayOutcome.combined("target", targets)
        if peers:
            self.result.peer = ReplayOutcome.combined("peer", peers)

    async def _record(self, http: aiohttp.ClientSession, tee: Tee, ingest_key: str) -> None:
        corpus = Corpus(self.result.corpus)
        if self.opts.reuse_recording and corpus.exists():
            meta, beacons = corpus.read()
            # The recording's origin must not come back as a deployment of this run: replay keeps
            # unsafe steps off the recorded origin, so a baseline on its port would replay nothing.
            reserve_ports(int(p) for b in beacons for p in _LOCAL_PORT.findall(b.body))
            self.say(
                "record",
                f"re-using the recorded corpus {corpus.path.name} ({len(beacons)} beacons, "
                f"recorded {meta.recorded_at})",
            )
            failed = await post_beacons(http, tee.url, ingest_key, beacons)
            if failed:
                raise StageError(f"{failed} of {len(beacons)} recorded beacons were refused by the collector")
            self.result.traffic, self.result.reused_recording, self.beacons = meta.traffic, True, beacons
            return
        if self.opts.reuse_recording:
            self.say("record", f"no recorded corpus {corpus.path.name} yet: recording it now")
        tag = RumTag(tee.url, ingest_key)
        production = await self.app.start(self.services, "production", plants=frozenset(), tag=tag, production=True)
        self.say(
            "record",
            f"{self.sim.sessions} API sessions + {self.sim.browser_sessions} browser sessions on {production.url}",
        )
        try:
            self.result.traffic = await self.app.simulate(
                production, tag, tee, self.sim, lambda m: self.say("record", m)
            )
        finally:
            for service in production.services:
                await self.services.stop(service)
        self.say(
            "record",
            f"{self.result.traffic.get('sessions')} sessions, {self.result.traffic.get('requests')} "
            f"requests, {self.result.traffic.get('failed')} failed; statuses "
            f"{self.result.traffic.get('statuses')}",
        )
        await asyncio.sleep(2)  # the last page-hide beacons
        self.beacons = list(tee.beacons)
        meta = CorpusMeta(
            key=corpus.key,
            app=self.app.name,
            version=self.app.version,
            seed=self.sim.seed,
            sessions=self.sim.sessions,
            browser_sessions=self.sim.browser_sessions,
            recorded_at=now_iso(),
            traffic=self.result.traffic,
            beacons=len(self.beacons),
        )
        if not self.result.traffic.get("failed"):
            corpus.write(meta, self.beacons)

    def _count_exercised(self) -> None:
        sessions = recorded_events(self.beacons)
        for plant, result in zip(self.active, self.result.plants, strict=True):
            result.exercised_sessions = sum(any(plant.exercises(ev) for ev in evs) for evs in sessions.values())

    async def _probe(
        self, http: aiohttp.ClientSession, baseline: Instance, control: Instance, target: Instance
    ) -> None:
        """Each plant must change what the target does, and the control must not differ from the baseline."""
        for plant, result in zip(self.active, self.result.plants, strict=True):
            seen: dict[str, Any] = {}
            for role, instance in (("baseline", baseline), ("control", control), ("target", target)):
                try:
                    seen[role] = await plant.probe(http, instance.url)
                except Exception as exc:
                    seen[role] = f"probe failed: {type(exc).__name__}: {str(exc)[:120]}"
            result.probe = seen
            result.verified = seen["baseline"] == seen["control"] != seen["target"]
        unverified = [p.id for p in self.result.plants if not p.verified]
        note = f"; NOT verified (a harness bug, not a miss): {', '.join(unverified)}" if unverified else ""
        self.say(
            "probes",
            f"{len(self.result.plants) - len(unverified)}/{len(self.result.plants)} plants change "
            f"the target and not the control{note}",
        )
        for instance in (baseline, control, target):
            await self.app.reset(http, instance)

    async def _replay(
        self,
        http: aiohttp.ClientSession,
        name: str,
        target: Instance,
        baseline: Instance | None,
        extra: tuple[str, ...] = (),
    ) -> tuple[ReplayOutcome, dict[str, Any] | None]:
        fresh = [target] if baseline is None else [target, baseline]
        if baseline is not None and self.secondary is not None:
            fresh.append(self.secondary)
        for instance in fresh:
            await self.app.reset(http, instance)
        env = await self.app.replay_env(http, fresh)
        out = self.opts.run_dir / f"replay-{name}"
        out.mkdir(parents=True, exist_ok=True)
        args = [
            "replay",
            "--suite",
            self.suite,
            "--target",
            target.url,
            "--json-report",
            str(out / "report.json"),
            "--html",
            str(out / "html"),
            *REPLAY_ARGS,
            *extra,
        ]
        if baseline is not None:
            args += ["--baseline", baseline.url]
            if self.secondary is not None:
                args += ["--secondary-baseline", self.secondary.url]
        started = time.monotonic()
        result = await trodden(args, _env(self.opts, env), timeout_s=REPLAY_TIMEOUT_S)
        seconds = time.monotonic() - started
        report_path = out / "report.json"
        if result.returncode not in (0, 1) or not report_path.exists():
            reason = result.reason()
            self.result.failures.append(f"replay {name}: exit {result.returncode}: {reason}")
            return _outcome(name, result.returncode, None, reason, seconds), None
        report: dict[str, Any] = orjson.loads(report_path.read_bytes())
        return _outcome(name, result.returncode, report, None, seconds), report

    def _attribute(self, findings: list[dict[str, Any]], *, peer: bool, plants: list[Plant]) -> None:
        """Match one replay's findings to the plants that replay's target had."""
        explained: set[int] = set()
        ids = {p.id for p in plants}
        for plant, result in zip(self.active, self.result.plants, strict=True):
            if plant.id not in ids:
                continue
            mine = [i for i, f in enumerate(findings) if plant.matches(f)]
            explained.update(mine)
            if peer:
                result.peer_caught = bool(mine)
            else:
                result.caught = bool(mine)
                result.caught_by = [Finding.of(findings[i]) for i in mine[:3]]
        rest = [f for i, f in enumerate(findings) if i not in explained]
        if peer:
            self.result.peer_unexplained_total += len(rest)
        else:
            self.result.unexplained_total += len(rest)
            self.result.unexplained = (self.result.unexplained + [Finding.of(f) for f in rest])[:10]

    @staticmethod
    def _counts(o: ReplayOutcome) -> str:
        if o.error:
            return f"could not run: {o.error}"
        note = "" if o.ran else " — VERIFIED NOTHING (no test ran)"
        return (
            f"{o.total} tests: {o.passed} passed, {o.failed} failed, {o.flaky} flaky, {o.skipped} skipped, "
            f"{o.errored} error; {o.findings} findings; {o.seconds:.0f} s{note}"
        )


async def run_app(app: RealApp, opts: RunOptions, say: Say) -> AppResult:
    return await AppRun(app, opts, say).run()
