"""Commands of this component (placeholder until the component lands)."""

import click


@click.command()
def collect() -> None:
    """Not built yet."""
    raise click.ClickException("not built yet")


@click.command()
def ingest() -> None:
    """Not built yet."""
    raise click.ClickException("not built yet")
