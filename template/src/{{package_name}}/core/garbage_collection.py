"""The cyclic garbage collector, tuned once the server has started.

Start-up imports and builds a few hundred thousand objects that live as long as the process, and
CPython's collector walks them again in its older-generation passes, while its default young
threshold (2,000 allocations) runs a pass every few requests. Measured on the benchmark's
cached GET (docs/performance.md): about 0.2 ms of CPU a request went to collections, and a full
pass paused every request in flight for tens of milliseconds.

`gc.freeze()` moves everything alive at start-up out of the collector's sight for good (the
technique CPython documents for long-running servers), and a higher young threshold makes
passes rarer. Garbage cycles made while serving are still collected.
"""

from __future__ import annotations

import gc

# Allocations between young passes, then young passes per middle one, and middle per old one.
SERVING_THRESHOLDS = (10_000, 50, 100)


def tune_for_serving() -> None:
    """Call once, after start-up, in the process that serves (not in tests' processes)."""
    gc.collect()  # what start-up left behind goes now, not frozen forever
    gc.freeze()
    gc.set_threshold(*SERVING_THRESHOLDS)
