"""A pipe nobody reads: where a process's output goes once the collector reading it went away."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


@contextlib.contextmanager
def pipe_nobody_reads() -> Iterator[int]:
    """The writing end of a pipe whose reader is gone: every write fails (a broken pipe), as
    a process's stdout does once the collector reading it went away."""
    read, write = os.pipe()
    os.close(read)
    try:
        yield write
    finally:
        os.close(write)
