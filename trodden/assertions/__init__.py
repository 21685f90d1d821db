"""What a suite's checks mean, implemented once.

Replay (`trodden.replay`), the generator (`trodden.synthesis.generate.drop_contradicted`) and the
exported pytest files (`trodden.synthesis.pytest_runtime`) all judge observations here:

- `Observation`, `JudgeContext`, `Violation`: what is judged, in which context, and a "no";
- the assertion kinds (`registry.Assertion`, one module each under `kinds/`), each a class that
  judges itself (`judge` on one exchange, `judge_sequence` over a test) and shows a failure;
- `Expectation` and `check_expectation`: a step's recorded promise;
- `pointer`, `values`: JSON pointers, JSON types and value formats;
- `templates`: the request a step sends, redirects, and the values it extracts.
"""

from trodden.assertions.base import AssertionBase, ExchangeAssertion, FieldAssertion, SequenceAssertion
from trodden.assertions.expectation import Expectation, Unmet, check_expectation, page_url_matches
from trodden.assertions.observation import JudgeContext, Observation, Violation, condition_holds, status_matches
from trodden.assertions.registry import KIND_NAMES, KINDS, TEMPORAL_KINDS, Assertion, load_assertions, make_assertion

__all__ = [
    "KINDS",
    "KIND_NAMES",
    "TEMPORAL_KINDS",
    "Assertion",
    "AssertionBase",
    "ExchangeAssertion",
    "Expectation",
    "FieldAssertion",
    "JudgeContext",
    "Observation",
    "SequenceAssertion",
    "Unmet",
    "Violation",
    "check_expectation",
    "condition_holds",
    "load_assertions",
    "make_assertion",
    "page_url_matches",
    "status_matches",
]
