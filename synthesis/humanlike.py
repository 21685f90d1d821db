"""Does a session look like a real user's? The signals that mark bots and glitches.

`rare` may pick a journey seen only once (the edge case nobody planned for) when its session looks
like a person's. A one-off is much more often noise, so these signals rule a session out:

| signal | rule | catches |
|---|---|---|
| glitch: a lone step | at most one step occurrence | a prefetch, a reload, a health probe, a tab opened and closed |
| glitch: nothing answered | every request failed (status 0: no response) | an offline device, a network outage |
| bot: polling | at least 6 steps and at most one distinct step per 4 | a monitor or a script polling one endpoint |
| bot: probing | a scanner's target (`/.env`, `wp-admin`, `*.php`, …); or 3+ requests, half 404/405 | a scanner |

Everything else looks like a person: a few different things done, most of them answered. The rules
read only what every session has (its steps, statuses), so they work for API clients and browsers
alike.
"""

from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt

from trodden.synthesis.arrays import sorted_unique
from trodden.synthesis.journeys import Journeys

POLLING_MIN_STEPS = 6
POLLING_STEPS_PER_DISTINCT = 4
PROBING_MIN_REQUESTS = 3
PROBING_SHARE = 0.5
_SCANNER_TARGET = re.compile(r"/\.env\b|/\.git/|wp-admin|wp-login|\.php\b|phpmyadmin|cgi-bin", re.I)
_PROBE_STATUSES = (404, 405)


# what `signals` returns per session
HUMAN, LONE_STEP, NOTHING_ANSWERED, POLLING, PROBING = range(5)
SIGNAL_TEXT = {
    LONE_STEP: "a lone step (glitch)",
    NOTHING_ANSWERED: "no request answered (glitch)",
    POLLING: "one step repeated over and over (polling bot)",
    PROBING: "most requests answered 404/405 (probing bot)",
}


def signals(j: Journeys) -> npt.NDArray[np.int8]:
    """Per session: the first bot or glitch signal it shows (see the module docstring), or HUMAN."""
    n = j.n_sessions
    if n == 0:
        return np.zeros(0, dtype=np.int8)
    lengths = np.diff(j.offsets).astype(np.int64)
    session = j.session_of_occurrence()
    kind_is_http = np.array([v.kind == "http" for v in j.vocab] or [False], dtype=bool)
    is_request = kind_is_http[j.step_ids] if len(j.step_ids) else np.zeros(0, dtype=bool)
    requests = np.bincount(session[is_request], minlength=n)
    failed = np.bincount(session[is_request & (j.statuses == 0)], minlength=n)
    probed = np.bincount(session[is_request & np.isin(j.statuses, _PROBE_STATUSES)], minlength=n)
    width = max(len(j.vocab), 1)
    pairs = sorted_unique(np.sort(session.astype(np.int64) * width + j.step_ids))
    distinct = np.bincount(pairs // width, minlength=n)
    out = np.full(n, HUMAN, dtype=np.int8)
    # later rules first, so the earlier (stronger) one wins where several apply
    out[(requests >= PROBING_MIN_REQUESTS) & (probed >= PROBING_SHARE * requests)] = PROBING
    scanner_step = np.array([bool(_SCANNER_TARGET.search(v.text)) for v in j.vocab] or [False], dtype=bool)
    if len(j.step_ids) and scanner_step.any():
        out[np.unique(session[scanner_step[j.step_ids]])] = PROBING
    out[(lengths >= POLLING_MIN_STEPS) & (distinct * POLLING_STEPS_PER_DISTINCT <= lengths)] = POLLING
    out[(requests > 0) & (failed == requests)] = NOTHING_ANSWERED
    out[lengths <= 1] = LONE_STEP
    return out


def looks_human(j: Journeys) -> npt.NDArray[np.bool_]:
    human: npt.NDArray[np.bool_] = signals(j) == HUMAN
    return human
