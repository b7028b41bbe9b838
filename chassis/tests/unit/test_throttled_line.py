"""The line behind the flood warnings (`rate_limit_storage_unavailable`, `requests_shed`): its
fixed fields, text or number, on every line beside the count and the latest event's fields."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from goldenpath_chassis._core.logging import get_logger
from goldenpath_chassis._core.throttled_line import ThrottledLine

pytestmark = pytest.mark.unit


def test_obs2_fixed_text_and_number_fields_are_on_every_line() -> None:
    line = ThrottledLine(
        get_logger(__name__),
        "rate_limit_storage_unavailable",
        count_name="requests",
        layer="ip",
        cooldown_seconds=2.0,
    )
    with capture_logs() as logs:
        line.add(error="ConnectionError")  # said at once
        line.add(error="TimeoutError")
        line.add(error="TimeoutError")
        line.say_rest()  # at shutdown: the two not said yet, with the latest error
    fixed = {
        "log_level": "warning",
        "event": "rate_limit_storage_unavailable",
        "layer": "ip",
        "cooldown_seconds": 2.0,
    }
    assert logs == [
        {**fixed, "error": "ConnectionError", "requests": 1},
        {**fixed, "error": "TimeoutError", "requests": 2},
    ]
