"""API key queries. Flushes, never commits: the service owns the transaction (ARCH-1)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..database import Database
from ..security.api_keys import ApiKeyRecord
from .models import ApiKey


def record_of(row: ApiKey) -> ApiKeyRecord:
    """The verification view of a row, detached from the session."""
    return ApiKeyRecord(
        key_id=row.key_id,
        name=row.name,
        secret_hash=row.secret_hash,
        scopes=frozenset(row.scopes.split()),
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        owner=row.owner,
    )


class ApiKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def find(self, key_id: str) -> ApiKey | None:
        return await self._session.scalar(select(ApiKey).where(ApiKey.key_id == key_id))

    async def add(self, api_key: ApiKey) -> ApiKey:
        self._session.add(api_key)
        await self._session.flush()
        return api_key

    async def list_all(self) -> Sequence[ApiKey]:
        return (await self._session.scalars(select(ApiKey).order_by(ApiKey.id))).all()

    async def flush(self) -> None:
        await self._session.flush()


class ApiKeyStore:
    """What `core.security.api_keys` needs on every keyed request: one indexed lookup."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def find(self, key_id: str) -> ApiKeyRecord | None:
        async with self._database.sessionmaker() as session:
            row = await ApiKeyRepository(session).find(key_id)
            return record_of(row) if row is not None else None
