"""HTTP routes for categories, under /v1."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from goldenpath_chassis.security import Principal, RequireScopes
from goldenpath_chassis.web import omit_null, problem_responses
from pydantic import AfterValidator, TypeAdapter

from ..pagination import (
    PAGE_SIZE_DEFAULT,
    Keyset,
    PageSize,
    cursor_length,
    decode_cursor,
    encode_cursor,
)
from .dependencies import CategoryServiceDep
from .schemas import (
    CATEGORY_NAME_MAX_LENGTH,
    CategoryCreate,
    CategoryName,
    CategoryPage,
    CategoryRead,
)

router = APIRouter(prefix="/v1/categories", tags=["categories"])

# Each route names the scopes its caller needs (SEC-3) in the type of its `principal`: the
# caller, authenticated and holding them, or a refusal. The OpenAPI document shows them. The
# service is handed the caller and reaches only the caller's categories (SEC-6). One dependency,
# rather than `dependencies=[...]` beside a `CurrentPrincipal`: each one costs every request.
Reader = Annotated[Principal, RequireScopes("categories:read")]
Writer = Annotated[Principal, RequireScopes("categories:write")]

_NAME = TypeAdapter(CategoryName)
CURSOR_FORMAT = "category-cursor"


def _category_cursor(cursor: str) -> str:
    """A cursor this list gave ends at a category, so it carries a category's name: anything
    else is refused here, a 422 naming the parameter. (Called for a value sent only.)"""
    decode_cursor(cursor, _NAME)
    return cursor


def _cursor_schema(schema: dict[str, Any]) -> None:
    # No pattern could tell a cursor from any other string: the contract names its format
    # instead, and the contract tests generate valid cursors for it (tests/contract/conftest.py).
    omit_null(schema)
    schema["format"] = CURSOR_FORMAT


Cursor = Annotated[
    str | None,
    Query(
        max_length=cursor_length(CATEGORY_NAME_MAX_LENGTH),
        description="`next_cursor` from the previous page (opaque).",
        json_schema_extra=_cursor_schema,
    ),
    AfterValidator(_category_cursor),
]


@router.post(
    "",
    summary="Create a category",
    status_code=status.HTTP_201_CREATED,
    response_model=CategoryRead,
    responses=problem_responses(409, 422, 503),
)
async def create_category(
    data: CategoryCreate,
    service: CategoryServiceDep,
    principal: Writer,
    response: Response,
) -> CategoryRead:
    category = CategoryRead.model_validate(await service.create(principal, data))
    response.headers["Location"] = f"{router.prefix}/{category.id}"
    return category


@router.get(
    "",
    summary="List categories by name",
    response_model=CategoryPage,
    responses=problem_responses(422, 503),
)
async def list_categories(
    service: CategoryServiceDep,
    principal: Reader,
    limit: PageSize = PAGE_SIZE_DEFAULT,
    cursor: Cursor = None,
) -> CategoryPage:
    after = decode_cursor(cursor) if cursor else None  # checked by `Cursor` already
    categories, has_more = await service.list(principal, after=after, limit=limit)
    last = categories[-1] if has_more and categories else None
    return CategoryPage(
        categories=[CategoryRead.model_validate(c) for c in categories],
        next_cursor=encode_cursor(Keyset(last.id, last.name)) if last else None,
    )


@router.get(
    "/{category_id}",
    summary="Get one category",
    response_model=CategoryRead,
    responses=problem_responses(404, 422, 503),
)
async def get_category(
    category_id: uuid.UUID, service: CategoryServiceDep, principal: Reader
) -> CategoryRead:
    return CategoryRead.model_validate(await service.get(principal, category_id))


@router.delete(
    "/{category_id}",
    summary="Delete a category that has no items",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(404, 409, 422, 503),
)
async def delete_category(
    category_id: uuid.UUID, service: CategoryServiceDep, principal: Writer
) -> None:
    await service.delete(principal, category_id)
