"""What can go wrong with items, in domain terms; `core.errors` turns each into a problem."""

from __future__ import annotations

from http import HTTPStatus
from uuid import UUID

from ..core.errors import DomainError


class ItemNotFoundError(DomainError):
    status = HTTPStatus.NOT_FOUND
    code = "item-not-found"
    title = "Item not found"

    def __init__(self, item_id: UUID) -> None:
        super().__init__(f"No item with id {item_id}.")


class ItemNameTakenError(DomainError):
    status = HTTPStatus.CONFLICT
    code = "item-name-taken"
    title = "Item name already taken"

    def __init__(self, name: str) -> None:
        super().__init__(f"An item named {name!r} already exists.")
