"""The window's trial when no outcome ever reaches it (a path of redis-py's the connection class
does not see): the other commands are held back for `trial_seconds`, not for good."""

from __future__ import annotations

import pytest

from goldenpath_chassis._core.redis_unanswered import RedisUnansweredError, UnansweredWindow


def test_a_trial_never_resolved_stops_holding_back_the_others() -> None:
    now = [0.0]
    window = UnansweredWindow(seconds=1.0, trial_seconds=30.0, clock=lambda: now[0])
    lost, other = object(), object()
    window.timed_out()
    now[0] += 1.0
    window.admit(lost)  # the trial, which never says how it ended

    now[0] += 29.0
    with pytest.raises(RedisUnansweredError):
        window.admit(other)
    now[0] += 1.0
    window.admit(other)  # the next trial
    with pytest.raises(RedisUnansweredError):
        window.admit(lost)
