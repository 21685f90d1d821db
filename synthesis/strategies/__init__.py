"""The selection strategies, one module each, and their registry.

Everything that names strategies derives from `STRATEGIES`: the CLI's `--strategy` parsing and
help, the SessionSelector CRD's `type` enum and CEL rules (`trodden.operator.specs`), and the
command line the operator's selection Job runs. Adding a strategy is one module here plus one
entry below (see docs/architecture.md, "A new selection strategy").
"""

from __future__ import annotations

from collections.abc import Iterable

from trodden.synthesis.strategies.base import SelectionContext, SelectionError, Setting, Signals, Strategy
from trodden.synthesis.strategies.errors import Errors
from trodden.synthesis.strategies.event import Event
from trodden.synthesis.strategies.frequent import Frequent
from trodden.synthesis.strategies.novel import Novel
from trodden.synthesis.strategies.rare import Rare
from trodden.synthesis.strategies.slow import Slow

STRATEGIES: dict[str, type[Strategy]] = {s.name: s for s in (Frequent, Rare, Event, Errors, Slow, Novel)}
STRATEGY_NAMES: tuple[str, ...] = tuple(STRATEGIES)
# selection settings by spec field, with the strategies that read each (`Setting`)
SETTINGS: dict[str, tuple[Setting, tuple[str, ...]]] = {
    setting.spec_field: (setting, tuple(n for n, c in STRATEGIES.items() if setting in c.settings))
    for cls in STRATEGIES.values()
    for setting in cls.settings
}
DEFAULT_STRATEGIES = ("frequent:10", "rare:10", "event:*", "errors", "slow:p95", "novel")


def parse_strategy(text: str) -> Strategy:
    """`"slow:p90"` → the strategy; `SelectionError` with the reason if invalid."""
    name, sep, arg = text.strip().partition(":")
    cls = STRATEGIES.get(name.strip().lower())
    if cls is None:
        raise SelectionError(f"unknown strategy {name.strip().lower()!r} (expected one of {', '.join(STRATEGY_NAMES)})")
    return cls.parse((arg.strip() or None) if sep else None)


def parse_strategies(specs: Iterable[str]) -> list[Strategy]:
    """`["frequent:5,rare:3", "errors"]` → strategies; `SelectionError` with the reason if invalid."""
    return [parse_strategy(part) for spec in specs for part in spec.split(",") if part.strip()]


def cli_syntax() -> str:
    """The `--strategy` forms, for help texts: "frequent:K, rare:K, event:NAME, errors, slow:pNN, novel"."""
    return ", ".join(f"{n}:{c.argument.syntax}" if c.argument else n for n, c in STRATEGIES.items())


__all__ = [
    "DEFAULT_STRATEGIES",
    "SETTINGS",
    "STRATEGIES",
    "STRATEGY_NAMES",
    "SelectionContext",
    "SelectionError",
    "Setting",
    "Signals",
    "Strategy",
    "cli_syntax",
    "parse_strategies",
    "parse_strategy",
]
