"""Business rules for API keys: what a key may be, and that its secret is shown only once."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from ..core.security.api_keys import ApiKeyRecord, generate_api_key
from ..core.security.scopes import SCOPE_PATTERN
from .exceptions import ApiKeyNotFoundError, InvalidApiKeyRequestError
from .repository import ApiKeyRepository

NAME_MAX_LENGTH = 100
MAX_SCOPES = 50
MAX_LIFETIME = timedelta(days=3650)
DEFAULT_LIFETIME = timedelta(days=90)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ApiKeyService:
    def __init__(
        self, repository: ApiKeyRepository, *, clock: Callable[[], datetime] = _utc_now
    ) -> None:
        self._repository = repository
        self._clock = clock

    async def create(
        self,
        *,
        name: str,
        scopes: Iterable[str],
        lifetime: timedelta = DEFAULT_LIFETIME,
    ) -> tuple[ApiKeyRecord, str]:
        """Store a new key and return it with its plaintext, which is never stored."""
        name = name.strip()
        if not name or len(name) > NAME_MAX_LENGTH:
            raise InvalidApiKeyRequestError(f"The name must be 1 to {NAME_MAX_LENGTH} characters.")
        chosen = frozenset(scopes)
        invalid = sorted(scope for scope in chosen if not SCOPE_PATTERN.fullmatch(scope))
        if invalid:
            raise InvalidApiKeyRequestError(f"Not scope names: {', '.join(invalid)}.")
        if len(chosen) > MAX_SCOPES:
            raise InvalidApiKeyRequestError(f"A key may have at most {MAX_SCOPES} scopes.")
        if not timedelta(0) < lifetime <= MAX_LIFETIME:
            raise InvalidApiKeyRequestError(
                f"The lifetime must be positive and at most {MAX_LIFETIME.days} days."
            )
        new = generate_api_key()
        now = self._clock()
        record = ApiKeyRecord(
            key_id=new.key_id,
            name=name,
            secret_hash=new.secret_hash,
            scopes=chosen,
            created_at=now,
            expires_at=now + lifetime,
        )
        await self._repository.add(record)
        return record, new.plaintext

    async def revoke(self, key_id: str) -> ApiKeyRecord:
        record = await self._repository.mark_revoked(key_id, self._clock())
        if record is None:
            raise ApiKeyNotFoundError(key_id)
        return record

    async def list(self) -> list[ApiKeyRecord]:
        return await self._repository.list_all()
