import gc

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
