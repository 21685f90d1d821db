"""The Python API over the store: what `trodden select` / `generate` / `export` call, and what
tests, benches and the operator's jobs can call directly.

    selection = await select_sessions(store, "shop", SelectOptions(...), since=...)
    suite = await generate_suite(store, "shop", "checkout", selection_id=None, options=GenerateOptions())

The algorithms are pure (`journeys`, `selection`, `mining`, `generate`); this module only streams
sessions out of the store into them and stores what they produce.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from trodden.log import get_logger
from trodden.models.suite import Suite, SuiteCoverage
from trodden.store import Store
from trodden.store.suites import save_suite_revision
from trodden.synthesis import db
from trodden.synthesis.accounts import SignupLearner
from trodden.synthesis.generate import GenerateOptions, SelectedInput, api_requests, build_suite
from trodden.synthesis.journeys import JourneyBuilder, Journeys
from trodden.synthesis.login import LoginLearner
from trodden.synthesis.mining import Miner
from trodden.synthesis.page_mining import PageMiner
from trodden.synthesis.resources import CreationLearner
from trodden.synthesis.selection import Selection, SelectOptions, select_journeys, suite_coverage
from trodden.synthesis.unmask import known_pseudonyms
from trodden.synthesis.visible import VisibleLearner

log = get_logger(__name__)


class NoSessions(LookupError):
    pass


class EmptySuite(LookupError):
    """Generation made no test from the selected sessions: a suite that verifies nothing is an
    error with its reason, never a revision that would let every replay pass."""


async def load_journeys(store: Store, source: str, since: datetime | None = None) -> Journeys:
    builder = JourneyBuilder()
    async for session_id, steps in db.iter_session_steps(store, source, since):
        builder.add(session_id, steps)
    if not builder.session_ids:
        window = f" since {since.isoformat()}" if since else ""
        raise NoSessions(f"source {source!r} has no sessions{window}")
    return builder.build()


async def select_sessions(
    store: Store,
    source: str,
    options: SelectOptions | None = None,
    *,
    since: datetime | None = None,
    suite: str | None = None,
    name: str | None = None,
    save: bool = True,
) -> Selection:
    """Select sessions of `source`; stores the selection (its id in `.id`) unless `save=False`.
    `suite` names the suite whose coverage the novel strategy compares against."""
    options = options or SelectOptions()
    if suite is not None and options.coverage is None:
        current = await db.latest_suite(store, suite)
        # a suite not generated yet covers nothing: everything is novel to it
        options.coverage = db.suite_coverage(current) if current is not None else SuiteCoverage()
    journeys = await load_journeys(store, source, since)
    selection = select_journeys(journeys, options)
    if save:
        params: dict[str, Any] = {
            "strategies": [str(s) for s in options.strategies],
            "max": options.max_sessions,
            "similarity": options.similarity,
            "min_support": options.min_support,
            "since": since.isoformat() if since else None,
            "suite": suite,
        }
        selection.id = await db.save_selection(store, source, selection, params, name)
    log.info(
        "selection made",
        source=source,
        selection_id=selection.id,
        **selection.stats.model_dump(exclude={"strategies"}, exclude_none=True),
    )
    return selection


async def generate_suite(
    store: Store,
    source: str,
    suite_name: str,
    selection_id: int | None = None,
    options: GenerateOptions | None = None,
    *,
    save: bool = True,
) -> Suite:
    """A new revision of `suite_name` from a selection of `source` (its latest by default), with
    assertions mined over all of the source's sessions."""
    options = options or GenerateOptions()
    sel_id, items = await db.load_selection(store, source, selection_id)
    journeys = await load_journeys(store, source)  # route templates learned over the whole source
    miner = Miner(journeys.templater, options.mining)
    pages = PageMiner(journeys.templater, options.mining)  # what pages show, how they load
    logins = LoginLearner()  # how users log in, learned over all sessions like the assertions
    signups = SignupLearner(journeys.templater)  # how users make accounts: setup for returning users
    creations = CreationLearner(journeys.templater)  # how users make records: setup for lists read by position
    visible = VisibleLearner()  # what shows after each UI step, over all sessions too
    wanted = {sid: (sig, reasons) for sid, sig, reasons in items}
    picked: dict[str, SelectedInput] = {}
    async for session in db.iter_sessions(store, source):
        miner.add(session)
        pages.add(session)
        if options.browser:
            visible.add(session)
        if options.http:
            requests = api_requests(session)
            logins.add(requests)
            signups.add(requests)
            creations.add(requests)
        if session.session_id in wanted:
            sig, reasons = wanted[session.session_id]
            picked[session.session_id] = SelectedInput(session, reasons, sig)
    selected = [picked[sid] for sid, _, _ in items if sid in picked]
    known = known_pseudonyms(await store.source_key(source), options.known_values) if options.known_values else None
    suite = build_suite(
        suite_name,
        source,
        selected,
        miner,
        options=options,
        selection_id=sel_id,
        known=known,
        login=logins.best(),
        visible=visible,
        signup=signups.best(),
        creations=creations,
        assertions=miner.assertions() + pages.assertions(),
    )
    if not suite.tests:
        raise EmptySuite(empty_suite_reason(sel_id, selected, miner.n_sessions, options))
    suite.stats.coverage = suite_coverage(journeys, [i.session.session_id for i in selected])
    if save:
        suite = await save_suite_revision(store, suite)
    log.info(
        "suite generated",
        suite=suite_name,
        revision=suite.revision,
        tests=len(suite.tests),
        assertions=len(suite.assertions),
    )
    return suite


def empty_suite_reason(
    selection_id: int, selected: list[SelectedInput], sessions: int, options: GenerateOptions
) -> str:
    """Why a selection yielded no test, in one line."""
    head = f"selection {selection_id}: {len(selected)} selected session(s) of {sessions:,} yielded 0 tests"
    if not selected:
        return f"{head}: the selection is empty (run `trodden select` again, or widen its window or strategies)"
    with_api = sum(bool(api_requests(i.session)) for i in selected)
    kinds = [k for k, on in (("HTTP", options.http), ("browser", options.browser)) if on]
    return (
        f"{head} ({' and '.join(kinds)} tests asked for; {with_api} had an API request, the rest only "
        "static assets, the collector's own traffic or no UI action)"
    )
