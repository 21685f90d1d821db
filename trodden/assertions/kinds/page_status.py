"""`page_status`: the documents of a page template load in one status class ("pages of
/orders/{id} load 2xx"), judged on every step of a browser test that loaded such a document."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from trodden.assertions.base import ExchangeAssertion, Params
from trodden.assertions.observation import JudgeContext, Observation, Violation, status_matches
from trodden.assertions.page import loaded_document


class PageStatusParams(Params):
    class_: str = Field(alias="class")  # "2xx"
    observed: list[int] = Field(default_factory=list)  # the statuses the miner saw in the class


class PageStatusAssertion(ExchangeAssertion):
    kind: Literal["page_status"] = "page_status"
    params: PageStatusParams

    on_pages: ClassVar[bool] = True

    def check(self, obs: Observation, ctx: JudgeContext) -> list[Violation]:
        # no document, or a browser that did not say its status: nothing to judge
        if not loaded_document(obs) or not obs.status:
            return []
        if status_matches(obs.status, self.params.class_):
            return []
        return [Violation(obs, self.params.class_, obs.status, "status")]

    def show(self, violation: Violation) -> str:
        return f"the page loaded with status {violation.actual}, expected {violation.expected}"
