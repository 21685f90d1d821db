"""The shop's in-memory state, resettable (`POST /__reset`) so each replay starts from the same place."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from trodden.shop.catalogue import initial_gift_cards


@dataclass
class Cart:
    lines: dict[str, int] = field(default_factory=dict)  # sku -> quantity, in insertion order
    codes: list[str] = field(default_factory=list)
    region: str = "EU"


@dataclass
class User:
    email: str
    name: str
    region: str
    password_hash: str
    created_at: datetime


@dataclass
class Visit:
    """One visitor's server-side session: a guest or a logged-in user, with a cart."""

    token: str
    cart: Cart = field(default_factory=Cart)
    user_email: str | None = None
    orders: list[str] = field(default_factory=list)  # order ids placed in this visit (guest access)
    wishlist: list[str] = field(default_factory=list)


@dataclass
class Quote:
    id: str
    token: str
    subtotal: int
    discount: int
    shipping: int
    total: int


def hash_password(email: str, password: str) -> str:
    return hashlib.sha256(f"{email.lower()}\0{password}".encode()).hexdigest()


class ShopState:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.visits: dict[str, Visit] = {}
        self.users: dict[str, User] = {}
        self.orders: dict[str, dict[str, Any]] = {}
        self.user_orders: dict[str, list[str]] = {}
        self.quotes: dict[str, Quote] = {}
        self.gift_cards: dict[str, int] = initial_gift_cards()
        self.wishlists: dict[str, list[str]] = {}

    def new_visit(self) -> Visit:
        visit = Visit(token=secrets.token_hex(16))
        self.visits[visit.token] = visit
        return visit

    def register(self, email: str, password: str, name: str, region: str) -> User:
        user = User(email.lower(), name, region, hash_password(email, password), datetime.now(UTC))
        self.users[user.email] = user
        return user

    def check_password(self, email: str, password: str) -> User | None:
        user = self.users.get(email.lower())
        if user is None or not secrets.compare_digest(user.password_hash, hash_password(email, password)):
            return None
        return user

    def new_quote(self, token: str, subtotal: int, discount: int, shipping: int, total: int) -> Quote:
        quote = Quote("q_" + uuid.uuid4().hex, token, subtotal, discount, shipping, total)
        self.quotes[quote.id] = quote
        return quote
