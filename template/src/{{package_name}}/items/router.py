"""HTTP routes for items, under /v1 (API-1). Translation only: rules live in the service.

Reads return an `ETag` with the item's version; `PATCH` and `DELETE` honour `If-Match`, so a
client can make sure it changes what it read (412 otherwise). Without `If-Match`, two concurrent
writers still cannot silently overwrite each other: the loser gets a 409.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status
from goldenpath_chassis.security import Principal, RequireScopes
from goldenpath_chassis.web import omit_null, problem_responses

from ..pagination import PAGE_SIZE_DEFAULT, Keyset, PageSize, decode_cursor, encode_cursor
from .dependencies import ItemServiceDep
from .models import Item
from .schemas import ItemCreate, ItemPage, ItemRead, ItemUpdate

router = APIRouter(prefix="/v1/items", tags=["items"])

# Each route names the scopes its caller needs (SEC-3) in the type of its `principal`: the
# caller, authenticated and holding them, or a refusal. The OpenAPI document shows them. The
# service is handed the caller and reaches only the caller's items (SEC-6). One dependency,
# rather than `dependencies=[...]` beside a `CurrentPrincipal`: each one costs every request.
Reader = Annotated[Principal, RequireScopes("items:read")]
Writer = Annotated[Principal, RequireScopes("items:write")]

_ETAG = re.compile(r'^(?:W/)?"(\d{1,10})"$')
_ETAG_HEADERS = {"ETag": {"description": "The item's version", "schema": {"type": "string"}}}
# OpenAPI links: what a client (or a stateful contract test) can do with a created item.
_ITEM_ID = {"item_id": "$response.body#/id"}
_CREATED_LINKS = {
    "GetItem": {"operationId": "get_item", "parameters": _ITEM_ID},
    "UpdateItem": {"operationId": "update_item", "parameters": _ITEM_ID},
    "DeleteItem": {"operationId": "delete_item", "parameters": _ITEM_ID},
}

IfMatch = Annotated[
    str | None,
    Header(
        # The pattern bounds the length too. An empty value counts as no condition.
        pattern=r'^(|\*|(W/)?"\d{1,10}")$',
        description='Only apply the change if the item is still at this ETag (e.g. `"3"`).',
        json_schema_extra=omit_null,
    ),
]


def etag(item: Item | ItemRead) -> str:
    return f'"{item.version}"'


def expected_version(if_match: str | None) -> int | None:
    match = _ETAG.match(if_match or "")
    return int(match.group(1)) if match else None


@router.post(
    "",
    summary="Create an item",
    status_code=status.HTTP_201_CREATED,
    response_model=ItemRead,
    responses={
        201: {"links": _CREATED_LINKS, "headers": _ETAG_HEADERS},
        **problem_responses(409, 422, 503),
    },
)
async def create_item(
    data: ItemCreate, service: ItemServiceDep, principal: Writer, response: Response
) -> ItemRead:
    item = await service.create(principal, data)
    response.headers["Location"] = f"{router.prefix}/{item.id}"
    response.headers["ETag"] = etag(item)
    return ItemRead.model_validate(item)


@router.get(
    "",
    summary="List items, oldest first",
    response_model=ItemPage,
    responses=problem_responses(422, 503),
)
async def list_items(
    service: ItemServiceDep,
    principal: Reader,
    limit: PageSize = PAGE_SIZE_DEFAULT,
    cursor: Annotated[
        str | None,
        Query(
            pattern=r"^[A-Za-z0-9_-]{22}$",
            description="`next_cursor` from the previous page (opaque, 22 characters).",
        ),
    ] = None,
) -> ItemPage:
    # Items are listed by id alone: the pattern admits 22 characters, an id's 16 bytes.
    after = decode_cursor(cursor).id if cursor else None
    reads, has_more = await service.list(principal, after=after, limit=limit)
    next_cursor = encode_cursor(Keyset(reads[-1].id)) if has_more and reads else None
    return ItemPage(items=list(reads), next_cursor=next_cursor)


@router.get(
    "/{item_id}",
    summary="Get one item",
    response_model=ItemRead,
    responses={200: {"headers": _ETAG_HEADERS}, **problem_responses(404, 422, 503)},
)
async def get_item(
    item_id: uuid.UUID, service: ItemServiceDep, principal: Reader, response: Response
) -> ItemRead:
    item = await service.get(principal, item_id)
    response.headers["ETag"] = etag(item)
    return ItemRead.model_validate(item)


@router.patch(
    "/{item_id}",
    summary="Change an item",
    response_model=ItemRead,
    responses={200: {"headers": _ETAG_HEADERS}, **problem_responses(404, 409, 412, 422, 503)},
)
async def update_item(
    item_id: uuid.UUID,
    data: ItemUpdate,
    *,
    service: ItemServiceDep,
    principal: Writer,
    response: Response,
    if_match: IfMatch = None,
) -> ItemRead:
    item = await service.update(
        principal, item_id, data, expected_version=expected_version(if_match)
    )
    response.headers["ETag"] = etag(item)
    return ItemRead.model_validate(item)


@router.delete(
    "/{item_id}",
    summary="Delete an item",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(404, 409, 412, 422, 503),
)
async def delete_item(
    item_id: uuid.UUID,
    service: ItemServiceDep,
    principal: Writer,
    if_match: IfMatch = None,
) -> None:
    await service.delete(principal, item_id, expected_version=expected_version(if_match))
