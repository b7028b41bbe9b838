"""The serving process keeps start-up's objects out of the garbage collector's way, and hands
the GIL back to the event loop sooner than CPython's default."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator

import pytest
import uvicorn
from fastapi import FastAPI

from goldenpath_chassis._core.garbage_collection import SERVING_THRESHOLDS, tune_for_serving
from goldenpath_chassis._core.lifecycle import Lifecycle
from goldenpath_chassis._core.server import GracefulServer
from goldenpath_chassis._core.thread_switching import SERVING_SWITCH_INTERVAL_SECONDS

pytestmark = pytest.mark.unit


@pytest.fixture
def restored_collector() -> Iterator[None]:
    thresholds, enabled = gc.get_threshold(), gc.isenabled()
    switch_interval = sys.getswitchinterval()
    yield
    sys.setswitchinterval(switch_interval)
    gc.unfreeze()
    gc.set_threshold(*thresholds)
    if not enabled:
        gc.disable()


@pytest.mark.usefixtures("restored_collector")
def test_tuning_freezes_what_is_alive_and_raises_the_young_threshold() -> None:
    assert gc.get_freeze_count() == 0
    long_lived = [[number] for number in range(1000)]  # lists: objects the collector tracks
    tune_for_serving()
    assert gc.get_freeze_count() >= len(long_lived)
    assert gc.get_threshold() == SERVING_THRESHOLDS
    assert SERVING_THRESHOLDS[0] > 2000  # rarer young passes than CPython's default


@pytest.mark.usefixtures("restored_collector")
def test_tuning_resumes_the_collector_paused_for_start_up() -> None:
    gc.disable()  # as `__main__` does before the imports
    tune_for_serving()
    assert gc.isenabled()


@pytest.mark.usefixtures("restored_collector")
async def test_the_server_tunes_the_collector_and_the_switch_interval_once_started(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def started(self: uvicorn.Server, sockets: object = None) -> None:
        self.started = True

    monkeypatch.setattr(uvicorn.Server, "startup", started)
    server = GracefulServer(uvicorn.Config(FastAPI()), lifecycle=Lifecycle(), drain_seconds=0)
    assert sys.getswitchinterval() > SERVING_SWITCH_INTERVAL_SECONDS  # CPython's 5 ms
    await server.startup()
    assert sys.getswitchinterval() == pytest.approx(SERVING_SWITCH_INTERVAL_SECONDS)
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == SERVING_THRESHOLDS
