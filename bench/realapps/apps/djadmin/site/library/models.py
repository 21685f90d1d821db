"""A lending library's back office: the sample model Django's admin is shown on."""

import datetime

from django.core.exceptions import ValidationError
from django.db import models


class Author(models.Model):
    name = models.CharField(max_length=120)
    country = models.CharField(max_length=60)
    born = models.IntegerField(null=True, blank=True)

    class Meta:
        ordering = ("name",)

    def __str__(self):
        return self.name


class Book(models.Model):
    GENRES = (
        ("fiction", "Fiction"),
        ("science", "Science"),
        ("history", "History"),
        ("poetry", "Poetry"),
        ("children", "Children"),
        ("travel", "Travel"),
    )
    title = models.CharField(max_length=200)
    author = models.ForeignKey(Author, on_delete=models.PROTECT, related_name="books")
    genre = models.CharField(max_length=20, choices=GENRES)
    published = models.DateField()
    isbn = models.CharField("ISBN", max_length=13, unique=True)
    pages = models.PositiveIntegerField()
    available = models.BooleanField(default=True)

    class Meta:
        ordering = ("title",)

    def __str__(self):
        return self.title


class Member(models.Model):
    name = models.CharField(max_length=120)
    email = models.EmailField()
    city = models.CharField(max_length=60)
    joined = models.DateField()

    class Meta:
        ordering = ("name",)

    def __str__(self):
        return self.name


class Loan(models.Model):
    book = models.ForeignKey(Book, on_delete=models.CASCADE, related_name="loans")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="loans")
    borrowed = models.DateField(default=datetime.date.today)
    due = models.DateField()
    returned = models.BooleanField(default=False)

    class Meta:
        ordering = ("-borrowed", "id")

    def __str__(self):
        return f"{self.book} → {self.member}"

    def clean(self):
        if self.due and self.borrowed and self.due < self.borrowed:
            raise ValidationError({"due": "The due date cannot be before the loan date."})

    @property
    def overdue(self):
        return not self.returned and self.due < datetime.date.today()
