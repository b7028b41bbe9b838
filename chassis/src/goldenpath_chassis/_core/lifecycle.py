"""The process's place in its life: serving, or draining after a shutdown signal (INF-3)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Lifecycle:
    """Shared by the server (which flips it on SIGTERM) and readiness (which reports it)."""

    draining: bool = False

    def begin_draining(self) -> None:
        self.draining = True
