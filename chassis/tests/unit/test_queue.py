"""ARCH-3: retry delays grow exponentially, with jitter, up to a ceiling."""

from __future__ import annotations

import itertools
import random

import pytest

from goldenpath_chassis._core.queue import BACKOFF_MAX_SECONDS, backoff_delay

pytestmark = pytest.mark.unit


def test_arch3_backoff_grows_with_attempts_and_is_capped() -> None:
    rng = random.Random(7)
    delays = [backoff_delay(attempt, rng=rng).total_seconds() for attempt in range(1, 12)]
    assert all(later > earlier for earlier, later in itertools.pairwise(delays[:7]))
    assert max(delays) <= BACKOFF_MAX_SECONDS


def test_arch3_backoff_is_jittered() -> None:
    rng = random.Random(1)
    assert len({backoff_delay(3, rng=rng) for _ in range(20)}) > 1
