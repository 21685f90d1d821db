"""Commands of this component (placeholder until the component lands)."""

import click


@click.command()
def replay() -> None:
    """Not built yet."""
    raise click.ClickException("not built yet")
