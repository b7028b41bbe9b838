"""Writing for GitHub Actions: workflow commands, the step's output file, and plain text.

The runner reads every line a step prints, on stdout and stderr, as a possible workflow command:
a line that starts with `::name` once its indentation is stripped, or holds `##[name]` anywhere.
A file name can hold a newline, a `::` or a `%`: printed as it is, in an annotation or in the
report, it could add annotations of its own, mask values in the log, or break the annotation.
So commands are escaped as the runner unescapes them, and text is printed with commands stopped.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext, redirect_stderr
from pathlib import Path

# The runner's unescaping (actions/runner, ActionCommand.cs) undone. str.translate replaces each
# character once, so the `%` of an escape is never escaped again.
_PROPERTY = str.maketrans({"%": "%25", "\r": "%0D", "\n": "%0A", ":": "%3A", ",": "%2C"})
_DATA = str.maketrans({"%": "%25", "\r": "%0D", "\n": "%0A"})


def workflow_command(name: str, message: str, properties: Mapping[str, str]) -> str:
    """`::name key=value,...::message`, each value and the message escaped: one line that the
    runner reads back as exactly these properties and this message."""
    listed = ",".join(f"{key}={value.translate(_PROPERTY)}" for key, value in properties.items())
    return f"::{name}{' ' + listed if listed else ''}::{message.translate(_DATA)}"


def write_github_output(path: Path, values: Mapping[str, str]) -> None:
    """Append `values` to a `$GITHUB_OUTPUT` file, in the delimiter form that no value can break."""
    with path.open("a", encoding="utf-8") as output:
        for name, value in values.items():
            delimiter = f"goldenpath_{secrets.token_hex(8)}"
            output.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")


@contextmanager
def commands_stopped(active: bool) -> Iterator[list[str]]:
    """Inside, what is printed is text to the runner whatever it holds (`::stop-commands::`
    with a token no printed text can know), on stdout, what is written to sys.stderr too;
    the workflow commands added to the list yielded are printed after, once the runner reads
    commands again. Not `active`: no stop, stderr left alone, nothing added to the output but
    those commands."""
    commands: list[str] = []
    token = secrets.token_hex(16)
    if active:
        print(f"::stop-commands::{token}", flush=True)
    try:
        # The runner reads stdout and stderr each on its own (a reader and a queue per stream,
        # actions/runner's ProcessInvoker): a line on stderr, an error, can be handled after
        # the resume token on stdout, as a command. Inside, stderr is stdout: one order.
        with redirect_stderr(sys.stdout) if active else nullcontext():
            yield commands
    finally:
        sys.stderr.flush()
        if active:
            print(f"::{token}::", flush=True)
        for command in commands:
            print(command)
