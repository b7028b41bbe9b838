"""SEC-4: the per-process counters that hold the limits while Redis cannot be reached."""

from __future__ import annotations

import limits
import pytest

from goldenpath_chassis._core.security.rate_limit_fallback import LocalRefusal, LocalWindows

PER_MINUTE = limits.parse("3/minute")


def test_sec4_a_caller_is_refused_past_its_limit_until_the_window_slides() -> None:
    windows = LocalWindows()
    start = 600.0  # the start of a window: the previous one is empty
    assert [windows.hit(PER_MINUTE, "ip", "a", start + n) for n in range(3)] == [None] * 3
    refusal = windows.hit(PER_MINUTE, "ip", "a", start + 3)
    assert isinstance(refusal, LocalRefusal)
    assert refusal.retry_after == pytest.approx(57)  # the window's end, as Redis's counter says
    assert windows.hit(PER_MINUTE, "ip", "b", start + 3) is None  # a budget per caller
    assert windows.hit(PER_MINUTE, "principal", "a", start + 3) is None  # and per layer
    # Half-way through the next window, half the previous one's 3 still weigh: 2 more fit.
    assert windows.hit(PER_MINUTE, "ip", "a", start + 90) is None
    assert windows.hit(PER_MINUTE, "ip", "a", start + 90) is None
    assert windows.hit(PER_MINUTE, "ip", "a", start + 90) is not None
    # Two windows later nothing weighs any more.
    assert windows.hit(PER_MINUTE, "ip", "a", start + 180) is None


def test_sec4_a_spray_of_addresses_keeps_a_bounded_number_of_counters() -> None:
    """An attacker making one counter per source address must not grow memory without bound;
    the least recently seen go first, so a caller that keeps coming stays refused."""
    windows = LocalWindows(max_keys=100)
    now = 600.0
    for _ in range(3):
        windows.hit(PER_MINUTE, "ip", "busy", now)
    for number in range(10_000):
        windows.hit(PER_MINUTE, "ip", f"2001:db8:{number:x}::/64", now)
        if number % 50 == 0:
            assert windows.hit(PER_MINUTE, "ip", "busy", now) is not None
    assert len(windows) == 100
