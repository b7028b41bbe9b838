"""How long a thread may hold the GIL while another waits for it, once the server has started.

The event loop shares the interpreter with a few threads, the busiest of which is the span
exporter (OBS-2): it encodes a batch of spans into OTLP protobuf in Python. CPython lets a
thread keep the GIL for its switch interval (5 ms by default) while another asks for it, so a
request that becomes ready while the exporter encodes waits up to that long, once for each
slice the exporter takes: that wait was most of the cached GET's p99 with every request traced
(docs/benchmarks.md has the figures). A shorter interval hands the GIL back to the event loop
sooner; the work done is the same, so throughput does not change measurably.
"""

from __future__ import annotations

import sys

# CPython's default is 0.005 s. Shorter intervals add switches only while two threads want the
# GIL at once; below about half a millisecond the switches themselves start to cost.
SERVING_SWITCH_INTERVAL_SECONDS = 0.001


def shorten_switch_interval() -> None:
    """Call once, after start-up, in the process that serves (not in tests' processes)."""
    sys.setswitchinterval(SERVING_SWITCH_INTERVAL_SECONDS)
