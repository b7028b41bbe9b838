"""Start something on a free loopback port, and again on another when the port was taken; and a
port where nothing answers.

`free_port()` closes the port it found, so another process can take it before the process
started on it binds it. Whatever is started through `on_free_port` raises `PortTakenError` when
its process exited at its bind (`raise_if_port_taken` on its output), and is started again.
For the same reason a port `free_port()` found is no port "where nothing answers":
`refusing_port()` holds one for as long as a test needs it.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterator

from .servers import PORT_ATTEMPTS, free_port, port_listening, port_taken


class PortTakenError(RuntimeError):
    """The port was taken before the process could bind it: start again on another."""


def raise_if_port_taken(output: str) -> None:
    """Raise `PortTakenError` if the output of a process that exited says its bind failed."""
    if port_taken(output):
        raise PortTakenError(output)


def on_free_port[Started](start: Callable[[int], Started]) -> Started:
    """`start(port)` on a free loopback port, and again on another while it raises
    `PortTakenError`. A port something already listens on is never handed to `start`: whatever
    answers there is not what `start` started."""
    for _ in range(PORT_ATTEMPTS):
        port = free_port()
        if port_listening(port):
            continue
        try:
            return start(port)
        except PortTakenError:
            continue
    raise AssertionError(f"no free loopback port in {PORT_ATTEMPTS} attempts")


@contextlib.contextmanager
def refusing_port() -> Iterator[int]:
    """A loopback port that refuses every connection until the block ends: a socket bound to
    it and never listening holds it, so nothing else can listen there meanwhile."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        port: int = held.getsockname()[1]
        yield port
