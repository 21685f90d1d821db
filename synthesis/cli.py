"""`trodden select`, `trodden generate`, `trodden export`."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic.fields import FieldInfo
from rich.console import Console
from rich.table import Table

from trodden.cliutil import InputError, dsn_option, json_option, print_json, run
from trodden.models.suite import IgnoreRule
from trodden.store import open_store
from trodden.store.suites import SuiteNotFound, load_suite
from trodden.synthesis.api import EmptySuite, NoSessions, generate_suite, select_sessions
from trodden.synthesis.db import SelectionNotFound
from trodden.synthesis.export import export_json, export_pytest
from trodden.synthesis.generate import GenerateOptions
from trodden.synthesis.login import LoginCredentials, LoginSourceError, credential_source
from trodden.synthesis.mining import MiningOptions, bounds_of_field
from trodden.synthesis.selection import SelectOptions
from trodden.synthesis.strategies import DEFAULT_STRATEGIES, SelectionError, cli_syntax, parse_strategies

F = TypeVar("F", bound=Callable[..., Any])
_WINDOW = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(since: str | None, window: str | None, now: datetime | None = None) -> datetime | None:
    """`--since ISO` or `--window 7d` (s, m, h, d, w) → the start of the window, or None."""
    if since and window:
        raise InputError("give --since or --window, not both")
    if since:
        try:
            parsed = datetime.fromisoformat(since.replace("Z", "+00:00"))
        except ValueError:
            raise InputError(f"--since {since!r} is not an ISO date or date-time (e.g. 2026-01-31T00:00Z)") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if window:
        m = _WINDOW.match(window.strip())
        if not m:
            raise InputError(f"--window {window!r} is not a duration like 7d, 12h, 30m or 2w")
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    return None


@click.command()
@click.option("--source", required=True, help="The RumSource whose sessions to select from.")
@click.option(
    "--strategy",
    "strategies",
    multiple=True,
    metavar="SPEC",
    help=f"{cli_syntax()} (event:* for every custom event); repeatable or comma separated. "
    f"Default: {','.join(DEFAULT_STRATEGIES)}.",
)
@click.option("--suite", default=None, help="Suite whose coverage `novel` compares against.")
@click.option("--since", default=None, help="Only sessions active since this ISO date-time.")
@click.option("--window", default=None, help="Only sessions active in this trailing window (7d, 12h, ...).")
@click.option(
    "--max",
    "max_sessions",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="Budget: sessions to select.",
)
@click.option(
    "--similarity",
    type=click.FloatRange(0.0, 1.0, min_open=True),
    default=0.85,
    show_default=True,
    help="Jaccard similarity at which journeys count as near-duplicates (1.0: exact only).",
)
@click.option(
    "--min-support",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="A journey seen fewer times is a one-off, never `frequent`: `rare` takes it only from a session that "
    "looks like a real user's (not a lone step, not all failed, not polling, not probing).",
)
@click.option(
    "--rare-share",
    default="5%",
    show_default=True,
    help="`rare` means followed by fewer than this share of the sessions (5% or 0.05).",
)
@click.option("--name", default=None, help="A name stored with the selection (the SessionSelector's).")
@json_option
@dsn_option
def select(
    *,
    source: str,
    strategies: tuple[str, ...],
    suite: str | None,
    since: str | None,
    window: str | None,
    max_sessions: int,
    similarity: float,
    min_support: int,
    rare_share: str,
    name: str | None,
    as_json: bool,
    dsn: str | None,
) -> None:
    """Pick the sessions worth turning into tests, with the reasons for each."""
    try:
        parsed = parse_strategies(strategies or DEFAULT_STRATEGIES)
    except SelectionError as exc:
        raise InputError(str(exc)) from None
    share = parse_share(rare_share, "--rare-share")
    start = parse_since(since, window)
    options = SelectOptions(
        strategies=parsed, max_sessions=max_sessions, similarity=similarity, min_support=min_support, rare_share=share
    )
    result = run(_select(dsn, source, options=options, since=start, suite=suite, name=name))
    if as_json:
        print_json(result.to_json())
    else:
        _print_selection(result)


def parse_share(text: str, flag: str) -> float:
    """ "5%" or "0.05" → 0.05, strictly between 0 and 1; `InputError` otherwise."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100.0 if raw.endswith("%") else float(raw)
    except ValueError:
        raise InputError(f"{flag} must be a share such as 5% or 0.05, got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise InputError(f"{flag} must be between 0 and 1 (0% and 100%), got {text!r}")
    return value


async def _select(
    dsn: str | None, source: str, *, options: Any, since: datetime | None, suite: str | None, name: str | None
) -> Any:
    async with open_store(dsn) as store:
        try:
            return await select_sessions(store, source, options, since=since, suite=suite, name=name)
        except NoSessions as exc:
            raise InputError(str(exc)) from None


def _print_selection(sel: Any) -> None:
    table = Table(title=f"Selection {sel.id}: {len(sel.sessions)} sessions", show_lines=False)
    table.add_column("#", justify="right")
    table.add_column("session")
    table.add_column("journey")
    table.add_column("steps", justify="right")
    table.add_column("+cover", justify="right")
    table.add_column("reasons")
    for rank, s in enumerate(sel.sessions, 1):
        table.add_row(str(rank), s.session_id, s.signature, str(len(s.steps)), str(s.gain), "\n".join(s.reasons))
    console = Console()
    console.print(table)
    st = sel.stats
    console.print(
        f"{st.sessions:,} sessions, {st.journeys:,} journeys, {st.clusters:,} after near-duplicate "
        f"collapse, {st.candidates:,} candidates → {st.selected} selected"
        + (f", covering {st.coverage:.0%} of routes/transitions/statuses/events" if st.coverage is not None else "")
    )


def _param_type(field: FieldInfo) -> click.IntRange | click.FloatRange:
    """A click type with a pydantic field's bounds (exit 2 with the range when a value is outside)."""
    bounds = bounds_of_field(field)
    kind = click.IntRange if field.annotation is int else click.FloatRange
    return kind(
        min=bounds.get("ge", bounds.get("gt")),
        max=bounds.get("le", bounds.get("lt")),
        min_open="gt" in bounds,
        max_open="lt" in bounds,
    )


# `trodden generate`'s mining options: flag → `MiningOptions` field (default, bounds and help come from there)
MINING_FLAGS = {
    "--min-confidence": "min_confidence",
    "--min-support": "min_support",
    "--latency-margin": "latency_margin",
    "--latency-tail-support": "latency_tail_support",
    "--latency-floor-ms": "latency_floor_ms",
    "--temporal-confidence": "temporal_confidence",
}


def mining_options(func: F) -> F:
    """Adds the mining options and hands the command one `mining: MiningOptions`."""

    @functools.wraps(func)
    def command(**kwargs: Any) -> Any:
        mining = MiningOptions(**{name: kwargs.pop(name) for name in MINING_FLAGS.values()})
        return func(mining=mining, **kwargs)

    for flag, name in reversed(MINING_FLAGS.items()):
        field = MiningOptions.model_fields[name]
        command = click.option(
            flag, name, type=_param_type(field), default=field.default, show_default=True, help=field.description
        )(command)
    return command  # type: ignore[return-value]


def login_options(func: F) -> F:
    """Adds where replay takes login credentials from, handing the command one `login: LoginCredentials`."""

    @functools.wraps(func)
    def command(**kwargs: Any) -> Any:
        try:
            login = LoginCredentials(
                username=credential_source(
                    "--login-username", kwargs.pop("login_username_env"), kwargs.pop("login_username_secret")
                ),
                password=credential_source(
                    "--login-password", kwargs.pop("login_password_env"), kwargs.pop("login_password_secret")
                ),
            )
        except LoginSourceError as exc:
            raise InputError(str(exc)) from None
        return func(login=login, **kwargs)

    options = [
        click.option(
            "--login-username-env",
            default="TRODDEN_LOGIN_USERNAME",
            show_default=True,
            metavar="NAME",
            help="Env var replay reads the login username from (tests of sessions that started logged in "
            "log in with the login request learned from the source's sessions).",
        ),
        click.option(
            "--login-password-env",
            default="TRODDEN_LOGIN_PASSWORD",
            show_default=True,
            metavar="NAME",
            help="Env var replay reads the login password from.",
        ),
        click.option(
            "--login-username-secret",
            default=None,
            metavar="SECRET/KEY",
            help="Take the login username from this Kubernetes Secret key instead (replay reads "
            "TRODDEN_SECRET_<SECRET>_<KEY>, which the operator mounts).",
        ),
        click.option(
            "--login-password-secret",
            default=None,
            metavar="SECRET/KEY",
            help="Take the login password from this Kubernetes Secret key instead.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command  # type: ignore[return-value]


@click.command()
@click.option("--source", required=True, help="The source the sessions come from.")
@click.option("--suite", "suite_name", required=True, help="Suite name; a new revision is stored.")
@click.option("--selection", "selection_id", type=int, default=None, help="Selection id (default: the latest).")
@mining_options
@click.option(
    "--known-value",
    "known_values",
    multiple=True,
    metavar="VALUE",
    envvar="TRODDEN_KNOWN_VALUES",
    help="A test value the application accepts (test card token, test password); where a session "
    "carries its pseudonym, tests use the value. Repeatable; env TRODDEN_KNOWN_VALUES "
    "(space-separated).",
)
@login_options
@click.option(
    "--own-login-credentials",
    is_flag=True,
    default=False,
    help="Sessions that log in themselves send the login credentials too, instead of their recorded "
    "(pseudonymised) ones. Leave off when sessions register the account they log in with.",
)
@click.option(
    "--ignore",
    "ignore",
    multiple=True,
    metavar="RULE",
    help='Findings every replay of the suite leaves out (an intended change): "METHOD /route '
    '/json/pointer", "METHOD /route header:NAME" or "METHOD /route". Repeatable.',
)
@click.option("--http/--no-http", default=True, show_default=True, help="Generate HTTP tests.")
@click.option("--browser/--no-browser", default=True, show_default=True, help="Generate browser tests.")
@json_option
@dsn_option
def generate(
    *,
    source: str,
    suite_name: str,
    selection_id: int | None,
    mining: MiningOptions,
    login: LoginCredentials,
    known_values: tuple[str, ...],
    own_login_credentials: bool,
    http: bool,
    browser: bool,
    ignore: tuple[str, ...],
    as_json: bool,
    dsn: str | None,
) -> None:
    """Turn selected sessions into a test suite with mined assertions (a new suite revision)."""
    if not (http or browser):
        raise InputError("--no-http and --no-browser together leave nothing to generate")
    try:
        rules = IgnoreRule.parse_all(ignore)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    options = GenerateOptions(
        mining=mining,
        login=login,
        http=http,
        browser=browser,
        known_values=list(known_values),
        own_login_credentials=own_login_credentials,
        ignore=list(rules),
    )
    suite = run(_generate(dsn, source, suite_name, selection_id, options))
    stats = suite.stats
    summary = {
        "suite": suite.name,
        "revision": suite.revision,
        "selection_id": suite.selection_id,
        "tests": stats.tests,
        "http_tests": stats.http_tests,
        "browser_tests": stats.browser_tests,
        "assertions": stats.assertions,
        "assertions_by_kind": stats.assertions_by_kind,
        "assertions_dropped": len(stats.assertions_dropped),
        "sessions_mined": stats.sessions_mined,
    }
    if as_json:
        print_json(summary)
        return
    click.echo(
        f"suite {suite.name} revision {suite.revision}: {summary['tests']} tests "
        f"({summary['http_tests']} HTTP, {summary['browser_tests']} browser), {summary['assertions']} "
        f"assertions mined from {summary['sessions_mined']:,} sessions"
    )
    for kind, count in (summary["assertions_by_kind"] or {}).items():
        click.echo(f"  {kind:<12} {count}")
    if summary["assertions_dropped"]:
        click.echo(f"  ({summary['assertions_dropped']} dropped: contradicted by a selected session's recording)")


async def _generate(dsn: str | None, source: str, suite_name: str, selection_id: int | None, options: Any) -> Any:
    async with open_store(dsn) as store:
        try:
            return await generate_suite(store, source, suite_name, selection_id, options)
        except (NoSessions, SelectionNotFound, EmptySuite) as exc:
            raise InputError(str(exc)) from None


@click.command()
@click.option("--suite", "suite_name", required=True, help="Suite to export.")
@click.option("--revision", type=int, default=None, help="Revision (default: the latest).")
@click.option("--format", "fmt", type=click.Choice(["json", "pytest"]), default="json", show_default=True)
@click.option("-o", "--output", "output", type=click.Path(path_type=Path), required=True, help="Output directory.")
@dsn_option
def export(suite_name: str, revision: int | None, fmt: str, output: Path, dsn: str | None) -> None:
    """Write a suite revision as its JSON IR or as pytest files (`pytest DIR --target URL`)."""
    if output.exists() and not output.is_dir():
        raise InputError(f"{output} exists and is not a directory")
    suite = run(_load(dsn, suite_name, revision))
    paths = export_json(suite, output) if fmt == "json" else export_pytest(suite, output)
    for p in paths:
        click.echo(str(p))


async def _load(dsn: str | None, name: str, revision: int | None) -> Any:
    async with open_store(dsn) as store:
        try:
            return await load_suite(store, name, revision)
        except SuiteNotFound as exc:
            raise InputError(str(exc)) from None
