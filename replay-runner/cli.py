"""`trodden replay`: run a suite revision against a target; exit 0 clean, 1 regressions, 2 bad input."""

from __future__ import annotations

from pathlib import Path

import click
import pydantic

from trodden.cliutil import EXIT_REGRESSIONS, InputError, dsn_option, json_option, print_json, run
from trodden.models.suite import IgnoreRule, Suite
from trodden.replay.html_report import write_html
from trodden.replay.options import OptionError, ReplayOptions, parse_shard
from trodden.replay.reports import json_report, write_json, write_junit
from trodden.replay.results import RunReport
from trodden.replay.runner import replay_suite
from trodden.replay.terminal import print_summary
from trodden.store import open_store
from trodden.store.suites import SuiteNotFound, load_suite


def parse_ignore_rules(texts: tuple[str, ...]) -> tuple[IgnoreRule, ...]:
    """`--ignore` values as rules; `InputError` (exit 2) naming the bad one."""
    try:
        return IgnoreRule.parse_all(texts)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def load_suite_file(path: Path) -> Suite:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read --suite-file {path}: {exc.strerror}") from None
    try:
        return Suite.model_validate_json(raw)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = "/".join(str(p) for p in first["loc"]) or "(document)"
        raise InputError(
            f"--suite-file {path} is not a valid suite IR: {where}: {first['msg']} ({exc.error_count()} error(s))"
        ) from None


async def _replay(
    *,
    suite_name: str | None,
    suite_file: Path | None,
    revision: int | None,
    target: str,
    options: ReplayOptions,
    dsn: str | None,
    use_store: bool,
) -> RunReport:
    if not use_store:
        assert suite_file is not None
        return await replay_suite(None, load_suite_file(suite_file), target, options)
    async with open_store(dsn) as store:
        if suite_file is not None:
            suite = load_suite_file(suite_file)
        else:
            assert suite_name is not None
            try:
                suite = await load_suite(store, suite_name, revision)
            except SuiteNotFound as exc:
                raise InputError(str(exc)) from None
        return await replay_suite(store, suite, target, options)


@click.command()
@click.option("--suite", "suite_name", help="Suite name in the store (its latest revision unless --revision).")
@click.option(
    "--suite-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Replay a suite IR JSON file instead (results stored only with --dsn/TRODDEN_DSN or --run-name).",
)
@click.option("--revision", type=int, default=None, help="Suite revision (default: the latest).")
@click.option("--target", required=True, help="Base URL of the deployment under test, e.g. http://shop-v2:8080.")
@click.option(
    "--baseline",
    default=None,
    help="Base URL of the current version: differences count only if two baseline replays agree.",
)
@click.option(
    "--secondary-baseline",
    default=None,
    help="A second deployment of the current version, started from the same data: the baseline's second "
    "replay goes there, so each deployment replays every write once and what pages show as data (row counts, "
    "counts, record names) stays comparable after tests that write.",
)
@click.option(
    "--shard",
    default="0/1",
    envvar="TRODDEN_SHARD",
    show_default=True,
    help="Run slice I of N (0-based, by test id hash); in an indexed Job: $(JOB_COMPLETION_INDEX)/N.",
)
@click.option("--concurrency", type=int, default=8, show_default=True, help="Tests run in parallel.")
@click.option(
    "--workers",
    type=int,
    default=1,
    show_default=True,
    help="Processes for HTTP tests (one Python process saturates one core).",
)
@click.option(
    "--retries",
    type=int,
    default=2,
    show_default=True,
    help="Re-runs of a failing test; a pass on a re-run makes it flaky, not failed.",
)
@click.option("--junit", type=click.Path(path_type=Path, dir_okay=False), help="Write JUnit XML here.")
@click.option(
    "--json-report", "json_path", type=click.Path(path_type=Path, dir_okay=False), help="Write the JSON report here."
)
@click.option(
    "--html",
    "html_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write the HTML report (index.html + screenshots) into this directory.",
)
@click.option(
    "--run-name",
    default=None,
    envvar="TRODDEN_RUN_NAME",
    help="Groups the shard runs of one ReplayRun (the operator passes its name).",
)
@click.option(
    "--allow-unsafe-on-origin",
    "--allow-unsafe",
    "allow_unsafe_on_origin",
    is_flag=True,
    help="Replay POST/PUT/PATCH/DELETE even against the origin the sessions were recorded on.",
)
@click.option("--only", type=click.Choice(["http", "browser"]), default=None, help="Run only this kind of test.")
@click.option("--status-only", is_flag=True, help="Judge status codes only (a peer to measure mined assertions by).")
@click.option(
    "--latency-factor",
    type=float,
    default=1.0,
    show_default=True,
    help="A latency assertion fails when observed > max_ms × factor + slack.",
)
@click.option(
    "--latency-slack-ms",
    type=float,
    default=50.0,
    show_default=True,
    help="Absolute slack added to latency bounds for requests the replayer times itself.",
)
@click.option(
    "--browser-latency-slack-ms",
    type=float,
    default=1000.0,
    show_default=True,
    help="Slack for timings taken in Chromium (they include its queueing and the page's work).",
)
@click.option(
    "--latency-quorum",
    type=float,
    default=0.5,
    show_default=True,
    help="A latency failure counts when the endpoint is over its bound in at least this share of its "
    "timed exchanges in the run (fewer: noise, the test is flaky).",
)
@click.option(
    "--latency-baseline-ratio",
    type=float,
    default=2.0,
    show_default=True,
    help="With --baseline: a step regressed in latency when it took more than RATIO × the baseline's "
    "time in the same run + the floor.",
)
@click.option(
    "--latency-baseline-floor-ms",
    type=float,
    default=200.0,
    show_default=True,
    help="With --baseline: the absolute floor added to RATIO × the baseline's time.",
)
@click.option(
    "--browser-latency-baseline-ratio",
    type=float,
    default=1.25,
    show_default=True,
    help="With --baseline, for timings taken in Chromium (page loads and settles, the page's requests): slower "
    "than the baseline when over RATIO × its time + the floor, as a median over the run.",
)
@click.option(
    "--browser-latency-baseline-floor-ms",
    type=float,
    default=150.0,
    show_default=True,
    help="With --baseline: the floor added to the browser RATIO × the baseline's time.",
)
@json_option
@click.option(
    "--ignore",
    "ignore",
    multiple=True,
    metavar="RULE",
    help='Leave out findings of an intended change: "METHOD /route /json/pointer", "METHOD /route '
    'header:NAME" or "METHOD /route" (all of it); "*" for every endpoint. Repeatable; each group '
    "of findings in the report shows the rule that silences it.",
)
@dsn_option
def replay(
    *,
    suite_name: str | None,
    suite_file: Path | None,
    revision: int | None,
    target: str,
    baseline: str | None,
    secondary_baseline: str | None,
    shard: str,
    concurrency: int,
    retries: int,
    junit: Path | None,
    json_path: Path | None,
    html_dir: Path | None,
    run_name: str | None,
    allow_unsafe_on_origin: bool,
    only: str | None,
    status_only: bool,
    workers: int,
    latency_factor: float,
    latency_slack_ms: float,
    browser_latency_slack_ms: float,
    latency_quorum: float,
    latency_baseline_ratio: float,
    latency_baseline_floor_ms: float,
    browser_latency_baseline_ratio: float,
    browser_latency_baseline_floor_ms: float,
    ignore: tuple[str, ...],
    as_json: bool,
    dsn: str | None,
) -> None:
    """Replay a suite against TARGET and report regressions (exit 1 when there are any)."""
    if not suite_name and not suite_file:
        raise InputError("give --suite NAME (from the store) or --suite-file IR.json")
    try:
        options = ReplayOptions(
            baseline=baseline,
            secondary_baseline=secondary_baseline,
            shard=parse_shard(shard),
            concurrency=concurrency,
            retries=retries,
            only=only,  # type: ignore[arg-type]
            allow_unsafe_on_origin=allow_unsafe_on_origin,
            run_name=run_name,
            report_dir=html_dir.resolve() if html_dir else None,
            status_only=status_only,
            workers=workers,
            latency_factor=latency_factor,
            latency_slack_ms=latency_slack_ms,
            browser_latency_slack_ms=browser_latency_slack_ms,
            latency_quorum=latency_quorum,
            latency_baseline_ratio=latency_baseline_ratio,
            latency_baseline_floor_ms=latency_baseline_floor_ms,
            browser_latency_baseline_ratio=browser_latency_baseline_ratio,
            browser_latency_baseline_floor_ms=browser_latency_baseline_floor_ms,
            ignore=parse_ignore_rules(ignore),
        )
        options.validate()
        use_store = suite_file is None or dsn is not None or run_name is not None
        report = run(
            _replay(
                suite_name=suite_name,
                suite_file=suite_file,
                revision=revision,
                target=target,
                options=options,
                dsn=dsn,
                use_store=use_store,
            )
        )
    except OptionError as exc:
        raise InputError(str(exc)) from None
    if html_dir is not None:
        write_html(report, html_dir)
    if junit is not None:
        write_junit(report, junit)
    if json_path is not None:
        write_json(report, json_path)
    if as_json:
        print_json(json_report(report))
    else:
        print_summary(report)
    if report.has_regressions:
        raise SystemExit(EXIT_REGRESSIONS)
    if report.nothing_verified:
        raise InputError(report.nothing_verified)  # exit 2: a gate that verified nothing never passes
