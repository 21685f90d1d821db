"""Commands of this component (placeholder until the component lands)."""

import click


@click.command()
def demo() -> None:
    """Not built yet."""
    raise click.ClickException("not built yet")
