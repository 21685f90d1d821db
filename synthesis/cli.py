"""Commands of this component (placeholder until the component lands)."""

import click


@click.command()
def select() -> None:
    """Not built yet."""
    raise click.ClickException("not built yet")


@click.command()
def generate() -> None:
    """Not built yet."""
    raise click.ClickException("not built yet")


@click.command()
def export() -> None:
    """Not built yet."""
    raise click.ClickException("not built yet")
