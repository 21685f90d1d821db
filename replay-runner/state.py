"""Replays against a baseline see the same history on every side.

Diffy's rule (`noise.py`) assumes that the target and the baseline's two replays of a test show
the same data unless the version changed it. On a stateful app that holds only if every side has
received the same writes before the test: the same records, counts and "recent" lists. Two things
break it:

- **Order.** Tests run concurrently: a test that adds a loan lands before a test that lists the
  loans on one side and after it on another. So with a baseline, tests that read only run first,
  concurrently, and tests that write run afterwards one at a time (`split`), each on the target
  and then on the baseline, so every side applies the writes in the same order.
- **The baseline's second replay.** Diffy needs two replays of the baseline version to tell noise
  from a change. Against one baseline deployment that deployment receives every write twice, so
  after the first test that writes, its records, counts and lists differ from the target's for a
  reason that is no regression. With a second deployment of the baseline version
  (`--secondary-baseline`, Diffy's primary and secondary) each deployment replays every test
  exactly once and all fields stay comparable. With one, a test that writes is compared on what
  the page shows as structure only (`data_comparable`: table columns, landmarks, names of links,
  buttons and fields that carry no number, how many headings and alerts), never on its data (row
  counts and contents, counts in names, record names in headings and messages).

What writes is read from the suite: an HTTP step with an unsafe method, a browser step whose
recorded requests include one, and a form a browser test submits, unless it is the login form the
test typed its password into (signing in changes the session, not what pages show). A search
form that uses GET counts as a write too: the recording does not say a form's method, and
treating a reader as a writer only costs time, never a false alarm.
"""

from __future__ import annotations

from collections.abc import Sequence

from trodden.assertions.templates import is_unsafe
from trodden.models.suite import HttpStep, TestCase
from trodden.replay.safety import browser_step_unsafe

_PASSWORD = "{{login_password}}"


def writes(test: TestCase) -> bool:
    """Whether replaying the test may change what other tests see (see the module docstring)."""
    typed_password = False
    for step in test.steps:
        if isinstance(step, HttpStep):
            if is_unsafe(step):
                return True
            continue
        if browser_step_unsafe(step) is not None:
            return True
        if step.action == "goto":
            typed_password = False
        elif step.value == _PASSWORD:
            typed_password = True
        elif step.action == "submit":
            if not typed_password:
                return True
            typed_password = False  # the login form was sent: a later form is another one
    return False


def split(tests: Sequence[TestCase]) -> tuple[list[TestCase], list[TestCase]]:
    """(tests that only read, tests that write), each in suite order."""
    readers = [t for t in tests if not writes(t)]
    writers = [t for t in tests if writes(t)]
    return readers, writers


def data_comparable(test: TestCase, *, secondary_baseline: bool) -> bool:
    """Whether what the test's pages show as data can be compared with the baseline: always with a
    second baseline deployment; with one, only for tests that read (they run before any write)."""
    return secondary_baseline or not writes(test)
