"""A test-only domain of the example service: authenticated routes that always fail.

`GET /v1/test/fail` authenticates the caller, then raises an unexpected error with the request
and its principal in its frame, as a bug deep in a route would: the logging tests check that
the traceback reaches the log without a single secret of the request (tests/process).
`GET /v1/test/fail/downstream` calls the URL in `EXAMPLE_DOWNSTREAM_URL` (a downstream service
the test started, which answers 404) and lets httpx's `HTTPStatusError` escape: its message
holds that URL, credentials in its query string and all. Out of the API document, and only in
the processes those tests start.

`python -m tests.example fail-downstream URL --where main|thread|finalizer|atexit|warning` lets
the same error escape a command's main thread, another thread, a finalizer or an exit handler
(or warns, naming the URL), for the tests of what Python's own reports leave in the process's
output.
"""

from __future__ import annotations

import argparse
import atexit
import functools
import os
import threading
import warnings
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


class _CallsDownstreamWhenCollected:
    def __init__(self, url: str) -> None:
        self.url = url

    def __del__(self) -> None:
        _call_downstream(self.url)


def _fail_downstream(args: argparse.Namespace, settings: ChassisSettings) -> int:
    """Let the downstream's error (or a warning naming its URL) reach Python's last resort."""
    if args.where == "thread":
        thread = threading.Thread(target=_call_downstream, args=(args.url,), name="downstream")
        thread.start()
        thread.join()
    elif args.where == "finalizer":
        finalized = _CallsDownstreamWhenCollected(args.url)
        del finalized  # its __del__ raises: Python cannot raise it, only report it
    elif args.where == "atexit":
        # Python names the handler in its report's message: the URL is in the partial's repr.
        atexit.register(functools.partial(_call_downstream, args.url))
    elif args.where == "warning":
        warnings.warn(f"downstream {args.url} is slow", RuntimeWarning, stacklevel=1)
    else:
        _call_downstream(args.url)
    return 0  # reached unless the main thread failed


def register_fail_command(commands: Subcommands, service: Service) -> None:
    command = commands.add_parser("fail-downstream", help="test only: let a downstream 404 escape")
    command.add_argument("url")
    command.add_argument(
        "--where", choices=("main", "thread", "finalizer", "atexit", "warning"), default="main"
    )
    command.set_defaults(handler=_fail_downstream)


DOMAIN = Domain(name="failing", routers=(router,), commands=(register_fail_command,))
