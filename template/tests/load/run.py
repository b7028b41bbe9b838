"""TEST-2: run the load scenario headless and judge it: `uv run python -m tests.load.run`.

    uv run python -m tests.load.run --users 20 --duration 10s            # starts everything
    uv run python -m tests.load.run --users 50 --duration 2m --host https://staging.example.com \\
        --header "Authorization: Bearer $TOKEN"

Without `--host` it starts what the test suite starts: a fresh, migrated database of the
project's kind (`--database-url`, or a private PostgreSQL from the local binaries or in
TEST_DATABASE_URL's server, or a SQLite file) and the service as a real process on loopback.
Unless `--header` gives credentials, that service trusts a key pair made for the run, and every
request carries a bearer token with every scope (SEC-3: no route is open by default).
Locust runs in a subprocess of its own: it monkey-patches the standard library with gevent,
which must never happen to the process that runs the service's tests.

Prints requests per second, p50/p95/p99 and the error rate, overall and per request, and exits
0 when the run is within every threshold of `tests/load/thresholds.toml`, 1 when it went over one,
2 when the run itself could not be made.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from tests.load.report import (
    AGGREGATE,
    RequestStats,
    as_json,
    evaluate,
    load_thresholds,
    read_failures,
    read_stats,
)
from tests.support.live import SERVICE_COMMAND, ServiceCredentials, service_environment
from tests.support.processes import ServiceProcess, free_port, start_service

HERE = Path(__file__).parent
LOCUSTFILE = HERE / "locustfile.py"
THRESHOLDS = HERE / "thresholds.toml"
EXIT_PASSED, EXIT_THRESHOLD_PASSED, EXIT_RUN_FAILED = 0, 1, 2
_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?$")


class LoadRunError(RuntimeError):
    """The load run could not be made (the service or Locust failed); not a verdict."""


def duration_seconds(text: str) -> int:
    """Locust's run-time notation ("90", "45s", "2m", "1h30m") in seconds."""
    match = _DURATION.fullmatch(text.strip())
    if not text.strip() or match is None:
        raise ValueError(f"{text!r} is not a duration like 30s, 2m or 1h30m")
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return hours * 3600 + minutes * 60 + seconds


@dataclass(frozen=True)
class LoadOptions:
    users: int = 20
    spawn_rate: float | None = None
    duration: str = "10s"
    host: str | None = None
    thresholds: Path = THRESHOLDS
    headers: Mapping[str, str] = field(default_factory=dict)
    database_url: str | None = None
    redis_url: str | None = None
    service_env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LoadResult:
    options: LoadOptions
    host: str
    stats: dict[str, RequestStats]
    violations: list[str]
    failures: list[str]

    @property
    def passed(self) -> bool:
        return not self.violations

    @property
    def aggregate(self) -> RequestStats:
        return self.stats[AGGREGATE]

    def lines(self) -> list[str]:
        heading = (
            f"{self.options.users} users for {self.options.duration} against {self.host}: "
            + (self.aggregate.summary() if AGGREGATE in self.stats else "no requests")
        )
        lines = [heading]
        lines += [f"  {name}: {row.summary()}" for name, row in self.stats.items()]
        lines += [f"  failure: {failure}" for failure in self.failures]
        verdict = "within every threshold" if self.passed else "FAILED, over a threshold"
        lines.append(f"  verdict: {verdict} ({self.options.thresholds.name})")
        lines += [f"    - {violation}" for violation in self.violations]
        return lines


@contextmanager
def _database(options: LoadOptions, work: Path) -> Iterator[str]:
    if options.database_url is not None:
        from tests.support.databases import migrate  # noqa: PLC0415 - imports the service

        migrate(options.database_url)
        yield options.database_url
        return
    from tests.support.databases import temporary_database  # noqa: PLC0415

    with temporary_database(work) as url:
        yield url


def _start_service(options: LoadOptions, database_url: str, work: Path) -> ServiceProcess:
    env = service_environment(
        database_url=database_url,
        redis_url=options.redis_url,
        credentials=ServiceCredentials(env=options.service_env),
    )
    # Not waited for: Locust imports while the service starts, and waits for it to answer.
    return start_service(
        SERVICE_COMMAND, env=env, port=free_port(), log_path=work / "service.log", wait_path=None
    )


def _run_locust(
    options: LoadOptions, host: str, work: Path, *, service: ServiceProcess | None
) -> Path:
    seconds = duration_seconds(options.duration)
    prefix = work / "locust"
    command = [
        sys.executable, "-m", "locust", "--locustfile", str(LOCUSTFILE), "--headless",
        "--users", str(options.users),
        "--spawn-rate", str(options.spawn_rate or options.users),
        "--run-time", f"{seconds}s", "--stop-timeout", "5",
        "--host", host, "--csv", str(prefix), "--only-summary",
        "--exit-code-on-error", "0", "--loglevel", "WARNING",
    ]  # fmt: skip
    env = os.environ | {"LOAD_HEADERS": json.dumps(dict(options.headers))}
    if service is not None:
        env["LOAD_WAIT_FOR"] = "/health/live"
    log = work / "locust.log"
    deadline = time.monotonic() + seconds + 180
    with log.open("wb") as output:
        # Locust reads settings from a pyproject.toml in its working directory: not ours.
        locust = subprocess.Popen(command, env=env, cwd=work, stdout=output, stderr=output)
        try:
            while locust.poll() is None:
                if service is not None and service.process.poll() is not None:
                    raise LoadRunError(f"the service exited:\n{service.output()[-3000:]}")
                if time.monotonic() > deadline:
                    raise LoadRunError("locust ran three minutes past its run time")
                time.sleep(0.2)
        finally:
            if locust.poll() is None:
                locust.kill()
                locust.wait()
    stats = prefix.with_name(prefix.name + "_stats.csv")
    if locust.returncode != 0 or not stats.exists():
        tail = log.read_text(errors="replace")[-3000:]
        raise LoadRunError(f"locust exited with {locust.returncode}:\n{tail}")
    return prefix


def _with_run_credentials(options: LoadOptions) -> LoadOptions:
    """The started service's credentials, unless the command line gave some."""
    if options.headers:
        return options
    from tests.support.auth import fresh_service_credentials  # noqa: PLC0415 - imports the service

    # Valid for the whole run, however long Locust and the service take to start.
    ttl_seconds = duration_seconds(options.duration) + 900
    credentials = fresh_service_credentials(ttl_seconds=ttl_seconds)
    return replace(
        options,
        headers=credentials.headers,
        service_env={**credentials.env, **options.service_env},
    )


def run_load(options: LoadOptions) -> LoadResult:
    thresholds = load_thresholds(options.thresholds)
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="load-")))
        service = None
        host = (options.host or "").rstrip("/")
        if options.host is None:
            options = _with_run_credentials(options)
            try:
                database_url = stack.enter_context(_database(options, work))
            except RuntimeError as error:  # no database server to start
                raise LoadRunError(str(error)) from error
            service = _start_service(options, database_url, work)
            stack.callback(service.stop)
            host = service.base_url
        prefix = _run_locust(options, host, work, service=service)
        stats = read_stats(prefix.with_name(prefix.name + "_stats.csv"))
        failures = read_failures(prefix.with_name(prefix.name + "_failures.csv"))
    return LoadResult(options, host, stats, evaluate(stats, thresholds), failures)


def _header(text: str) -> tuple[str, str]:
    name, separator, value = text.partition(":")
    if not separator or not name.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not 'Name: value'")
    return name.strip(), value.strip()


def _setting(text: str) -> tuple[str, str]:
    name, separator, value = text.partition("=")
    if not separator or not name.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE")
    return name.strip(), value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tests.load.run",
        description="Run the Locust scenario headless and fail on the thresholds (TEST-2).",
    )
    parser.add_argument("--users", type=int, default=20, help="simulated users (default 20)")
    parser.add_argument("--spawn-rate", type=float, help="users started per second (all at once)")
    parser.add_argument("--duration", default="10s", help="how long, e.g. 30s, 2m (default 10s)")
    parser.add_argument("--host", help="load this URL instead of starting the service")
    parser.add_argument("--thresholds", type=Path, default=THRESHOLDS, help="thresholds file")
    parser.add_argument(
        "--header", type=_header, action="append", default=[], help="'Name: value' on requests"
    )
    parser.add_argument("--database-url", help="migrate and use this database (no --host)")
    parser.add_argument("--redis-url", help="give the started service this Redis (no --host)")
    parser.add_argument(
        "--env",
        type=_setting,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for the started service",
    )
    parser.add_argument("--report", type=Path, help="also write the figures to this JSON file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        duration_seconds(args.duration)
    except ValueError as error:
        print(f"load: {error}", file=sys.stderr)
        return EXIT_RUN_FAILED
    options = LoadOptions(
        users=args.users,
        spawn_rate=args.spawn_rate,
        duration=args.duration,
        host=args.host,
        thresholds=args.thresholds,
        headers=dict(args.header),
        database_url=args.database_url,
        redis_url=args.redis_url,
        service_env=dict(args.env),
    )
    try:
        result = run_load(options)
    except LoadRunError as error:
        print(f"load: the run failed: {error}", file=sys.stderr)
        return EXIT_RUN_FAILED
    print("\n".join(result.lines()))
    if args.report is not None:
        report = {
            "host": result.host,
            "users": options.users,
            "duration": options.duration,
            "passed": result.passed,
            "violations": result.violations,
            "failures": result.failures,
            "stats": as_json(result.stats),
        }
        args.report.write_text(json.dumps(report, indent=2))
    return EXIT_PASSED if result.passed else EXIT_THRESHOLD_PASSED


if __name__ == "__main__":
    raise SystemExit(main())
