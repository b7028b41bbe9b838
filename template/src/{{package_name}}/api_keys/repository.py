"""API key storage. Queries only: the service decides what they mean."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from ..core.security.api_keys import ApiKeyRecord
from ..core.settings import Settings


class ApiKeyRepository(Protocol):
    async def find(self, key_id: str) -> ApiKeyRecord | None: ...

    async def add(self, record: ApiKeyRecord) -> None: ...

    async def list_all(self) -> list[ApiKeyRecord]: ...

    async def mark_revoked(self, key_id: str, at: datetime) -> ApiKeyRecord | None: ...


class InMemoryApiKeyRepository:
    """Process-local storage, for unit tests of the service."""

    def __init__(self) -> None:
        self._records: dict[str, ApiKeyRecord] = {}

    async def find(self, key_id: str) -> ApiKeyRecord | None:
        return self._records.get(key_id)

    async def add(self, record: ApiKeyRecord) -> None:
        self._records[record.key_id] = record

    async def list_all(self) -> list[ApiKeyRecord]:
        return sorted(self._records.values(), key=lambda record: record.created_at)

    async def mark_revoked(self, key_id: str, at: datetime) -> ApiKeyRecord | None:
        record = self._records.get(key_id)
        if record is None:
            return None
        if record.revoked_at is None:
            record = replace(record, revoked_at=at)
            self._records[key_id] = record
        return record


@asynccontextmanager
async def open_repository(settings: Settings) -> AsyncIterator[ApiKeyRepository]:
    """The repository the management command works on.

    TODO(data layer): the SQL repository on the configured database; until then keys live in
    the process that creates them.
    """
    del settings
    yield InMemoryApiKeyRepository()
