"""`python -m <package> healthcheck`: is the service on this host alive? Exit 0 if so, else 1.

The image has no shell and no curl, so its HEALTHCHECK runs this instead. It asks
`/health/live` on loopback with the standard library only (it runs every few seconds: no app
import, no event loop) and never raises: any failure is exit code 1 and one line on stderr.
"""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request
from typing import TYPE_CHECKING

from .settings import ChassisSettings

if TYPE_CHECKING:
    from .domain import Subcommands

EXIT_HEALTHY = 0
EXIT_UNHEALTHY = 1
_WILDCARD_HOSTS = {"", "0.0.0.0", "::", "[::]"}  # noqa: S104 - names, not a bind


def probe_url(settings: ChassisSettings, path: str, *, worker: bool = False) -> str:
    """Where the local server answers (the worker's listener with `worker`): loopback when it
    listens on every interface."""
    host = "127.0.0.1" if settings.server.host in _WILDCARD_HOSTS else settings.server.host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    port = settings.worker.http_port if worker else settings.server.port
    return f"http://{host}:{port}{path}"


def check(url: str, *, timeout: float) -> tuple[bool, str]:
    """GET `url`; healthy only on HTTP 200. Returns the verdict and a one-line reason."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - http only
            status: int = response.status
    except urllib.error.HTTPError as error:
        return False, f"{url} answered {error.code}"
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        return False, f"{url} unreachable: {reason}"
    return status == 200, f"{url} answered {status}"


def _run(args: argparse.Namespace, settings: ChassisSettings) -> int:
    url = probe_url(settings, args.path, worker=args.worker)
    healthy, reason = check(url, timeout=args.timeout)
    if not healthy:
        print(f"unhealthy: {reason}", file=sys.stderr)
        return EXIT_UNHEALTHY
    return EXIT_HEALTHY


def register(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "healthcheck", help="exit 0 if the local server's liveness endpoint answers 200, else 1"
    )
    parser.add_argument("--path", default="/health/live", help="default: %(default)s")
    parser.add_argument(
        "--timeout", type=float, default=3.0, help="seconds to wait (default: %(default)s)"
    )
    parser.add_argument(
        "--worker",
        action="store_true",
        help="probe the job worker's listener (WORKER_HTTP_PORT) instead of the API",
    )
    parser.set_defaults(handler=_run)
