"""HTTP routes for categories, under /v1."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Response, status
from goldenpath_chassis.security import Principal, RequireScopes
from goldenpath_chassis.web import problem_responses

from .dependencies import CategoryServiceDep
from .schemas import CategoryCreate, CategoryList, CategoryRead

router = APIRouter(prefix="/v1/categories", tags=["categories"])

# Each route names the scopes its caller needs (SEC-3) in the type of its `principal`: the
# caller, authenticated and holding them, or a refusal. The OpenAPI document shows them. The
# service is handed the caller and reaches only the caller's categories (SEC-6). One dependency,
# rather than `dependencies=[...]` beside a `CurrentPrincipal`: each one costs every request.
Reader = Annotated[Principal, RequireScopes("categories:read")]
Writer = Annotated[Principal, RequireScopes("categories:write")]


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
    response_model=CategoryList,
    responses=problem_responses(503),
)
async def list_categories(service: CategoryServiceDep, principal: Reader) -> CategoryList:
    categories = await service.list_all(principal)
    return CategoryList(categories=[CategoryRead.model_validate(c) for c in categories])


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
