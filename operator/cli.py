"""Commands of this component (placeholder until the component lands)."""

import click


@click.command()
def crds() -> None:
    """Not built yet."""
    raise click.ClickException("not built yet")


@click.command()
def operator() -> None:
    """Not built yet."""
    raise click.ClickException("not built yet")
