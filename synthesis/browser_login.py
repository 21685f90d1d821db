"""Browser tests of sessions that started already signed in log in first.

A user who kept a session cookie opens `/admin/` and is in; replayed in a fresh browser, the same
test lands on the login page and every later step fails on the baseline and the target alike: the
test verifies nothing. The suite's other browser tests show how this app's users sign in (a login
form they typed a password into: `{{login_password}}`), and where they went afterwards. A test
that never logs in and starts at a page that the login tests only reached after signing in (and
never before) started signed in: it gets that login's steps in front of its own, with the suite's
`browser-login` profile (the account replay is given), as HTTP tests of sessions that started
logged in get a login exchange (`login.py`).

Pages that a login test visited before its login (a public home page) are not evidence: a test
starting there keeps its steps as recorded.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from trodden.models.suite import BrowserStep, TestCase
from trodden.synthesis.login import PASSWORD_VAR, USERNAME_VAR

_PASSWORD = "{{" + PASSWORD_VAR + "}}"
_USERNAME = "{{" + USERNAME_VAR + "}}"


def _browser_steps(test: TestCase) -> list[BrowserStep]:
    return [s for s in test.steps if isinstance(s, BrowserStep)]


@dataclass(frozen=True)
class BrowserLogin:
    """A login as a browser test of this suite did it: from the goto of the login page through
    the action that sent the form and arrived at the next page."""

    steps: tuple[BrowserStep, ...]

    @property
    def types_username(self) -> bool:
        return any(s.value == _USERNAME for s in self.steps)

    @property
    def signature(self) -> tuple[str, ...]:
        return tuple(f"{s.action} {s.url or ''} {s.locators[0].value if s.locators else ''}" for s in self.steps)


def _login_span(steps: Sequence[BrowserStep]) -> tuple[int, int] | None:
    """(first, last) index of a test's login: the goto before the password was typed, through the
    first later step that arrived at another page."""
    typed = next((i for i, s in enumerate(steps) if s.value == _PASSWORD), None)
    if typed is None:
        return None
    start = next((i for i in range(typed, -1, -1) if steps[i].action == "goto"), None)
    if start is None:
        return None
    login_page = steps[start].expect.url
    end = next(
        (i for i in range(typed + 1, len(steps)) if steps[i].expect.url and steps[i].expect.url != login_page), None
    )
    return None if end is None else (start, end)


@dataclass
class LoginLearner:
    """Learns from a suite's browser tests how its users log in and which pages need it."""

    logins: dict[tuple[str, ...], BrowserLogin]  # by signature
    counts: Counter[tuple[str, ...]]
    after: set[str]  # pages the login tests reached after signing in
    before: set[str]  # ... and pages they saw before (or while) signing in: not evidence

    @classmethod
    def learn(cls, tests: Sequence[TestCase]) -> LoginLearner:
        learner = cls({}, Counter(), set(), set())
        for test in tests:
            steps = _browser_steps(test)
            span = _login_span(steps)
            if span is None:
                continue
            start, end = span
            login = BrowserLogin(tuple(s.model_copy(deep=True) for s in steps[start : end + 1]))
            learner.logins.setdefault(login.signature, login)
            learner.counts[login.signature] += 1
            learner.before.update(s.expect.url for s in steps[:end] if s.expect.url)
            learner.after.update(s.expect.url for s in steps[end:] if s.expect.url)
        return learner

    def login(self) -> BrowserLogin | None:
        """The most common login of the suite (ties: the first seen)."""
        if not self.counts:
            return None
        return self.logins[self.counts.most_common(1)[0][0]]

    def started_signed_in(self, test: TestCase) -> bool:
        """A browser test that never logs in and starts at a page only signed-in users reached."""
        steps = _browser_steps(test)
        if not steps or steps[0].action != "goto" or any(s.value == _PASSWORD for s in steps):
            return False
        first = steps[0].expect.url
        return first is not None and first in self.after and first not in self.before


def log_in_first(test: TestCase, login: BrowserLogin) -> None:
    """Put the login's steps in front of the test's own (step ids renumbered in order)."""
    steps = [s.model_copy(deep=True) for s in login.steps] + list(test.steps)
    for i, step in enumerate(steps):
        step.id = f"b{i + 1}"
    test.steps = steps
