"""What a service's `__main__` runs first: SIGTERM and SIGINT stop the process from then on,
until the server or the worker handles them its own way (INF-3). Loads `signal` alone."""

from ._core.startup_stop import stop_on_signals

__all__ = ["stop_on_signals"]
