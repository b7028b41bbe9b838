"""SIGTERM or SIGINT stops the process at once until a command handles them its own way (INF-3).

Python as PID 1 (the container's only process) has no SIGTERM handler until uvicorn (or the
worker's event loop) installs its own, and the kernel drops a signal to PID 1 that has no
handler: a pod deleted while the service starts (imports, the app, the embedded migrations)
would wait out the whole termination grace period and then be killed, and so would a migration
Job or init container, whose `migrate` never installs one. A service's `__main__` calls
`stop_on_signals` first, before the imports that take most of a second (this module loads
`signal` alone); the command line keeps the same handler around the command, for callers that
come in through `Service.main`. The server's (or the worker's) handling replaces it once it
runs and drains as before; every other command keeps it to its end.

It only raises, in the main thread: a handler runs between any two bytecodes, possibly inside a
log write that holds the logger's lock, so the command line says the line once the exception
has unwound. Unwinding runs every `with` and `finally` on the way: a migration's transaction
ends, rolled back, rather than the process vanishing in the middle of a statement.

Exit codes: `serve` and `worker` exit 0 (nothing was served yet: a clean stop, not a failure);
every other command 128 + the signal's number (143 for SIGTERM, 130 for SIGINT), what a shell
reports for a process the signal ended: its work was not done, and a migration Job must not
count it as a success.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType

# The long-running processes: the server and the worker take over the signals once they run.
SERVING_COMMANDS = frozenset({"serve", "worker"})
# SIGINT first: a test (or a person) that sends SIGINT once SIGTERM is handled must not find
# Python's KeyboardInterrupt still in place.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_SIGNAL_EXIT_BASE = 128

type Handler = Callable[[int, FrameType | None], object] | int | None


class StoppedBySignal(SystemExit):
    """Raised in the main thread by SIGTERM or SIGINT before the command's own handling."""

    def __init__(self, signum: int, code: int) -> None:
        super().__init__(code)
        self.exit_code = code
        self.signal_name = signal.Signals(signum).name


def command_word(argv: Sequence[str]) -> str:
    """The command `argv` runs: its first word, or `serve` (the default) when it has none."""
    words = [word for word in argv if not word.startswith("-")]
    return words[0] if words else "serve"


def exit_code(command: str, signum: int) -> int:
    return 0 if command in SERVING_COMMANDS else _SIGNAL_EXIT_BASE + signum


def _stopper(command: str) -> Callable[[int, FrameType | None], None]:
    def stop(signum: int, frame: FrameType | None) -> None:
        raise StoppedBySignal(signum, exit_code(command, signum))

    return stop


def _install(command: str) -> dict[int, Handler]:
    stop = _stopper(command)
    return {sig: signal.signal(sig, stop) for sig in STOP_SIGNALS}


def stop_on_signals(argv: Sequence[str] | None = None) -> None:
    """From now on, SIGTERM and SIGINT end the command `argv` (the process's own by default)
    promptly, until something else handles them. A service's `__main__` calls this first."""
    if threading.current_thread() is threading.main_thread():
        _install(command_word(sys.argv[1:] if argv is None else argv))


@contextmanager
def stopping_on_signals(command: str) -> Iterator[None]:
    """`stop_on_signals` for the length of the block; the handlers that were there come back."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = _install(command)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
