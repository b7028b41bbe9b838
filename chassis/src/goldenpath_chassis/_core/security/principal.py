"""Who is calling: the result of authentication, whatever the credential."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

AuthMethod = Literal["bearer", "api_key", "session"]
TENANT_OWNER_PREFIX = "tenant:"


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    scopes: frozenset[str]
    method: AuthMethod
    session_id: str | None = None
    # When the credential stops being valid (a token's `exp`, a session's end), if it says.
    expires_at: float | None = None
    # The tenant claim's value, when AUTH_JWT_TENANT_CLAIM is set and the credential carries one.
    tenant: str | None = None
    # An API key's owner when it is not the key itself: the owner of the key it replaced, or a
    # tenant's (`api-keys create --owner-of/--tenant`), so a rotation keeps the caller's objects.
    key_owner: str | None = None

    @property
    def owner(self) -> str:
        """Who owns what this principal creates (SEC-6): its tenant, else the user or the key.

        The prefixes keep the three kinds apart: no token's `sub` can pose as an API key's id.
        """
        if self.key_owner is not None:
            return self.key_owner
        if self.tenant is not None:
            return f"{TENANT_OWNER_PREFIX}{self.tenant}"
        kind = "key" if self.method == "api_key" else "user"
        return f"{kind}:{self.subject}"

    @property
    def rate_limit_key(self) -> str:
        """One bucket per user (bearer and session share it) or per API key."""
        kind = "key" if self.method == "api_key" else "user"
        return f"{kind}:{self.subject}"

    def missing(self, required: Sequence[str]) -> list[str]:
        return [scope for scope in required if scope not in self.scopes]
