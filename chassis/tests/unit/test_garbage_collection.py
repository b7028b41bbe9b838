"""The serving process keeps start-up's objects out of the garbage collector's way."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
import uvicorn
from fastapi import FastAPI

from goldenpath_chassis._core.garbage_collection import SERVING_THRESHOLDS, tune_for_serving
from goldenpath_chassis._core.lifecycle import Lifecycle
from goldenpath_chassis._core.server import GracefulServer

pytestmark = pytest.mark.unit


@pytest.fixture
def restored_collector() -> Iterator[None]:
    thresholds, enabled = gc.get_threshold(), gc.isenabled()
    yield
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
async def test_the_server_tunes_the_collector_once_started(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def started(self: uvicorn.Server, sockets: object = None) -> None:
        self.started = True

    monkeypatch.setattr(uvicorn.Server, "startup", started)
    server = GracefulServer(uvicorn.Config(FastAPI()), lifecycle=Lifecycle(), drain_seconds=0)
    await server.startup()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == SERVING_THRESHOLDS
