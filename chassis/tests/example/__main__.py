"""`python -m tests.example`, as a generated service's `__main__` starts it."""

from goldenpath_chassis.startup import stop_on_signals

# First, before the imports that take most of a second: as PID 1, Python drops a SIGTERM it has
# no handler for (INF-3).
stop_on_signals()

from . import held_import  # noqa: E402, F401 - where the tests hold start-up (held_import.py)
from .service import SERVICE  # noqa: E402

raise SystemExit(SERVICE.main())
