"""Start something on a free loopback port, and again on another when the port was taken.

`free_port()` closes the port it found, so another process can take it before the process
started on it binds it. Whatever is started through `on_free_port` raises `PortTakenError` when
its process exited at its bind (`raise_if_port_taken` on its output), and is started again.
"""

from __future__ import annotations

from collections.abc import Callable

from .servers import free_port, port_listening

# Attempts at a port before giving up.
PORT_ATTEMPTS = 3
# How a failed bind reads in the output of Python's asyncio (uvicorn logs its error, on the
# standard event loop and on uvloop alike) and of Go's net package (Prometheus): lowercase, and
# Python's http.server says it as the OS does ("Address already in use").
ADDRESS_IN_USE = "address already in use"


class PortTakenError(RuntimeError):
    """The port was taken before the process could bind it: start again on another."""


def raise_if_port_taken(output: str) -> None:
    """Raise `PortTakenError` if the output of a process that exited says its bind failed."""
    if ADDRESS_IN_USE in output.lower():
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
