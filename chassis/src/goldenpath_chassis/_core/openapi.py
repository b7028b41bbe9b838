"""The OpenAPI document (API-2), corrected to say what the service really sends.

FastAPI documents validation errors with its own `HTTPValidationError` schema as
`application/json`; this service answers every error with a problem document (OBS-4). The
document is rewritten once, when first requested, so that clients and contract tests see
`application/problem+json` with the `ProblemDetail` schema for every error response.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from .errors import PROBLEM_MEDIA_TYPE, ProblemDetail
from .security.authentication import document_credential_schemes

_PROBLEM_REF = {"$ref": "#/components/schemas/ProblemDetail"}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries documenting problem responses, for route decorators."""
    return {status: {"model": ProblemDetail} for status in statuses}


# Errors any operation with a request body can answer, before its own code runs.
_BODY_ERRORS = {"400": "The request body could not be read (for example, it is not UTF-8)."}


def _rewrite_error_responses(document: dict[str, Any]) -> None:
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            if "requestBody" in operation:
                for status, description in _BODY_ERRORS.items():
                    responses.setdefault(status, {"description": description})
            for status, response in responses.items():
                if not str(status).startswith(("4", "5")):
                    continue
                content = response.setdefault("content", {})
                schema = content.get("application/json", {}).get("schema")
                # Errors are problems, except where a route documents its own body (readiness).
                if schema is None or schema == _PROBLEM_REF or "HTTPValidationError" in str(schema):
                    content.pop("application/json", None)
                    content[PROBLEM_MEDIA_TYPE] = {"schema": _PROBLEM_REF}

    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    if "ProblemDetail" not in schemas:
        schema = ProblemDetail.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas["ProblemDetail"] = schema


# What the security layers (SEC-1, SEC-3, SEC-4) may answer, documented on the operations they
# guard, so clients and contract tests know every status an operation can return.
_GUARD_RESPONSES = {
    "401": "Missing or invalid credentials (see `WWW-Authenticate`).",
    "403": "A required scope is missing, or a cookie-authenticated request failed the CSRF check.",
    "429": "Too many requests; retry after `Retry-After` seconds.",
}
_BODY_TOO_LARGE = "The request body is larger than the configured limit."


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_MEDIA_TYPE: {"schema": _PROBLEM_REF}}}


def _document_guard_responses(document: dict[str, Any]) -> None:
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            if operation.get("security"):
                for status, description in _GUARD_RESPONSES.items():
                    responses.setdefault(status, _problem(description))
            if "requestBody" in operation:
                responses.setdefault("413", _problem(_BODY_TOO_LARGE))


@cache
def _template_pattern(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$")


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every documented method of the resource at `path`, for a 405's `Allow` header.

    Starlette lists only the methods of the first route that matched the path; a resource
    served by several routes (GET and POST on /v1/items) needs all of them.
    """
    methods: set[str] = set()
    for template, operations in app.openapi().get("paths", {}).items():
        if _template_pattern(template).match(path):
            methods.update(method.upper() for method in operations)
    return sorted(methods)


def _document_unsupported_media_type(document: dict[str, Any]) -> None:
    """Operations with a JSON body also answer 415 (core/errors.py): say so."""
    problem = _problem("The body is not sent as application/json.")
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            if isinstance(operation, dict) and "requestBody" in operation:
                operation.setdefault("responses", {}).setdefault("415", problem)


def install_openapi(app: FastAPI, *, package: str) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
                servers=app.servers,
            )
            _rewrite_error_responses(document)
            _document_unsupported_media_type(document)
            document_credential_schemes(document, package=package)
            _document_guard_responses(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
