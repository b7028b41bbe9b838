"""A test-only domain of the example service: authenticated routes that always fail.

`GET /v1/test/fail` authenticates the caller, then raises an unexpected error with the request
and its principal in its frame, as a bug deep in a route would: the logging tests check that
the traceback reaches the log without a single secret of the request (tests/process).
`GET /v1/test/fail/downstream` calls the URL in `EXAMPLE_DOWNSTREAM_URL` (a downstream service
the test started, which answers 404) and lets httpx's `HTTPStatusError` escape: its message
holds that URL, credentials in its query string and all. Out of the API document, and only in
the processes those tests start.

`python -m tests.example fail-downstream URL [--in-thread]` lets the same error escape a
command, in its main thread or in another, for the tests of what Python's last resort (an
uncaught exception) leaves in the process's output.
"""

from __future__ import annotations

import argparse
import os
import threading
from typing import TYPE_CHECKING

import httpx
from fastapi import APIRouter, Request

from goldenpath_chassis import Domain
from goldenpath_chassis.security import CurrentPrincipal
from goldenpath_chassis.web import resources_of

if TYPE_CHECKING:
    from goldenpath_chassis import ChassisSettings, Service
    from goldenpath_chassis._core.domain import Subcommands

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


def _call_downstream(url: str) -> None:
    httpx.get(url, timeout=10).raise_for_status()


def _fail_downstream(args: argparse.Namespace, settings: ChassisSettings) -> int:
    if args.in_thread:
        thread = threading.Thread(target=_call_downstream, args=(args.url,), name="downstream")
        thread.start()
        thread.join()
        return 0  # the thread's failure does not end the process
    _call_downstream(args.url)
    return 0


def register_fail_command(commands: Subcommands, service: Service) -> None:
    command = commands.add_parser("fail-downstream", help="test only: let a downstream 404 escape")
    command.add_argument("url")
    command.add_argument("--in-thread", action="store_true")
    command.set_defaults(handler=_fail_downstream)


DOMAIN = Domain(name="failing", routers=(router,), commands=(register_fail_command,))
