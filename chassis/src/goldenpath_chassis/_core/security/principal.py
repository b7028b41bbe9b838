"""Who is calling: the result of authentication, whatever the credential."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

AuthMethod = Literal["bearer", "api_key", "session"]


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    scopes: frozenset[str]
    method: AuthMethod
    session_id: str | None = None
    # When the credential stops being valid (a token's `exp`, a session's end), if it says.
    expires_at: float | None = None

    @property
    def rate_limit_key(self) -> str:
        """One bucket per user (bearer and session share it) or per API key."""
        kind = "key" if self.method == "api_key" else "user"
        return f"{kind}:{self.subject}"

    def missing(self, required: Sequence[str]) -> list[str]:
        return [scope for scope in required if scope not in self.scopes]
