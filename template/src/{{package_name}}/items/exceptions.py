"""What can go wrong with items, in domain terms; `core.errors` turns each into a problem."""

from __future__ import annotations

from http import HTTPStatus
from uuid import UUID

from goldenpath_chassis.web import DomainError


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


class UnknownCategoryError(DomainError):
    """The request is well-formed but names a category that does not exist (now): a conflict
    with the current state, which the client resolves by creating the category first."""

    status = HTTPStatus.CONFLICT
    code = "unknown-category"
    title = "Unknown category"

    def __init__(self, category_id: UUID) -> None:
        super().__init__(f"No category with id {category_id}; create it first.")


class ItemVersionMismatchError(DomainError):
    """The client's If-Match names a version that is no longer current."""

    status = HTTPStatus.PRECONDITION_FAILED
    code = "item-version-mismatch"
    title = "Item changed since you read it"

    def __init__(self, item_id: UUID, current_version: int) -> None:
        super().__init__(
            f"Item {item_id} is at version {current_version}; read it again and reapply."
        )


class ItemConcurrentUpdateError(DomainError):
    """Another request changed the item between our read and our write."""

    status = HTTPStatus.CONFLICT
    code = "item-concurrent-update"
    title = "Item changed concurrently"

    def __init__(self, item_id: UUID) -> None:
        super().__init__(f"Item {item_id} was changed by another request; retry.")
