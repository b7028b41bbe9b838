"""OBS-3/SEC-2: the logs of a failing request hold none of the secrets it carried.

The service runs as a real process writing JSON logs. A browser session is opened, then two
requests fail while carrying every credential there is: a cookie write with an unparseable
`Origin` (once a 500 whose traceback rendered each frame's local variables: the CSRF token,
the session id, the cookie and every header), and a route that raises an unexpected error. The
whole log is then searched for each secret, and for the head of each.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import httpx
import pytest

from goldenpath_chassis._core.security.session import b64decode
from goldenpath_chassis.testing.auth import TokenFactory, bearer
from goldenpath_chassis.testing.loopback_http import loopback_http_server
from goldenpath_chassis.testing.processes import ServiceProcess

from tests.example.service import SERVICE
from tests.support.example_process import EXAMPLE_COMMAND, development_env, importable
from tests.support.not_found import ACCESS_TOKEN, NotFound, url_with_token
from tests.support.pipes import pipe_nobody_reads

pytestmark = pytest.mark.process

HEAD = 16  # characters: a secret's first few are a secret too


def log_lines(process: ServiceProcess) -> list[dict[str, Any]]:
    return [json.loads(line) for line in process.output().splitlines() if line.startswith("{")]


def frames_of(exception: object) -> Iterator[dict[str, Any]]:
    for link in exception if isinstance(exception, list) else []:
        yield from link.get("frames", [])


def test_obs3_the_logs_of_failing_requests_hold_none_of_their_secrets(
    live: ServiceProcess, tokens: TokenFactory
) -> None:
    token = tokens(*SERVICE.scopes, subject="alice")
    with httpx.Client(base_url=live.base_url, timeout=10) as http:
        opened = http.post("/v1/auth/session", headers=bearer(token))
        assert opened.status_code == 201, opened.text
        # The test talks plain HTTP, where a client keeps no Secure cookie: read them by hand.
        cookies = SimpleCookie()
        for header in opened.headers.get_list("set-cookie"):
            cookies.load(header)
        session_cookie = cookies["__Host-session"].value
        csrf_token = opened.json()["csrf_token"]
        cookie = f"__Host-session={session_cookie}; __Host-csrf={csrf_token}"
        session_id = json.loads(b64decode(session_cookie.rpartition(".")[0]))["sid"]

        malformed_origin = http.post(
            "/v1/widgets",
            json={"name": "csrf"},
            headers={"Cookie": cookie, "X-CSRF-Token": csrf_token, "Origin": "http://["},
        )

        failing = http.get(
            "/v1/test/fail",
            headers={**bearer(token), "Cookie": cookie, "X-CSRF-Token": csrf_token},
        )
    live.stop()

    output = live.output()
    secrets = {
        "bearer token": token,
        "bearer token's signature": token.rpartition(".")[2],
        "session cookie": session_cookie,
        "session cookie's signature": session_cookie.rpartition(".")[2],
        "session id": session_id,
        "CSRF token": csrf_token,
        "CSRF token's MAC": csrf_token.rpartition(".")[2],
    }
    for name, value in secrets.items():
        assert value not in output, f"the {name} is in the log"
        assert value[:HEAD] not in output, f"the head of the {name} is in the log"
        assert value[-HEAD:] not in output, f"the tail of the {name} is in the log"

    # An unparseable Origin is another origin; the failing route is the one 500.
    assert malformed_origin.status_code == 403, malformed_origin.text
    assert malformed_origin.json()["type"] == "urn:problem-type:csrf-rejected"
    assert failing.status_code == 500
    lines = log_lines(live)
    unhandled = [line for line in lines if line.get("event") == "unhandled_error"]
    assert len(unhandled) == 1, unhandled
    # The traceback is there, to debug from; the frames' variables are not.
    frames = list(frames_of(unhandled[0].get("exception")))
    assert any(frame.get("name") == "fail" for frame in frames), unhandled[0]
    assert all("locals" not in frame for frame in frames), frames[-1]
    assert "DeliberateFailureError" in json.dumps(unhandled[0])


TRACEBACK_SCRIPT = textwrap.dedent(
    """
    import logging, sys

    from goldenpath_chassis._core.logging import configure_logging, get_logger

    configure_logging(level="INFO", fmt=sys.argv[1])


    def handle(cookie):
        session_secret = "local-" + cookie
        raise ValueError("a failure whose message is safe")


    for log in (get_logger("ours").exception, logging.getLogger("library").exception):
        try:
            handle(sys.argv[2])  # from outside: the source lines printed hold no secret
        except ValueError:
            log("request_failed")
    """
)


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_obs3_tracebacks_are_logged_without_frame_locals(fmt: str) -> None:
    """Our own lines and libraries' (through the standard library) alike, in both formats."""
    completed = subprocess.run(
        [sys.executable, "-c", TRACEBACK_SCRIPT, fmt, "the-cookie-value-in-a-frame"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    output = completed.stdout + completed.stderr
    assert output.count("a failure whose message is safe") >= 2, output  # both tracebacks
    assert "handle" in output  # the frames are named
    assert "the-cookie-value-in-a-frame" not in output
    assert "local-" not in output


URL_ERROR_SCRIPT = textwrap.dedent(
    """
    import logging, sys

    import httpx

    from goldenpath_chassis._core.logging import configure_logging, get_logger

    configure_logging(level="INFO", fmt=sys.argv[1])

    for log in (get_logger("ours").exception, logging.getLogger("library").exception):
        try:
            httpx.get(sys.argv[2]).raise_for_status()  # httpx logs the request, then it raises
        except httpx.HTTPStatusError:
            log("downstream_failed")
    """
)


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_obs3_a_credential_in_a_url_reaches_no_log_line(fmt: str) -> None:
    """httpx's error names the URL it called, and httpx logs each request's URL: in both formats,
    our own lines and libraries' alike, the URL is logged with its credential redacted."""
    with loopback_http_server(NotFound) as downstream:
        url, redacted = url_with_token(downstream)
        completed = subprocess.run(
            [sys.executable, "-c", URL_ERROR_SCRIPT, fmt, url],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    output = completed.stdout + completed.stderr
    assert ACCESS_TOKEN not in output
    assert output.count(f"for url '{redacted}'") == 2, output  # both tracebacks
    assert output.count(f"HTTP Request: GET {redacted} ") == 2, output  # httpx's own lines


# Where the error escapes, the exit status, and the line it becomes.
PYTHON_REPORTS = {
    "main": (1, "uncaught_exception", "critical"),
    "thread": (0, "uncaught_exception_in_thread", "critical"),
    "finalizer": (0, "unraisable_exception", "error"),
    "atexit": (0, "unraisable_exception", "error"),
}


@pytest.mark.parametrize("fmt", ["json", "console"])
@pytest.mark.parametrize("where", [*PYTHON_REPORTS, "warning"])
def test_obs3_what_python_reports_itself_is_one_log_line_without_its_credential(
    fmt: str, where: str, tmp_path: Path
) -> None:
    """An exception nothing caught (in a command's main thread, another thread, a finalizer,
    an exit handler) and a warning are logged in the command's format, a URL's credential
    redacted, not printed by Python as bare lines; only the main thread's failure ends the
    process with 1."""
    with loopback_http_server(NotFound) as downstream:
        url, redacted = url_with_token(downstream)
        completed = subprocess.run(
            [sys.executable, *EXAMPLE_COMMAND, "fail-downstream", url, "--where", where],
            env=development_env() | {"LOG_FORMAT": fmt},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    output = completed.stdout + completed.stderr
    status, event, level = PYTHON_REPORTS.get(where, (0, "", "warning"))
    assert completed.returncode == status, output
    assert ACCESS_TOKEN not in output
    assert redacted in output, output
    if fmt == "console":
        assert event in output, output
        return
    lines = [json.loads(line) for line in completed.stderr.splitlines()]  # JSON, every one
    if where == "warning":
        (reported,) = [line for line in lines if line.get("logger") == "py.warnings"]
        assert "RuntimeWarning" in reported["event"]
    else:
        (reported,) = [line for line in lines if line["event"] == event]
        assert f"for url '{redacted}'" in json.dumps(reported["exception"])
        assert "HTTPStatusError" in json.dumps(reported["exception"])
        if where == "atexit":  # Python names the handler in its message, and no object
            assert reported["message"].startswith("Exception ignored in atexit callback")
            assert reported["object"] is None
    assert reported["level"] == level


# A process logging to stdout (as `serve` does) whose reports fail or escape where `argv[2]`
# says, or that logs a library's line or a warning, naming the URL in `argv[3]`. Its stdout
# is a pipe nobody reads; with `argv[4]` "pipeline", the log's processors fail before that.
UNWRITABLE_LOG_SCRIPT = textwrap.dedent(
    """
    import logging, sys, threading, warnings

    from goldenpath_chassis._core.logging import add_processor, configure_logging
    from goldenpath_chassis._core.python_reports import log_python_reports


    def broken(logger, method, event):
        raise RuntimeError("the log pipeline failed")


    if sys.argv[4] == "pipeline":
        add_processor(broken)
    configure_logging(level="INFO", fmt=sys.argv[1], stream=sys.stdout)
    log_python_reports()


    def fail():
        raise RuntimeError(f"could not reach {sys.argv[3]}")


    class FailsWhenCollected:
        def __del__(self):
            fail()


    if sys.argv[2] == "library":  # as httpx logs every request
        logging.getLogger("httpx").info("HTTP Request: %s %s", "GET", sys.argv[3])
    elif sys.argv[2] == "arguments":  # one argument short of its message
        logging.getLogger("httpx").info("HTTP Request: %s %s", sys.argv[3])
    elif sys.argv[2] == "warning":
        warnings.warn(f"slow answer from {sys.argv[3]}", RuntimeWarning, stacklevel=1)
    elif sys.argv[2] == "thread":
        thread = threading.Thread(target=fail, name="downstream")
        thread.start()
        thread.join()
    elif sys.argv[2] == "finalizer":
        collected = FailsWhenCollected()
        del collected
    else:
        fail()
    """
)


UNWRITABLE_URL = f"http://127.0.0.1:9/v1/things?access_token={ACCESS_TOKEN}"
REDACTED_URL = "http://127.0.0.1:9/v1/things?access_token=REDACTED"


def run_with_unwritable_log(
    fmt: str, where: str, failing: str = "stdout"
) -> subprocess.CompletedProcess[str]:
    with pipe_nobody_reads() as stdout:
        return subprocess.run(
            [sys.executable, "-c", UNWRITABLE_LOG_SCRIPT, fmt, where, UNWRITABLE_URL, failing],
            env=importable() | {"PYTHONUNBUFFERED": "1"},  # as the service's image runs
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )


@pytest.mark.parametrize("fmt", ["json", "console"])
@pytest.mark.parametrize("where", ["main", "thread", "finalizer"])
@pytest.mark.parametrize("failing", ["stdout", "pipeline"])
def test_obs3_a_report_python_could_not_log_reaches_stderr_without_its_credential(
    fmt: str, where: str, failing: str
) -> None:
    """When its log line cannot be written, or the log fails before that, Python would print
    the hook's failure and then the report raw, the URL's credential with it: the report goes
    to stderr redacted instead, after a line saying the log failed."""
    completed = run_with_unwritable_log(fmt, where, failing)
    stderr = completed.stderr
    event = {"main": "uncaught_exception", "thread": "uncaught_exception_in_thread"}.get(
        where, "unraisable_exception"
    )
    assert completed.returncode == (1 if where == "main" else 0), stderr
    assert ACCESS_TOKEN not in stderr
    if failing == "stdout":  # the rendered line, where it could be written
        assert stderr.startswith("log line could not be written (BrokenPipeError: "), stderr
        assert event in stderr
        assert f"could not reach {REDACTED_URL}" in stderr
    else:  # the report itself, as Python would have printed it
        headline = f"{event} could not be logged (RuntimeError: the log pipeline failed):"
        assert stderr.startswith(headline), stderr
        assert f"RuntimeError: could not reach {REDACTED_URL}\n" in stderr
    assert "Error in sys.excepthook" not in stderr, stderr  # Python's words when a hook fails
    assert "Exception in threading.excepthook" not in stderr, stderr
    assert "Exception ignored in sys.unraisablehook" not in stderr, stderr
    if where == "thread":
        assert "downstream" in stderr


@pytest.mark.parametrize("fmt", ["json", "console"])
@pytest.mark.parametrize(
    ("where", "failure", "message"),
    [
        ("library", "BrokenPipeError", f"message: HTTP Request: GET {REDACTED_URL}\n"),
        ("warning", "BrokenPipeError", f"slow answer from {REDACTED_URL}"),
        ("arguments", "TypeError", f"arguments: ('{REDACTED_URL}',)\n"),
    ],
    ids=["library", "warning", "arguments"],
)
def test_obs3_a_library_line_that_cannot_be_written_reaches_stderr_without_its_credential(
    fmt: str, where: str, failure: str, message: str
) -> None:
    """A standard-library record (a library's line, a warning) whose line cannot be written,
    or whose arguments do not fit its message, is reported on stderr redacted: the standard
    library would print its message and arguments raw."""
    completed = run_with_unwritable_log(fmt, where)
    stderr = completed.stderr
    assert completed.returncode == 0, stderr
    assert ACCESS_TOKEN not in stderr
    assert stderr.startswith(f"log line could not be written ({failure}: "), stderr
    assert message in stderr, stderr
    assert "--- Logging error ---" not in stderr, stderr  # the standard library's report
