"""Business rules for API keys: what a key may be, and that its secret is shown only once.
Owns the transaction; raises domain errors; knows nothing of HTTP or the command line."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from ..domain import SCOPE_PATTERN
from ..security.api_keys import KEY_ID_PATTERN, generate_api_key, key_id_of
from ..security.jwt import MAX_IDENTITY_LENGTH
from ..security.principal import TENANT_OWNER_PREFIX
from ..terminal_text import unsafe_character
from .exceptions import ApiKeyNotFoundError, InvalidApiKeyRequestError
from .models import NAME_MAX_LENGTH, SCOPES_MAX_LENGTH, ApiKey
from .repository import ApiKeyRepository

MAX_LIFETIME = timedelta(days=3650)
DEFAULT_LIFETIME = timedelta(days=90)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _lifetime_error() -> InvalidApiKeyRequestError:
    return InvalidApiKeyRequestError(
        f"The lifetime must be positive and at most {MAX_LIFETIME.days} days."
    )


def _refuse_unsafe_characters(field: str, value: str) -> None:
    """`list` prints names and owners in tab-separated rows, to scripts and terminals."""
    found = unsafe_character(value)
    if found is not None:
        # The character is named, not echoed: it may be an escape sequence's start.
        raise InvalidApiKeyRequestError(
            f"The {field} holds {found}: tabs, line breaks, terminal escapes and other control "
            "or formatting characters (such as bidirectional overrides) are refused."
        )


def lifetime_in_days(days: int) -> timedelta:
    """A lifetime of `days`, range-checked first: a large count does not fit a timedelta."""
    if not 0 < days <= MAX_LIFETIME.days:
        raise _lifetime_error()
    return timedelta(days=days)


class ApiKeyService:
    def __init__(
        self,
        session: AsyncSession,
        *,
        declared_scopes: Collection[str],
        tenant_claim: str | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        """`declared_scopes`: the service's scopes (`Service.scopes`); a key with any other could
        never be used. Required: a caller that forgot them would grant scopes unchecked.
        `tenant_claim`: `AUTH_JWT_TENANT_CLAIM`; only then can a key act for a tenant."""
        if isinstance(declared_scopes, str):
            raise TypeError("declared_scopes is a collection of scope names, not one string")
        self._session = session
        self._repository = ApiKeyRepository(session)
        self._clock = clock
        self._declared_scopes = frozenset(declared_scopes)
        self._tenant_claim = tenant_claim

    async def create(
        self,
        *,
        name: str,
        scopes: Iterable[str],
        lifetime: timedelta = DEFAULT_LIFETIME,
        owner_of: str | None = None,
        tenant: str | None = None,
    ) -> tuple[ApiKey, str]:
        """Store a new key and return it with its plaintext, which is never stored.

        A key owns what it creates (SEC-6) unless it is made to act for another owner: the
        owner of the key `owner_of` names (a replacement, so a rotation keeps the caller's
        objects), or `tenant` (a tenant's integration, which otherwise could only reach the
        tenant's objects through the admin scope, which reaches every tenant's)."""
        name = name.strip()
        if not name or len(name) > NAME_MAX_LENGTH:
            raise InvalidApiKeyRequestError(f"The name must be 1 to {NAME_MAX_LENGTH} characters.")
        _refuse_unsafe_characters("name", name)
        chosen = sorted(set(scopes))
        invalid = [scope for scope in chosen if not SCOPE_PATTERN.fullmatch(scope)]
        if invalid:
            raise InvalidApiKeyRequestError(f"Not scope names: {', '.join(invalid)}.")
        unknown = [scope for scope in chosen if scope not in self._declared_scopes]
        if unknown:
            known = ", ".join(sorted(self._declared_scopes)) or "none"
            raise InvalidApiKeyRequestError(
                f"Not scopes of this service: {', '.join(unknown)} (its scopes: {known})."
            )
        if len(" ".join(chosen)) > SCOPES_MAX_LENGTH:
            raise InvalidApiKeyRequestError("Too many scopes for one key.")
        if not timedelta(0) < lifetime <= MAX_LIFETIME:
            raise _lifetime_error()
        owner = await self._owner(owner_of, tenant)
        new = generate_api_key()
        api_key = await self._repository.add(
            ApiKey(
                key_id=new.key_id,
                name=name,
                secret_hash=new.secret_hash,
                scopes=" ".join(chosen),
                expires_at=self._clock() + lifetime,
                owner=owner,
            )
        )
        await self._session.commit()
        return api_key, new.plaintext

    async def _owner(self, owner_of: str | None, tenant: str | None) -> str | None:
        """The owner a new key acts for; None for its own."""
        if owner_of is not None and tenant is not None:
            raise InvalidApiKeyRequestError("A key acts for another key's owner or a tenant.")
        if tenant is not None:
            if self._tenant_claim is None:
                # No user's owner is a tenant then: the key's objects would be nobody else's.
                raise InvalidApiKeyRequestError(
                    "Tenants need AUTH_JWT_TENANT_CLAIM; without it, owners are users and keys."
                )
            if not tenant.strip() or len(tenant) > MAX_IDENTITY_LENGTH:
                raise InvalidApiKeyRequestError(
                    f"A tenant is 1 to {MAX_IDENTITY_LENGTH} characters, as in tokens."
                )
            if tenant != tenant.strip():
                # Compared with a token's claim as it is: " acme" is no user's tenant.
                raise InvalidApiKeyRequestError("A tenant has no spaces around it.")
            _refuse_unsafe_characters("tenant", tenant)
            return f"{TENANT_OWNER_PREFIX}{tenant}"
        if owner_of is None:
            return None
        predecessor = await self._find(owner_of)
        return predecessor.owner or f"key:{predecessor.key_id}"

    async def _find(self, key_or_id: str) -> ApiKey:
        """A key by its id, or by the whole key; revoked and expired keys too."""
        key_id = key_id_of(key_or_id) or key_or_id
        if not KEY_ID_PATTERN.fullmatch(key_id):
            # Not echoed: a key pasted with a character too many or too few is still a secret.
            raise InvalidApiKeyRequestError(
                "Not a key id (12 lowercase letters and digits, as `list` shows) nor a whole key."
            )
        api_key = await self._repository.find(key_id)
        if api_key is None:
            raise ApiKeyNotFoundError(key_id)
        return api_key

    async def revoke(self, key_or_id: str) -> ApiKey:
        """Revoke a key by its id, or by the whole key (what whoever found a leaked one holds)."""
        api_key = await self._find(key_or_id)
        if api_key.revoked_at is None:
            api_key.revoked_at = self._clock()
            await self._session.commit()
        return api_key

    async def list(self) -> Sequence[ApiKey]:
        return await self._repository.list_all()
