"""The library's data: the same on every deployment of a day (seeded), dates relative to today."""

from __future__ import annotations

import datetime
import random

from django.contrib.auth.models import Group, Permission, User
from django.core.management import call_command
from library.models import Author, Book, Loan, Member
from realapps_staff import CATALOGUE, FRONT_DESK, TESTER, password

FIRST = (
    "Ada",
    "Bruno",
    "Carmen",
    "Dara",
    "Emil",
    "Farah",
    "Gustav",
    "Hana",
    "Ivo",
    "Joana",
    "Karel",
    "Lena",
    "Mateo",
    "Nora",
    "Oskar",
    "Priya",
    "Quentin",
    "Rosa",
    "Soren",
    "Tamar",
)
LAST = (
    "Almeida",
    "Brandt",
    "Castillo",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Horvat",
    "Ito",
    "Jensen",
    "Kowalski",
    "Larsen",
    "Moreno",
    "Novak",
    "Okafor",
    "Petrov",
    "Quinn",
    "Reyes",
    "Schmidt",
    "Tanaka",
)
COUNTRIES = ("France", "Germany", "Japan", "Nigeria", "Brazil", "Canada", "India", "Norway", "Spain", "Poland")
ADJ = (
    "Long",
    "Silent",
    "Hidden",
    "Last",
    "Broken",
    "Golden",
    "Northern",
    "Secret",
    "Winter",
    "Distant",
    "Red",
    "Little",
    "Endless",
    "Forgotten",
    "Wild",
)
NOUN = (
    "War",
    "Garden",
    "River",
    "Night",
    "Harbour",
    "Kingdom",
    "Forest",
    "Letters",
    "Voyage",
    "Island",
    "Mountain",
    "Orchard",
    "Machine",
    "Atlas",
    "Lighthouse",
)
FORMS = ("The {a} {n}", "A {a} {n}", "{n} of the {a} Sea", "The {n} and the {n2}", "{a} {n}s", "Notes on the {n}")
CITIES = ("Lyon", "Porto", "Ghent", "Aarhus", "Bologna", "Graz", "Tartu", "Cork")


def seed() -> None:
    call_command("migrate", verbosity=0, interactive=False)
    rng = random.Random(20261205)
    today = datetime.date.today()

    catalogue = Group.objects.create(name="Catalogue")
    front = Group.objects.create(name="Front desk")
    perms = {p.codename: p for p in Permission.objects.filter(content_type__app_label="library")}
    catalogue.permissions.set(
        [perms[f"{a}_{m}"] for m in ("book", "author") for a in ("add", "change", "delete", "view")]
        + [perms["view_loan"], perms["view_member"]]
    )
    front.permissions.set(
        [perms[f"{a}_loan"] for a in ("add", "change", "delete", "view")]
        + [perms["view_book"], perms["view_author"], perms["view_member"], perms["change_member"]]
    )
    for names, groups in ((CATALOGUE, [catalogue]), (FRONT_DESK, [front]), ((TESTER,), [catalogue, front])):
        for username in names:
            first, _, last = username.partition(".")
            user = User.objects.create_user(
                username,
                f"{username}@library.example",
                password(username),
                first_name=first.title(),
                last_name=last.title(),
                is_staff=True,
            )
            user.groups.set(groups)

    authors = [
        Author.objects.create(
            name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
            country=rng.choice(COUNTRIES),
            born=rng.choice([None, *range(1900, 1995)]),
        )
        for _ in range(40)
    ]
    titles: set[str] = set()
    while len(titles) < 230:
        titles.add(rng.choice(FORMS).format(a=rng.choice(ADJ), n=rng.choice(NOUN), n2=rng.choice(NOUN)))
    books = [
        Book.objects.create(
            title=title,
            author=rng.choice(authors),
            genre=rng.choice(Book.GENRES)[0],
            published=datetime.date(rng.randint(1950, 2024), rng.randint(1, 12), rng.randint(1, 28)),
            isbn=f"978{rng.randrange(10**10):010d}",
            pages=rng.randint(80, 900),
            available=rng.random() < 0.85,
        )
        for title in sorted(titles)
    ]
    members = [
        Member.objects.create(
            name=f"{first} {last}",
            email=f"{first}.{last}@mail.example".lower(),
            city=rng.choice(CITIES),
            joined=today - datetime.timedelta(days=rng.randint(30, 2000)),
        )
        for first, last in rng.sample([(f, la) for f in FIRST for la in LAST], 60)
    ]
    for _ in range(150):
        borrowed = today - datetime.timedelta(days=rng.randint(0, 80))
        due = borrowed + datetime.timedelta(days=21)
        Loan.objects.create(
            book=rng.choice(books),
            member=rng.choice(members),
            borrowed=borrowed,
            due=due,
            returned=due < today and rng.random() < 0.6,
        )
