"""API models for sessions and the caller's identity."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class PrincipalRead(BaseModel):
    subject: str = Field(description="The user (token `sub`) or the API key's id.")
    scopes: list[str]
    method: Literal["bearer", "api_key", "session"]


class SessionRead(BaseModel):
    subject: str
    scopes: list[str]
    expires_at: datetime
    csrf_token: str = Field(
        description="Send it back as the `X-CSRF-Token` header on every POST, PUT, PATCH and "
        "DELETE; it is also in the `__Host-csrf` cookie."
    )
