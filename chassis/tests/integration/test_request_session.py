"""DB-1: one database session a request, whichever way a route reaches it.

Services build their own services on `request_session(request)` (one dependency fewer for
FastAPI to solve on every request) while a route may also take `DbSession`: both are the same
session, so one request works in one transaction. The request layer closes it once the request
is answered, and the next request gets a new one.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from goldenpath_chassis import Domain, Service
from goldenpath_chassis.data import DbSession, request_session
from goldenpath_chassis.security import CurrentPrincipal

from tests.example.service import SERVICE

pytestmark = pytest.mark.integration

SEEN: list[AsyncSession] = []
router = APIRouter(prefix="/v1/session-probe")


@router.get("")
async def probe(session: DbSession, request: Request, _: CurrentPrincipal) -> dict[str, Any]:
    same = session is request_session(request)
    await session.execute(text("SELECT 1"))  # begins a transaction the request layer must end
    SEEN.append(session)
    return {"same": same, "in_transaction": session.in_transaction()}


# Session-scoped like the fixture it replaces, which the database fixtures depend on.
@pytest.fixture(scope="session")
def service() -> Service:
    probe_domain = Domain(name="probe", routers=(router,))
    return dataclasses.replace(SERVICE, domains=lambda: (*SERVICE.domains(), probe_domain))


async def test_db1_dbsession_and_request_session_are_one_session_closed_after_the_request(
    client: httpx.AsyncClient,
) -> None:
    SEEN.clear()
    first = await client.get("/v1/session-probe")
    assert first.json() == {"same": True, "in_transaction": True}
    assert not SEEN[0].in_transaction()  # closed by the request layer once answered
    await client.get("/v1/session-probe")
    assert len(SEEN) == 2
    assert SEEN[1] is not SEEN[0]
