"""What can go wrong with categories, in domain terms."""

from __future__ import annotations

from http import HTTPStatus
from uuid import UUID

from goldenpath_chassis.web import DomainError


class CategoryNotFoundError(DomainError):
    status = HTTPStatus.NOT_FOUND
    code = "category-not-found"
    title = "Category not found"

    def __init__(self, category_id: UUID) -> None:
        super().__init__(f"No category with id {category_id}.")


class CategoryNameTakenError(DomainError):
    status = HTTPStatus.CONFLICT
    code = "category-name-taken"
    title = "Category name already taken"

    def __init__(self, name: str) -> None:
        super().__init__(f"A category named {name!r} already exists.")


class CategoryInUseError(DomainError):
    status = HTTPStatus.CONFLICT
    code = "category-in-use"
    title = "Category in use"

    def __init__(self, category_id: UUID) -> None:
        super().__init__(f"Category {category_id} still has items; move or delete them first.")
