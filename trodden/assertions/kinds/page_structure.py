"""`page_structure`: what every arrival at a page template showed ("pages of /orders/{id} show a
table with columns Item, Qty, Price"): one facet of the page's outline (`field`: headings,
columns, landmarks, links, buttons, fields, lists, filled) and the items it always held."""

from __future__ import annotations

from typing import ClassVar, Literal

from trodden.assertions.base import ExchangeAssertion, Params
from trodden.assertions.observation import JudgeContext, Observation, Violation
from trodden.assertions.page import arrived, outline_items

FACETS = ("headings", "columns", "landmarks", "links", "buttons", "fields", "lists", "filled")


class PageStructureParams(Params):
    items: list[str]


class PageStructureAssertion(ExchangeAssertion):
    """Judged when a step arrived at such a page (a document, or an SPA route change), on the
    outline taken once the page settled; fails with the items that are not there."""

    kind: Literal["page_structure"] = "page_structure"
    params: PageStructureParams

    on_pages: ClassVar[bool] = True

    # a page whose status already failed would only repeat that finding in many words
    field_rule: ClassVar[bool] = True

    @property
    def reads_body(self) -> bool:
        return False  # the outline is read from the page, not from a response body

    def check(self, obs: Observation, ctx: JudgeContext) -> list[Violation]:
        if not arrived(obs) or not isinstance(obs.body, dict) or obs.status >= 400 or self.field not in FACETS:
            return []
        have = outline_items(obs.body)[self.field or ""]
        missing = [item for item in self.params.items if item not in have]
        if not missing:
            return []
        return [Violation(obs, missing, sorted(have), self.field)]

    def show(self, violation: Violation) -> str:
        return f"the page's {self.field} lack {', '.join(map(str, violation.expected))}"
