"""Where a report goes when its log line cannot be written: stderr, its URLs' credentials
redacted (`url_redaction.py`).

Python's own fallbacks print what failed raw: a failed `sys.excepthook` the whole traceback,
`logging.Handler.handleError` the record's message and arguments. Either may hold a URL's token
(httpx logs every request's URL; an error's message names the URL it called).
"""

from __future__ import annotations

import contextlib
import sys
import traceback
from collections.abc import Iterable

from .url_redaction import redacted_text


def write_unlogged(
    what: str,
    failure: BaseException | None,
    details: Iterable[str],
    error: BaseException | None = None,
) -> None:
    """Write what could not be logged and why (`log line could not be written (OSError: ...):`),
    one line per detail and `error`'s traceback to stderr, redacted."""
    headline = f"{what} ({type(failure).__name__}: {failure}):"
    lines = [f"{headline}\n", *(f"{detail}\n" for detail in details)]
    if error is not None:
        lines += traceback.format_exception(error)  # no frame's locals, as in the log
    with contextlib.suppress(Exception):  # stderr failed too: nothing is left to report to
        sys.stderr.write(redacted_text("".join(lines)))
        sys.stderr.flush()
