"""`python -m trodden.shop.traffic --target URL [--collector-url URL --ingest-key KEY] ...`"""

from __future__ import annotations

import asyncio

import click

from trodden.cliutil import print_json
from trodden.shop.traffic.run import TrafficConfig, run_traffic


@click.command()
@click.option("--target", required=True, help="The shop's base URL.")
@click.option("--collector-url", envvar="SHOP_COLLECTOR_URL", default=None)
@click.option("--ingest-key", envvar="SHOP_INGEST_KEY", default=None)
@click.option("--api-sessions", type=click.IntRange(0), default=60, show_default=True)
@click.option("--browser-sessions", type=click.IntRange(0), default=8, show_default=True)
@click.option("--duration", type=click.FloatRange(1), default=120.0, show_default=True, help="Seconds.")
@click.option("--concurrency", type=click.IntRange(1), default=4, show_default=True)
@click.option("--browser-concurrency", type=click.IntRange(1), default=2, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
def main(
    *,
    target: str,
    collector_url: str | None,
    ingest_key: str | None,
    api_sessions: int,
    browser_sessions: int,
    duration: float,
    concurrency: int,
    browser_concurrency: int,
    seed: int,
) -> None:
    """Run the simulated users against a shop and print a JSON summary."""
    report = asyncio.run(
        run_traffic(
            TrafficConfig(
                target,
                collector_url,
                ingest_key,
                api_sessions,
                browser_sessions,
                duration,
                concurrency,
                browser_concurrency,
                seed,
            )
        )
    )
    print_json(report.summary())


if __name__ == "__main__":
    main()
