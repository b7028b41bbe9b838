"""The count behind `spans_dropped` and `span_export_failed`: a few lines an outage, none lost."""

from __future__ import annotations

import pytest

from goldenpath_chassis._core.throttled_count import ThrottledCount

pytestmark = pytest.mark.unit


def test_obs2_the_first_event_is_said_at_once_and_the_next_ones_a_minute_later_summed() -> None:
    now = [0.0]
    count = ThrottledCount(60, clock=lambda: now[0])
    assert count.add() == 1
    assert [count.add() for _ in range(5)] == [0] * 5
    now[0] = 59.9
    assert count.add() == 0
    now[0] = 60.0
    assert count.add() == 7  # the six unsaid and this one
    assert count.add(3) == 0
    assert count.rest() == 3  # at shutdown
    assert count.rest() == 0
