"""Records a returning user's session assumed: synthesised setup for a list read by position.

A returning user opens their task list and deletes its first task: the recorded test reads the
id at `/data/0/id` of `GET …/records` and sends it in `DELETE …/records/{{id}}`. On a fresh
deployment (and in the fresh account the `signup` profile gives every execution) the list is
empty, the extraction finds nothing, and the test verifies nothing, on the baseline as well.

Other sessions of the source show how such a record is made: a successful `POST` of a JSON body
to the same route (the collection). So before a `GET` step that a later step reads by position
(item k of a list), a test gets as many creating requests as the list must hold (k + 1) minus
those the session itself made there before: the same URL without its query, the step's own
headers (its credentials), and the body the source's users sent most (its field names). The
setup steps are real requests of the test, judged like the others; a regression in creating a
record is a regression the test reports.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from trodden.models.events import NetworkRequest
from trodden.models.suite import Expectation, HttpRequest, HttpStep, TestCase
from trodden.synthesis.routes import RouteTemplater
from trodden.synthesis.steps import url_path

SETUP_PREFIX = "setup"
_MAX_SETUP = 5  # a test reading item 40 of a list is not set up with 41 records


@dataclass(frozen=True)
class Creation:
    """How the source's users create an item of a collection (`POST` route), from a recording."""

    endpoint: str  # "POST /route"
    body: Any  # a recorded JSON body (the most common set of field names)
    status: int


class CreationLearner:
    """Fed every session's API requests; `get(route)` is the creation seen most for that route."""

    def __init__(self, templater: RouteTemplater) -> None:
        self.templater = templater
        self.counts: Counter[tuple[str, str]] = Counter()
        self.examples: dict[tuple[str, str], Creation] = {}

    def add(self, requests: list[NetworkRequest]) -> None:
        for ev in requests:
            if ev.method.upper() != "POST" or not 200 <= ev.status < 300 or not isinstance(ev.request_body, dict):
                continue
            route = self.templater.template(url_path(ev.request_url))
            key = (route, str(sorted(_field_names(ev.request_body))))
            self.counts[key] += 1
            self.examples.setdefault(key, Creation(f"POST {route}", ev.request_body, ev.status))

    def get(self, route: str) -> Creation | None:
        keys = [k for k in self.counts if k[0] == route]
        return self.examples[max(keys, key=lambda k: (self.counts[k], k))] if keys else None


def _field_names(body: dict[str, Any], prefix: str = "") -> list[str]:
    out: list[str] = []
    for k, v in body.items():
        out.append(prefix + str(k))
        if isinstance(v, dict):
            out += _field_names(v, f"{prefix}{k}/")
    return out


def _position(path: str) -> int | None:
    """The list index a JSON pointer reads (`/data/0/id` → 0), or None."""
    for part in path.split("/"):
        if part.isdigit():
            return int(part)
    return None


def add_list_setup(test: TestCase, requests: list[NetworkRequest], creations: CreationLearner) -> int:
    """Insert the creating requests the test's positional list reads assume (see the module
    docstring); returns how many steps were added. `requests` are the session's API requests,
    one per HTTP step, in order."""
    steps = list(test.steps)
    if len(steps) != len(requests) or not all(isinstance(s, HttpStep) for s in steps):
        return 0
    out: list[Any] = []
    added = 0
    made: Counter[str] = Counter()  # successful creations the session made, per concrete path
    for step, ev in zip(steps, requests, strict=True):
        assert isinstance(step, HttpStep)
        path = url_path(ev.request_url)
        reads = [p for ex in step.extract if ex.source == "json" and (p := _position(ex.path)) is not None]
        creation = creations.get(creations.templater.template(path)) if reads and ev.method.upper() == "GET" else None
        if creation is not None:
            need = min(max(reads) + 1, _MAX_SETUP) - made[path]
            url = step.request.url.split("?", 1)[0]
            headers = {k: v for k, v in step.request.headers.items() if k.lower() != "content-type"}
            for _ in range(max(need, 0)):
                added += 1
                made[path] += 1
                out.append(
                    HttpStep(
                        id=f"{SETUP_PREFIX}{added}",
                        endpoint=creation.endpoint,
                        request=HttpRequest(
                            method="POST",
                            url=url,
                            headers={**headers, "Content-Type": "application/json"},
                            body=creation.body,
                            body_kind="json",
                        ),
                        expect=Expectation(status=creation.status),
                        unsafe=True,
                    )
                )
        out.append(step)
        if ev.method.upper() == "POST" and 200 <= ev.status < 300:
            made[path] += 1
    if added:
        test.steps = out
    return added
