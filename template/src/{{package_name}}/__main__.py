"""`python -m <package>`: the image's entry point (the Dockerfile's ENTRYPOINT)."""

from goldenpath_chassis.startup import stop_on_signals

# First, before the imports that take most of a second: as PID 1 in its container, Python drops
# a SIGTERM it has no handler for, and a pod deleted meanwhile would wait out its grace period.
# From here on, SIGTERM or SIGINT stops start-up at once, and `migrate` with its transaction
# rolled back, until the server or the worker drains its own way (INF-3).
stop_on_signals()

import gc  # noqa: E402

# Start-up makes a few hundred thousand objects that live as long as the process (modules,
# classes, the app); collecting while they are made finds next to nothing and costs about a
# tenth of start-up. The chassis turns the collector back on before a command runs, or, when
# serving, once the server has started, freezing what start-up made.
gc.disable()

from .service import SERVICE  # noqa: E402 - after gc.disable(): the imports are what it is for

code = SERVICE.main()
# Everything is closed and flushed by now. Freezing the heap spares the interpreter a garbage
# collection of every object on the way out: a faster exit for the orchestrator (INF-3).
gc.freeze()
raise SystemExit(code)
