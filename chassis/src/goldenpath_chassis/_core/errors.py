"""One error format for every error (OBS-4): RFC 9457 problem details.

Domain code raises a `DomainError` subclass that carries its status and meaning; the handlers here
turn it, FastAPI's validation errors and Starlette's HTTP errors into `application/problem+json`.
Anything unexpected is caught by the request layer (`log_unhandled`), logged once with its request
ID, and answered with a bare 500 problem: no stack trace or internal detail ever reaches a client.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, ClassVar
from urllib.parse import quote

from fastapi import FastAPI, Request, params
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from .logging import get_logger

PROBLEM_MEDIA_TYPE = "application/problem+json"

_log = get_logger(__name__)


class InvalidParam(BaseModel):
    """One invalid part of a request, as in RFC 9457's `invalid-params` example."""

    loc: list[str | int] = Field(description="Where the problem is, e.g. ['body', 'name'].")
    msg: str
    type: str


class ProblemDetail(BaseModel):
    """An RFC 9457 problem details object."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "type": "about:blank",
                "title": "Not Found",
                "status": 404,
                "detail": "No item with id 0190c1b0-7dd1-7c1d-8000-000000000000.",
                "instance": "/v1/items/0190c1b0-7dd1-7c1d-8000-000000000000",
                "request_id": "5f0c6a0e4b0e4b5c9c1f0f6b7b3c2d1e",
            }
        }
    )

    type: str = Field("about:blank", description="A URI reference that identifies the problem.")
    title: str = Field(description="A short summary of the problem type.")
    status: int = Field(ge=400, le=599)
    detail: str | None = Field(None, description="What went wrong in this occurrence.")
    instance: str | None = Field(
        None, description="The request path, percent-encoded as a URI reference."
    )
    request_id: str | None = Field(None, description="Quote it when reporting a problem.")
    errors: list[InvalidParam] | None = Field(None, description="Each invalid request part.")


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE


class DomainError(Exception):
    """Base class for errors with a meaning for clients; subclasses set the class variables."""

    status: ClassVar[int] = HTTPStatus.BAD_REQUEST
    code: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad Request"
    headers: ClassVar[dict[str, str]] = {}

    def __init__(self, detail: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        # Per-occurrence headers (Retry-After, WWW-Authenticate) on top of the class's own.
        self.extra_headers = dict(headers or {})


def problem_type(code: str) -> str:
    """The `type` URI of a domain-specific problem."""
    return f"urn:problem-type:{code}"


def request_id_of(request_scope: Scope) -> str | None:
    state = request_scope.get("state") or {}
    value = state.get("request_id")
    return value if isinstance(value, str) else None


# RFC 3986 path characters: the rest is percent-encoded, so `instance` is a valid URI reference
# and markup or quotes in a requested path never come back as they were sent.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


def instance_of(scope: Scope) -> str | None:
    path = scope.get("path")
    return quote(path, safe=_PATH_SAFE) if isinstance(path, str) else None


def problem_response(
    *,
    status: int,
    scope: Scope,
    detail: str | None = None,
    type_: str = "about:blank",
    title: str | None = None,
    errors: list[InvalidParam] | None = None,
    headers: Mapping[str, str] | None = None,
) -> ProblemResponse:
    problem = ProblemDetail(
        type=type_,
        title=title or HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=instance_of(scope),
        request_id=request_id_of(scope),
        errors=errors,
    )
    return ProblemResponse(
        problem.model_dump(mode="json", exclude_none=True), status_code=status, headers=headers
    )


def domain_error_response(request: Request, error: DomainError) -> ProblemResponse:
    return problem_response(
        status=error.status,
        scope=request.scope,
        detail=error.detail,
        type_=problem_type(error.code),
        title=error.title,
        headers={**error.headers, **error.extra_headers} or None,
    )


async def _domain_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, DomainError)
    return domain_error_response(request, exc)


async def _http_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if exc.detail != HTTPStatus(exc.status_code).phrase else None
    headers = dict(exc.headers or {})
    if exc.status_code == HTTPStatus.METHOD_NOT_ALLOWED:
        from .openapi import allowed_methods  # noqa: PLC0415 - openapi imports this module

        documented = allowed_methods(request.app, request.url.path)
        if documented:
            headers["Allow"] = ", ".join(documented)
    return problem_response(
        status=exc.status_code, scope=request.scope, detail=detail, headers=headers or None
    )


def _invalid_params(errors: list[Any]) -> list[InvalidParam]:
    # Never echo the rejected input back: it may be large, or a secret sent in the wrong field.
    return [
        InvalidParam(loc=list(error.get("loc", ())), msg=error["msg"], type=error["type"])
        for error in errors
    ]


def _body_in_another_format(request: Request) -> bool:
    """Whether a JSON route was sent a body that does not say it is JSON.

    FastAPI parses a body as JSON only when its content type says JSON; anything else reaches
    validation as raw bytes and fails there. That failure is about the client's format, not
    its fields, so it is answered 415. Checked only once validation has failed: the happy path
    pays nothing.
    """
    body_field = getattr(request.scope.get("route"), "body_field", None)
    if body_field is None or isinstance(body_field.field_info, params.Form):
        return False
    content_type = request.headers.get("content-type")
    if content_type is None:
        return request.headers.get("content-length", "0") != "0" or (
            "transfer-encoding" in request.headers
        )
    media_type = content_type.partition(";")[0].strip().lower()
    return not (
        media_type == "application/json"
        or (media_type.startswith("application/") and media_type.endswith("+json"))
    )


async def _validation_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)
    if _body_in_another_format(request):
        # The content type is not echoed: like every rejected input, it may be anything.
        return problem_response(
            status=HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            scope=request.scope,
            detail="Send the body as application/json.",
            type_=problem_type("unsupported-media-type"),
        )
    return problem_response(
        status=HTTPStatus.UNPROCESSABLE_ENTITY,
        scope=request.scope,
        detail="The request is not valid; see `errors`.",
        type_=problem_type("validation-error"),
        errors=_invalid_params(list(exc.errors())),
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)


def log_unhandled(scope: Scope, url_path: str) -> None:
    """Log the exception being handled, once, with the request's method and its path as
    redacted (`path_redaction.py`), which the access log line reuses.

    Called by the request layer (`request_context.py`), inside everything but the request ID,
    which catches what nothing else handled. Starlette's own ServerErrorMiddleware would log
    the error and then re-raise it to the server, which logs it a second time with a traceback.
    """
    _log.exception(
        "unhandled_error",
        http_method=scope.get("method"),
        url_path=url_path,
    )


def unhandled_error_response(scope: Scope) -> ProblemResponse:
    """A bare 500 problem: no stack trace or internal detail ever reaches a client."""
    return problem_response(
        status=HTTPStatus.INTERNAL_SERVER_ERROR,
        scope=scope,
        detail="An unexpected error occurred; quote the request ID when reporting it.",
    )
