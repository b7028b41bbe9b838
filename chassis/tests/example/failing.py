"""A test-only domain of the example service: one authenticated route that always fails.

`GET /v1/test/fail` authenticates the caller, then raises an unexpected error with the request
and its principal in its frame, as a bug deep in a route would: the logging tests check that
the traceback reaches the log without a single secret of the request (tests/process). Out of
the API document, and only in the processes those tests start.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from goldenpath_chassis import Domain
from goldenpath_chassis.security import CurrentPrincipal

router = APIRouter(prefix="/v1/test/fail", include_in_schema=False)


class DeliberateFailureError(RuntimeError):
    """The error the route raises; its message holds nothing secret."""


@router.get("")
async def fail(request: Request, principal: CurrentPrincipal) -> None:
    credentials = dict(request.headers)  # a local a careless renderer would print
    raise DeliberateFailureError(f"failing on purpose ({len(credentials)} headers)")


DOMAIN = Domain(name="failing", routers=(router,))
