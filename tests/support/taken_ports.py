"""Lose the race for a port on purpose, to prove that a start through `on_free_port` moves on.

`free_port()` closes the port it found, and another process can take it before the process
started there binds it: already listening there by the check, or bound after it. The tests hand
out one port of each kind before any free one.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from . import ports
from .servers import free_port


@dataclass
class TakenPorts:
    """A port something listens on (never to be used: what answers there is not what was
    started), then one bound by a socket that does not listen (what starts there exits at its
    bind); `on_free_port` gets them first, then free ports."""

    listening: int
    bound: int
    handed_out: list[int] = field(default_factory=list)
    # When the last port was handed out, as a Unix time: what was started on it started later.
    last_handed_out_at: float = 0.0

    def hand_out(self) -> int:
        taken = [self.listening, self.bound]
        port = taken[len(self.handed_out)] if len(self.handed_out) < len(taken) else free_port()
        self.handed_out.append(port)
        self.last_handed_out_at = time.time()
        return port

    def assert_moved_off(self) -> None:
        """Both taken ports were handed out, and the start succeeded on the next one."""
        assert self.handed_out[:2] == [self.listening, self.bound], "a taken port went untried"
        assert len(self.handed_out) == 3, f"handed out {self.handed_out}"


@contextlib.contextmanager
def taken_ports_first(monkeypatch: pytest.MonkeyPatch) -> Iterator[TakenPorts]:
    with socket.socket() as listening, socket.socket() as bound:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        bound.bind(("127.0.0.1", 0))
        taken = TakenPorts(listening.getsockname()[1], bound.getsockname()[1])
        monkeypatch.setattr(ports, "free_port", taken.hand_out)
        yield taken
