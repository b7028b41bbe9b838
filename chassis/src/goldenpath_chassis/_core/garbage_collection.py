"""The cyclic garbage collector, tuned once the server has started.

Start-up imports and builds a few hundred thousand objects that live as long as the process, and
CPython's collector walks them again in its older-generation passes, while its default young
threshold (2,000 allocations) runs a pass every few requests. Measured on the benchmark's
cached GET (docs/performance.md): about 0.2 ms of CPU a request went to collections, and a full
pass paused every request in flight for tens of milliseconds.

`__main__` pauses the collector for the imports (collecting while start-up builds long-lived
objects finds next to nothing and cost 8-12% of the import CPU). Once the server has started,
`gc.freeze()` moves everything alive out of the collector's sight for good (the technique
CPython documents for long-running servers: with the few cycles start-up left behind, about a
thousand objects, under 1 MB), collection resumes, and a higher young threshold makes passes
rarer. Garbage cycles made while serving are still collected.
"""

from __future__ import annotations

import gc

# Allocations between young passes, then young passes per middle one, and middle per old one.
SERVING_THRESHOLDS = (10_000, 50, 100)


def tune_for_serving() -> None:
    """Call once, after start-up, in the process that serves (not in tests' processes)."""
    # No `gc.collect()` first: it would walk every object start-up made while the first
    # readiness probes wait, to free about a thousand.
    gc.freeze()
    gc.set_threshold(*SERVING_THRESHOLDS)
    gc.enable()
