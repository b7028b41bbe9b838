"""A start-up held before the chassis is imported, as long as EXAMPLE_HELD_IMPORT_SECONDS says,
for the tests of a signal at the very start (tests/process/test_signal_as_pid1_process.py).

Imported by `__main__` right after its first statement, where a service's heavy imports begin;
only `os` and `time` here, which the interpreter's own start has loaded.
"""

import os
import time

HELD_SECONDS = float(os.environ.get("EXAMPLE_HELD_IMPORT_SECONDS", "0"))

if HELD_SECONDS:
    time.sleep(HELD_SECONDS)
