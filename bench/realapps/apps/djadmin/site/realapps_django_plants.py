"""Planted regressions for the Django admin deployment: monkeypatches of the registered admin
classes, of Django's facet filter and of a model, installed at start-up, plus one middleware.
Django's files and the sample site's modules are not edited. Ids and probes:
`bench/realapps/apps/djadmin/plants.py` (a test checks both list the same ids)."""

from __future__ import annotations

import datetime
import time
from typing import Any

from django.contrib import admin
from django.contrib.admin import filters
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied

KNOWN = frozenset(
    {
        "sort-published-ignored",
        "header-renamed",
        "rows-per-page-short",
        "facet-count-off-by-one",
        "search-exact-title",
        "loan-return-overdue-500",
        "books-list-slow",
        "frontdesk-loan-add-403",
        "available-filter-gone",
        "change-message-missing",
    }
)
ACTIVE: frozenset[str] = frozenset()
SLOW_S = 0.4


class PlantedChangeList(ChangeList):
    def get_ordering(self, request: Any, queryset: Any) -> list[Any]:
        ordering = super().get_ordering(request, queryset)
        if "sort-published-ignored" in ACTIVE and self.model.__name__ == "Book":
            ordering = [o for o in ordering if str(o).lstrip("-") != "published"] or ["title"]
        return ordering

    def get_results(self, request: Any) -> None:
        super().get_results(request)
        if (
            "rows-per-page-short" in ACTIVE
            and self.model.__name__ == "Book"
            and len(self.result_list) == self.list_per_page
            and self.multi_page
        ):
            self.result_list = list(self.result_list)[:-1]  # the last row of a full page is lost


def install(plants: frozenset[str]) -> None:
    global ACTIVE
    unknown = plants - KNOWN
    if unknown:
        raise ValueError(f"unknown Django plants: {sorted(unknown)}")
    ACTIVE = plants
    from library.models import Book, Loan

    books = admin.site._registry[Book]
    loans = admin.site._registry[Loan]
    for model_admin in (books, loans):
        model_admin.get_changelist = lambda request, **kwargs: PlantedChangeList  # type: ignore[method-assign]
    if "header-renamed" in plants:

        @admin.display(description="Publication date", ordering="published")
        def published_on(obj: Any) -> Any:
            return obj.published

        books.list_display = tuple(published_on if f == "published" else f for f in books.list_display)
    if "facet-count-off-by-one" in plants:
        original = filters.ChoicesFieldListFilter.get_facet_queryset

        def counts(self: Any, changelist: Any) -> Any:
            result = original(self, changelist)
            if self.field.name == "genre":
                return {k: v + 1 for k, v in result.items()}
            return result

        filters.ChoicesFieldListFilter.get_facet_queryset = counts  # type: ignore[method-assign]
    if "search-exact-title" in plants:
        books.search_fields = tuple("=title" if f == "title" else f for f in books.search_fields)
    if "available-filter-gone" in plants:
        books.list_filter = tuple(f for f in books.list_filter if f != "available")
    if "change-message-missing" in plants:
        for model_admin in admin.site._registry.values():
            model_admin.message_user = lambda *args, **kwargs: None  # type: ignore[method-assign]
    if "loan-return-overdue-500" in plants:
        save = Loan.save

        def planted_save(self: Any, *args: Any, **kwargs: Any) -> None:
            if self.returned and self.due < datetime.date.today():
                raise RuntimeError("late fee calculation failed")  # a 500 only for an overdue loan returned
            save(self, *args, **kwargs)

        Loan.save = planted_save  # type: ignore[method-assign]


class PlantsMiddleware:
    """Plants that act on whole requests: a permission taken away, a slow page."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        path = request.path
        if (
            "frontdesk-loan-add-403" in ACTIVE
            and path == "/admin/library/loan/add/"
            and request.user.is_authenticated
            and request.user.groups.filter(name="Front desk").exists()
        ):
            raise PermissionDenied
        if "books-list-slow" in ACTIVE and path == "/admin/library/book/":
            time.sleep(SLOW_S)
        return self.get_response(request)
