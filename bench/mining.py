"""Quality of assertion mining: precision and recall on a planted corpus.

    .venv/bin/python bench/mining.py [--sessions 3000] [--seeds 1,2,3]

The corpus (`trodden.synthesis.corpus.shop_sessions`) plants invariants (`PLANTED_INVARIANTS`:
status classes, never-null and typed fields, formats of volatile values, small value sets, bounds,
error structures, temporal rules, latency bounds with enough support) and non-invariants that look
like them (`PLANTED_NON_INVARIANTS`: a field null a third of the time, seven values, mixed types,
3% server errors, an ordering that holds only sometimes, a latency bound with too few samples...).
Recall = planted invariants mined / planted invariants; precision = planted invariants mined /
(planted invariants mined + planted non-invariants mined). Target ≥ 0.95 both, per seed.
The peer in the same run: the same mining with Daikon's confidence relaxed to 0.9 and no minimum
support for bounds, showing what the thresholds buy.
"""

from __future__ import annotations

import argparse
import time

from trodden.assertions import TEMPORAL_KINDS
from trodden.models.suite import Assertion
from trodden.synthesis.corpus import PLANTED_INVARIANTS, PLANTED_NON_INVARIANTS, shop_sessions
from trodden.synthesis.mining import MiningOptions, mine_assertions


def key(a: Assertion) -> tuple[str, str, str | None]:
    return (a.kind, a.endpoint, a.other if a.kind in TEMPORAL_KINDS else a.field)


def score(assertions: list[Assertion]) -> tuple[float, float, list[object], list[object]]:
    keys = {key(a) for a in assertions}
    found = [p for p in PLANTED_INVARIANTS if p in keys]
    false = [p for p in PLANTED_NON_INVARIANTS if p in keys]
    recall = len(found) / len(PLANTED_INVARIANTS)
    precision = len(found) / max(len(found) + len(false), 1)
    missed = [p for p in PLANTED_INVARIANTS if p not in keys]
    return precision, recall, missed, false


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=3000)
    parser.add_argument("--seeds", default="1,2,3")
    args = parser.parse_args()
    print(
        f"planted: {len(PLANTED_INVARIANTS)} invariants, {len(PLANTED_NON_INVARIANTS)} non-invariants; "
        f"{args.sessions:,} sessions per seed"
    )
    print(f"{'seed':>4} {'config':<22} {'precision':>9} {'recall':>7} {'assertions':>10} {'time s':>7}  notes")
    worst = (1.0, 1.0)
    for seed in (int(s) for s in args.seeds.split(",")):
        sessions = list(shop_sessions(args.sessions, seed=seed))
        for label, options in (
            ("defaults (0.99, 3+)", MiningOptions()),
            (
                "peer: 0.9, support 1",
                MiningOptions(min_confidence=0.9, min_support=1, latency_min_support=1, temporal_confidence=0.9),
            ),
        ):
            started = time.perf_counter()
            mined = mine_assertions(sessions, options)
            elapsed = time.perf_counter() - started
            precision, recall, missed, false = score(mined)
            notes = "; ".join([*(f"missed {m}" for m in missed), *(f"false {f}" for f in false)])
            print(f"{seed:>4} {label:<22} {precision:>9.2f} {recall:>7.2f} {len(mined):>10} {elapsed:>7.1f}  {notes}")
            if label.startswith("defaults"):
                worst = (min(worst[0], precision), min(worst[1], recall))
    ok = worst[0] >= 0.95 and worst[1] >= 0.95
    print(
        f"worst over seeds with defaults: precision {worst[0]:.2f}, recall {worst[1]:.2f} "
        f"({'meets' if ok else 'MISSES'} the 0.95 target)"
    )


if __name__ == "__main__":
    main()
