"""The whole loop end to end with a small population: collector, simulated users, select,
generate, replay v1 (no false alarm) and v2 (every planted regression caught), through the
components' CLIs, on a real PostgreSQL; and nothing left running afterwards."""

from __future__ import annotations

import json
from pathlib import Path

from trodden.shop.loop import LoopConfig, run_loop
from trodden.shop.regressions import PLANTED
from trodden.shop.services import _LIVE_GROUPS


async def test_loop_catches_every_planted_regression_without_false_alarms(dsn: str, tmp_path: Path) -> None:
    messages: list[str] = []
    cfg = LoopConfig(
        run_dir=tmp_path,
        api_users=36,
        browser_users=7,  # the seven browser journeys once each at least (the wishlist, rarest, too)
        duration_s=120,
        seed=11,
        dsn=dsn,
        v1_replays=1,
        status_only_peer=False,
    )
    result = await run_loop(cfg, lambda stage, message: messages.append(f"{stage}: {message}"))
    summary = result.summary()
    assert result.failures == [], result.failures
    assert summary["traffic"]["failed"] == 0, summary["traffic"]["errors"]
    assert summary["captured"]["sessions"] >= 36  # API clients and browsers reached PostgreSQL
    assert summary["captured"]["events"].get("click", 0) > 0  # rum.js captured real browser clicks
    # The whole findings as text: pytest shortens an object's repr to a line, which hid the step.
    assert result.false_alarms == [0], json.dumps(result.v1_reports[0]["regressions"][:3], indent=1, default=str)
    missed = [p.id for p in PLANTED if not result.caught.get(p.id)]
    assert missed == [], f"not caught: {missed}"
    assert (tmp_path / "replay-v2" / "html").is_dir()
    assert not _LIVE_GROUPS  # every process the loop started is gone
