"""What can go wrong when managing API keys, in domain terms."""

from __future__ import annotations

from http import HTTPStatus

from ..errors import DomainError


class ApiKeyNotFoundError(DomainError):
    status = HTTPStatus.NOT_FOUND
    code = "api-key-not-found"
    title = "API key not found"

    def __init__(self, key_id: str) -> None:
        super().__init__(f"No API key with id {key_id!r}.")


class InvalidApiKeyRequestError(DomainError):
    status = HTTPStatus.UNPROCESSABLE_ENTITY
    code = "invalid-api-key-request"
    title = "Invalid API key request"
