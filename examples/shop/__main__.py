"""`python -m trodden.shop --version 2 --port 8080`: run the demo shop (see docs/demo.md)."""

from __future__ import annotations

import os

import click
from aiohttp import web

from trodden.shop.app import create_app
from trodden.shop.regressions import PLANTED_BY_ID, ShopVersion


@click.command()
@click.option(
    "--version",
    "number",
    type=click.IntRange(1, 2),
    default=1,
    show_default=True,
    help="1: the recorded shop; 2: with the planted regressions.",
)
@click.option(
    "--regressions",
    default=None,
    help=f"Version 2 only: comma-separated subset of planted regressions ({', '.join(PLANTED_BY_ID)}).",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8080, show_default=True)
@click.option(
    "--collector-url",
    envvar="SHOP_COLLECTOR_URL",
    default=None,
    help="Collector base URL; pages include its rum.js tag (env SHOP_COLLECTOR_URL).",
)
@click.option(
    "--ingest-key",
    envvar="SHOP_INGEST_KEY",
    default=None,
    help="The source's ingest key, for the tag and OTLP (env SHOP_INGEST_KEY).",
)
@click.option(
    "--otlp-endpoint",
    envvar="SHOP_OTLP_ENDPOINT",
    default=None,
    help="Where spans go (env SHOP_OTLP_ENDPOINT; default: the collector URL).",
)
def main(
    *,
    number: int,
    regressions: str | None,
    host: str,
    port: int,
    collector_url: str | None,
    ingest_key: str | None,
    otlp_endpoint: str | None,
) -> None:
    """Run the Trodden demo shop."""
    try:
        only = [r.strip() for r in regressions.split(",") if r.strip()] if regressions else None
        version = ShopVersion.of(number, only)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    app = create_app(
        version,
        collector_url=collector_url,
        ingest_key=ingest_key,
        otlp_endpoint=otlp_endpoint,
        service_name=os.environ.get("OTEL_SERVICE_NAME", f"shop-v{number}"),
    )
    # run_app calls `print` once the socket is bound: the line parents wait for.
    web.run_app(
        app,
        host=host,
        port=port,
        access_log=None,
        print=lambda _msg: click.echo(f"shop v{number} listening on http://{host}:{port}"),
    )


if __name__ == "__main__":
    main()
