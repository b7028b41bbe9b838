"""A failure that repeats at each try is said at once, then once a minute while it lasts, with
its type and its message (a URL's credentials redacted); its end once."""

from __future__ import annotations

from structlog.testing import capture_logs

from goldenpath_chassis._core.logging import get_logger
from goldenpath_chassis._core.repeated_failure_line import RepeatedFailureLine


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_lasting_failure_is_said_once_a_minute_with_its_message_redacted() -> None:
    clock = Clock()
    line = RepeatedFailureLine(
        get_logger(__name__), "job_claim_failed", recovered_event="job_claim_recovered", clock=clock
    )
    error = ConnectionRefusedError("cannot reach postgresql://app:hunter2@db:5432/app")
    with capture_logs() as logs:
        for moment in (0.0, 1.0, 30.0, 59.0, 60.0, 61.0):
            clock.now = moment
            line.failed(error)
        line.succeeded()
        clock.now = 62.0
        line.failed(error)  # a new outage, said at once
    said = {
        "log_level": "warning",
        "event": "job_claim_failed",
        "error": "ConnectionRefusedError",
        "message": "cannot reach postgresql://REDACTED:REDACTED@db:5432/app",
    }
    assert logs == [
        {**said, "failures": 1},
        {**said, "failures": 4},  # 1 s, 30 s, 59 s and 60 s: a minute after the first
        {"log_level": "info", "event": "job_claim_recovered"},
        {**said, "failures": 1},
    ]
