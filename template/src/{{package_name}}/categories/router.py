"""HTTP routes for categories, under /v1."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status
from goldenpath_chassis.security import CurrentPrincipal, RequireScopes
from goldenpath_chassis.web import problem_responses

from .dependencies import CategoryServiceDep
from .schemas import CategoryCreate, CategoryList, CategoryRead

router = APIRouter(prefix="/v1/categories", tags=["categories"])

# Each route names the scopes it needs (SEC-3); the OpenAPI document shows them. Each passes the
# caller on (`CurrentPrincipal`): the service reaches only the caller's categories (SEC-6).
READ = RequireScopes("categories:read")
WRITE = RequireScopes("categories:write")


@router.post(
    "",
    summary="Create a category",
    status_code=status.HTTP_201_CREATED,
    response_model=CategoryRead,
    responses=problem_responses(409, 422, 503),
    dependencies=[WRITE],
)
async def create_category(
    data: CategoryCreate,
    service: CategoryServiceDep,
    principal: CurrentPrincipal,
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
    dependencies=[READ],
)
async def list_categories(service: CategoryServiceDep, principal: CurrentPrincipal) -> CategoryList:
    categories = await service.list_all(principal)
    return CategoryList(categories=[CategoryRead.model_validate(c) for c in categories])


@router.get(
    "/{category_id}",
    summary="Get one category",
    response_model=CategoryRead,
    responses=problem_responses(404, 422, 503),
    dependencies=[READ],
)
async def get_category(
    category_id: uuid.UUID, service: CategoryServiceDep, principal: CurrentPrincipal
) -> CategoryRead:
    return CategoryRead.model_validate(await service.get(principal, category_id))


@router.delete(
    "/{category_id}",
    summary="Delete a category that has no items",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(404, 409, 422, 503),
    dependencies=[WRITE],
)
async def delete_category(
    category_id: uuid.UUID, service: CategoryServiceDep, principal: CurrentPrincipal
) -> None:
    await service.delete(principal, category_id)
