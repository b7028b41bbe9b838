"""The widgets domain in one module: model, schemas, service, routes, job and declaration.

A real service splits these into a package (router, schemas, models, repository, service);
here one module keeps the fixture small. A widget is `pending` until its job publishes it.
Each widget belongs to its creator's owner (SEC-6): every query is filtered by it, names are
unique per owner, and `widgets:admin` reaches every owner's widgets, each access logged.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import datetime
from typing import Annotated, Any, Self

from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import CheckConstraint, Index, Integer, String, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.orm.exc import StaleDataError

from goldenpath_chassis import Domain
from goldenpath_chassis.cache import CachedResource, JsonCodec, invalidate_after_commit
from goldenpath_chassis.data import Base, DbSession, Timestamps, UUIDPrimaryKey, violation_of
from goldenpath_chassis.jobs import enqueue, enqueue_webhook
from goldenpath_chassis.security import (
    OWNER_MAX_LENGTH,
    CurrentPrincipal,
    Ownership,
    Principal,
    RequireScopes,
    sanitized_html,
)
from goldenpath_chassis.web import (
    DomainError,
    RequestModel,
    Text,
    name_field,
    problem_responses,
    resources_of,
    settings_of,
)

NAME_MAX = 100
DESCRIPTION_MAX = 500
PUBLISH = "widgets.publish"
ADMIN_SCOPE = "widgets:admin"
WIDGETS = Ownership(domain="widgets", admin_scope=ADMIN_SCOPE)


class Widget(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "widgets"
    __table_args__ = (
        CheckConstraint(f"length(name) BETWEEN 1 AND {NAME_MAX}", name="name_length"),
        CheckConstraint("price_cents >= 0", name="price_positive"),
        UniqueConstraint("owner", "name"),
        Index(None, "owner", "id"),
    )
    owner: Mapped[str] = mapped_column(String(OWNER_MAX_LENGTH))
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    description: Mapped[str] = mapped_column(String(5 * DESCRIPTION_MAX), default="")
    price_cents: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    version: Mapped[int] = mapped_column(Integer)
    __mapper_args__ = {"version_id_col": version, "eager_defaults": True}  # noqa: RUF012


WidgetName = Annotated[str, name_field(NAME_MAX, "Blue widget")]
WidgetDescription = Annotated[
    Text, Field(max_length=DESCRIPTION_MAX), sanitized_html(5 * DESCRIPTION_MAX)
]


class WidgetCreate(RequestModel):
    name: WidgetName
    description: WidgetDescription = ""
    price_cents: int = Field(0, ge=0, le=1_000_000)


class WidgetUpdate(RequestModel):
    """A partial update: an omitted field keeps its value; none of them may be set to null."""

    name: WidgetName | None = None
    description: WidgetDescription | None = None
    price_cents: int | None = Field(None, ge=0, le=1_000_000)

    @model_validator(mode="after")
    def _no_nulls(self) -> Self:
        nulls = sorted(name for name in self.model_fields_set if getattr(self, name) is None)
        if nulls:
            raise ValueError(f"{', '.join(nulls)} cannot be null; omit a field to keep it")
        return self


class WidgetRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str
    price_cents: int
    status: str
    version: int
    created_at: datetime


WIDGET_CODEC = JsonCodec(WidgetRead)
# Named by the shape it holds, as a service names its caches (`JsonCodec.versioned`). A test
# runs the next version of the example beside this one (a rollout that changes the shape) by
# naming the cache as that version would.
CACHE = os.environ.get("EXAMPLE_WIDGETS_CACHE_NAME") or WIDGET_CODEC.versioned("widgets")


class WidgetPage(BaseModel):
    items: list[WidgetRead]


class WidgetNotFoundError(DomainError):
    status = 404
    code = "widget-not-found"
    title = "Widget not found"

    def __init__(self, widget_id: uuid.UUID) -> None:
        super().__init__(f"No widget has the id {widget_id}.")


class WidgetNameTakenError(DomainError):
    status = 409
    code = "widget-name-taken"
    title = "Widget name taken"

    def __init__(self, name: str) -> None:
        super().__init__(f"A widget named {name!r} already exists.")


class WidgetConcurrentUpdateError(DomainError):
    """Another request changed or deleted the widget between our read and our write."""

    status = 409
    code = "widget-concurrent-update"
    title = "Widget changed concurrently"

    def __init__(self, widget_id: uuid.UUID) -> None:
        super().__init__(f"Widget {widget_id} was changed by another request; retry.")


def cache_key(owner: str, widget_id: uuid.UUID | str) -> str:
    """Entries are per owner: a cached widget is only ever found by a query of its owner."""
    return f"{owner}/{widget_id}"


class WidgetService:
    def __init__(
        self, session: AsyncSession, *, cache: CachedResource[WidgetRead], webhooks: bool
    ) -> None:
        self._session = session
        self._cache = cache
        self._webhooks = webhooks

    async def create(self, principal: Principal, data: WidgetCreate) -> Widget:
        widget = Widget(owner=principal.owner, **data.model_dump())
        self._session.add(widget)
        try:
            await self._session.flush()
            enqueue(self._session, PUBLISH, {"widget_id": str(widget.id)})
            if self._webhooks:
                event = WidgetRead.model_validate(widget).model_dump(mode="json")
                enqueue_webhook(self._session, "widget.created", event)
            await self._session.commit()
        except IntegrityError as error:
            await self._session.rollback()
            if violation_of(error).kind == "unique":
                raise WidgetNameTakenError(data.name) from error
            raise
        return widget

    async def _find(self, principal: Principal, action: str, widget_id: uuid.UUID) -> Widget:
        access = WIDGETS.access(principal, action)
        query = select(Widget).where(Widget.id == widget_id, access.criterion(Widget.owner))
        widget = await self._session.scalar(query)
        if widget is None:
            raise WidgetNotFoundError(widget_id)
        access.reached([widget])
        return widget

    async def get(self, principal: Principal, widget_id: uuid.UUID) -> WidgetRead:
        own = WIDGETS.access(principal, "read").own_only()

        async def load() -> WidgetRead | None:
            query = select(Widget).where(Widget.id == widget_id, own.criterion(Widget.owner))
            widget = await self._session.scalar(query)
            return None if widget is None else WidgetRead.model_validate(widget)

        found = await self._cache.get_or_load(cache_key(principal.owner, widget_id), load)
        if found is not None:
            return found
        # Another owner's widget, for the admin scope only: read, logged, never cached.
        return WidgetRead.model_validate(await self._find(principal, "read", widget_id))

    async def list(self, principal: Principal, *, limit: int) -> list[Widget]:
        access = WIDGETS.access(principal, "list")
        query = select(Widget).where(access.criterion(Widget.owner))
        found = list((await self._session.scalars(query.order_by(Widget.id).limit(limit))).all())
        access.reached(found)
        return found

    async def update(
        self, principal: Principal, widget_id: uuid.UUID, data: WidgetUpdate
    ) -> Widget:
        widget = await self._find(principal, "update", widget_id)
        owner = widget.owner
        for field, value in data.model_dump(exclude_unset=True).items():
            setattr(widget, field, value)
        try:
            await self._session.commit()
        except StaleDataError as error:
            # The version counter moved (or the row went) since `_find`: never a silent overwrite.
            await self._session.rollback()
            raise WidgetConcurrentUpdateError(widget_id) from error
        except IntegrityError as error:
            await self._session.rollback()
            if violation_of(error).kind == "unique" and data.name is not None:
                raise WidgetNameTakenError(data.name) from error
            raise
        await asyncio.shield(self._cache.invalidate(cache_key(owner, widget_id)))
        return widget

    async def delete(self, principal: Principal, widget_id: uuid.UUID) -> None:
        widget = await self._find(principal, "delete", widget_id)
        owner = widget.owner
        await self._session.delete(widget)
        try:
            await self._session.commit()
        except StaleDataError as error:
            await self._session.rollback()
            raise WidgetConcurrentUpdateError(widget_id) from error
        await asyncio.shield(self._cache.invalidate(cache_key(owner, widget_id)))


async def get_widget_service(session: DbSession, request: Request) -> WidgetService:
    return WidgetService(
        session,
        cache=resources_of(request).cache.resource(CACHE, WIDGET_CODEC),
        webhooks=settings_of(request).webhooks.url is not None,
    )


Widgets = Annotated[WidgetService, Depends(get_widget_service)]
READ = RequireScopes("widgets:read")
WRITE = RequireScopes("widgets:write")
router = APIRouter(prefix="/v1/widgets", tags=["widgets"])


@router.post(
    "",
    summary="Create a widget",
    status_code=status.HTTP_201_CREATED,
    response_model=WidgetRead,
    responses=problem_responses(409, 422),
    dependencies=[WRITE],
)
async def create_widget(
    data: WidgetCreate, widgets: Widgets, principal: CurrentPrincipal, response: Response
) -> WidgetRead:
    widget = await widgets.create(principal, data)
    response.headers["Location"] = f"{router.prefix}/{widget.id}"
    return WidgetRead.model_validate(widget)


@router.get(
    "",
    summary="List widgets",
    response_model=WidgetPage,
    responses=problem_responses(422),
    dependencies=[READ],
)
async def list_widgets(
    widgets: Widgets, principal: CurrentPrincipal, limit: int = 20
) -> WidgetPage:
    found = await widgets.list(principal, limit=min(max(limit, 1), 100))
    return WidgetPage(items=[WidgetRead.model_validate(widget) for widget in found])


@router.get(
    "/{widget_id}",
    summary="Get one widget",
    response_model=WidgetRead,
    responses=problem_responses(404, 422),
    dependencies=[READ],
)
async def get_widget(
    widget_id: uuid.UUID, widgets: Widgets, principal: CurrentPrincipal, response: Response
) -> WidgetRead:
    widget = await widgets.get(principal, widget_id)
    response.headers["ETag"] = f'"{widget.version}"'
    return widget


@router.patch(
    "/{widget_id}",
    summary="Change a widget",
    response_model=WidgetRead,
    responses=problem_responses(404, 409, 422),
    dependencies=[WRITE],
)
async def update_widget(
    widget_id: uuid.UUID, data: WidgetUpdate, widgets: Widgets, principal: CurrentPrincipal
) -> WidgetRead:
    return WidgetRead.model_validate(await widgets.update(principal, widget_id, data))


@router.delete(
    "/{widget_id}",
    summary="Delete a widget",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(404, 409, 422),
    dependencies=[WRITE],
)
async def delete_widget(
    widget_id: uuid.UUID, widgets: Widgets, principal: CurrentPrincipal
) -> None:
    await widgets.delete(principal, widget_id)


async def publish_widget(session: AsyncSession, payload: dict[str, Any]) -> None:
    widget = await session.get(Widget, uuid.UUID(payload["widget_id"]))
    if widget is not None and widget.status == "pending":
        widget.status = "active"
        await session.flush()
        invalidate_after_commit(session, CACHE, cache_key(widget.owner, widget.id))


DOMAIN = Domain(
    name="widgets",
    routers=(router,),
    models=(Widget,),
    scopes={
        "widgets:read": "read widgets",
        "widgets:write": "create, change and delete widgets",
        ADMIN_SCOPE: "reach every owner's widgets (each access is logged)",
    },
    jobs={PUBLISH: publish_widget},
)
