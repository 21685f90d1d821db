"""The admin as a small library would configure it: change lists with sortable columns, search,
filters with facet counts, a date hierarchy, pagination, an action and validated forms."""

from django.contrib import admin
from django.db.models import Count

from .models import Author, Book, Loan, Member


@admin.register(Author)
class AuthorAdmin(admin.ModelAdmin):
    list_display = ("name", "country", "born", "book_count")
    list_filter = ("country",)
    search_fields = ("name",)
    list_per_page = 20

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_books=Count("books"))

    @admin.display(description="Books", ordering="_books")
    def book_count(self, obj):
        return obj._books


@admin.register(Book)
class BookAdmin(admin.ModelAdmin):
    list_display = ("title", "author", "genre", "published", "pages", "available")
    list_filter = ("genre", "available", "published")
    search_fields = ("title", "author__name", "isbn")
    date_hierarchy = "published"
    list_per_page = 20
    list_max_show_all = 300
    show_facets = admin.ShowFacets.ALWAYS
    actions = ("mark_unavailable",)

    @admin.action(description="Mark selected books as unavailable")
    def mark_unavailable(self, request, queryset):
        updated = queryset.update(available=False)
        self.message_user(request, f"{updated} books marked as unavailable.")


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    list_display = ("name", "email", "city", "joined")
    list_filter = ("city",)
    search_fields = ("name", "email")
    list_per_page = 20


@admin.register(Loan)
class LoanAdmin(admin.ModelAdmin):
    list_display = ("book", "member", "borrowed", "due", "returned", "is_overdue")
    list_filter = ("returned", "due")
    search_fields = ("book__title", "member__name")
    list_per_page = 25
    show_facets = admin.ShowFacets.ALWAYS

    @admin.display(boolean=True, description="Overdue")
    def is_overdue(self, obj):
        return obj.overdue
