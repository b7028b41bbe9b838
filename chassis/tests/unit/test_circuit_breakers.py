"""RES-1: what a call through a circuit breaker tells it.

A failure counts toward opening it; an answer resets the count and closes a half-open breaker;
a cancelled call (a readiness deadline shorter than a frozen database's connect timeout, a
request whose client left) says nothing about the dependency and leaves the breaker as it was.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from goldenpath_chassis._core.resilience import CircuitBreakers, CircuitOpenError

pytestmark = pytest.mark.unit

RESET_SECONDS = 30.0


async def fail(breakers: CircuitBreakers) -> None:
    with pytest.raises(ConnectionRefusedError):
        async with breakers.protect("database"):
            raise ConnectionRefusedError


async def cancel(breakers: CircuitBreakers) -> None:
    entered = asyncio.Event()

    async def waits_forever() -> None:
        async with breakers.protect("database"):
            entered.set()
            await asyncio.Event().wait()

    call = asyncio.create_task(waits_forever())
    await entered.wait()
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call


async def test_res1_a_cancelled_call_neither_resets_the_failures_nor_closes_a_half_open_breaker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    breakers = CircuitBreakers(threshold=2, reset_seconds=RESET_SECONDS)
    await fail(breakers)
    await cancel(breakers)
    await fail(breakers)  # the second failure in a row: the cancelled call between was no answer
    assert breakers.state("database") == "open"

    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + RESET_SECONDS + 1)
    assert breakers.state("database") == "half-open"
    await cancel(breakers)  # the trial was cancelled: the next call is the trial again
    assert breakers.state("database") == "half-open"
    await fail(breakers)
    assert breakers.state("database") == "open"


async def test_res1_an_answer_resets_the_failures() -> None:
    breakers = CircuitBreakers(threshold=2, reset_seconds=RESET_SECONDS)
    await fail(breakers)
    async with breakers.protect("database"):
        pass
    await fail(breakers)
    assert breakers.state("database") == "closed"


def traceback_length(error: BaseException) -> int:
    length, entry = 0, error.__traceback__
    while entry is not None:
        length, entry = length + 1, entry.tb_next
    return length


async def test_res1_refused_calls_leave_no_frames_behind_on_the_open_breaker() -> None:
    breakers = CircuitBreakers(threshold=1, reset_seconds=RESET_SECONDS)
    await fail(breakers)
    refusals = []
    for _ in range(200):
        with pytest.raises(CircuitOpenError) as refused:
            async with breakers.protect("database"):
                pass
        refusals.append(refused.value)
    # The open state is one object, raised for every refused call (purgatory's OpenedState).
    open_state = refusals[-1].__cause__
    assert open_state is not None
    assert all(refusal.__cause__ is open_state for refusal in refusals)
    # Each refusal's own frames stay with that refusal, not with the state every call shares.
    assert traceback_length(open_state) <= 2
