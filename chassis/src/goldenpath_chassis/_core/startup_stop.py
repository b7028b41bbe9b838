"""SIGTERM before the process serves stops it at once (INF-3).

Python as PID 1 (the container's only process) has no SIGTERM handler until uvicorn (or the
worker's event loop) installs its own, and the kernel drops a signal to PID 1 that has no
handler: a pod deleted while the service starts (imports, the app, the embedded migrations)
would wait out the whole termination grace period and then be killed. The command line installs
this handler before the heavy imports; the server's (or the worker's) replaces it once it runs.

It only raises: a handler runs between any two bytecodes of the main thread, possibly inside a
log write that holds the logger's lock, so the command line says the line once it has unwound.
Nothing was served yet, so ending is a clean stop, not a failure: the exit code is 0.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType


class StoppedDuringStartup(SystemExit):
    """Raised in the main thread by SIGTERM before the process serves."""


def _stop(signum: int, frame: FrameType | None) -> None:
    raise StoppedDuringStartup(0)


@contextlib.contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """Until something else handles SIGTERM, let it end the process cleanly; the handler that
    was there before comes back on the way out."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
