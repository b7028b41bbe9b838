"""A test-only domain of the example service: authenticated routes that always fail.

`GET /v1/test/fail` authenticates the caller, then raises an unexpected error with the request
and its principal in its frame, as a bug deep in a route would: the logging tests check that
the traceback reaches the log without a single secret of the request (tests/process).
`GET /v1/test/fail/downstream` calls the URL in `EXAMPLE_DOWNSTREAM_URL` (a downstream service
the test started, which answers 404) and lets httpx's `HTTPStatusError` escape: its message
holds that URL, credentials in its query string and all. Out of the API document, and only in
the processes those tests start.
"""

from __future__ import annotations

import os

from fastapi import APIRouter, Request

from goldenpath_chassis import Domain
from goldenpath_chassis.security import CurrentPrincipal
from goldenpath_chassis.web import resources_of

router = APIRouter(prefix="/v1/test/fail", include_in_schema=False)


class DeliberateFailureError(RuntimeError):
    """The error the route raises; its message holds nothing secret."""


@router.get("")
async def fail(request: Request, principal: CurrentPrincipal) -> None:
    credentials = dict(request.headers)  # a local a careless renderer would print
    raise DeliberateFailureError(f"failing on purpose ({len(credentials)} headers)")


@router.get("/downstream")
async def fail_downstream(request: Request, principal: CurrentPrincipal) -> None:
    url = os.environ["EXAMPLE_DOWNSTREAM_URL"]
    response = await resources_of(request).http.request("GET", url, dependency="downstream")
    response.raise_for_status()


DOMAIN = Domain(name="failing", routers=(router,))
