"""OPS-1: `compile-stdlib`, which the service's Dockerfile runs so that its processes start from
bytecode in a runtime image whose standard library is sources only.

Run here against this interpreter's own standard library, as the build stage runs it against the
runtime image's copy. The template's image test proves the other half: in the built image,
`migrate`, `serve` and the HEALTHCHECK's command compile nothing when they start.
"""

from __future__ import annotations

import importlib.util
import marshal
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from goldenpath_chassis._core.stdlib_bytecode import RecordingError, loaded_stdlib_sources

from tests.support.example_process import EXAMPLE_COMMAND, PACKAGE, importable

pytestmark = pytest.mark.process

STDLIB = Path(sysconfig.get_paths()["stdlib"])
HEADER_BYTES = 16  # magic, flags, then the source hash (PEP 552)
HASH_BASED, CHECK_SOURCE = 0b01, 0b10


def compile_stdlib(source: Path, into: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if key in {"PATH", "HOME", "LANG"}}
    return subprocess.run(
        [sys.executable, *EXAMPLE_COMMAND, "compile-stdlib", "--from", str(source),
         "--into", str(into)],
        env=clean | importable(),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        cwd=cwd,
    )  # fmt: skip


def written(into: Path) -> dict[str, Path]:
    """Each compiled file by the source it stands for, relative to the stdlib: `json/decoder.py`."""
    return {
        (path.parent.parent.relative_to(into) / (path.name.split(".")[0] + ".py")).as_posix(): path
        for path in into.rglob("*.pyc")
    }


def test_ops1_compiles_what_the_processes_load_valid_for_their_sources(tmp_path: Path) -> None:
    into = tmp_path / "bytecode"
    result = compile_stdlib(STDLIB, into, tmp_path)
    assert result.returncode == 0, result.stderr
    compiled = written(into)
    assert f"compiled {len(compiled)} standard library modules" in result.stdout
    # What serving loads (the event loop, JSON, logging, HTTP parsing of the OTLP exporter), what
    # the later connections load, and nothing a service never touches.
    assert {
        "json/decoder.py", "asyncio/base_events.py", "logging/__init__.py", "http/client.py",
        "encodings/idna.py", "getpass.py", "stringprep.py",
    } <= set(compiled)  # fmt: skip
    assert not {
        name
        for name in compiled
        if name.split("/")[0] in {"tkinter", "idlelib", "turtle.py", "xmlrpc", "pydoc_data"}
    }
    for relative, path in compiled.items():
        source = STDLIB / relative
        data = path.read_bytes()
        flags = int.from_bytes(data[4:8], "little")
        # Hash-based and checked at import (PEP 552), against this very source: Python uses it.
        assert flags == HASH_BASED | CHECK_SOURCE, path
        assert data[8:16] == importlib.util.source_hash(source.read_bytes()), path
        # And it is this source's code, naming the file where the runtime keeps it.
        code = marshal.loads(data[HEADER_BYTES:])  # noqa: S302 - written by this test
        assert code.co_filename == str(STDLIB / relative)
        assert code == compile(source.read_bytes(), str(source), "exec", dont_inherit=True)


def test_ops1_a_module_missing_from_the_runtimes_copy_is_named_and_left_to_start(
    tmp_path: Path,
) -> None:
    partial = tmp_path / "stdlib"
    shutil.copytree(STDLIB / "json", partial / "json", ignore=shutil.ignore_patterns("__pycache__"))
    into = tmp_path / "bytecode"
    result = compile_stdlib(partial, into, tmp_path)
    assert result.returncode == 0, result.stderr
    assert set(written(into)) == {
        f"json/{path.name}" for path in (STDLIB / "json").glob("*.py")
        if path.stem in {"__init__", "decoder", "encoder", "scanner"}
    }  # fmt: skip
    assert "left to compile at start: " in result.stdout
    assert "asyncio/base_events.py" in result.stdout


def test_ops1_a_source_that_is_not_a_folder_is_refused_and_nothing_is_written(
    tmp_path: Path,
) -> None:
    into = tmp_path / "bytecode"
    result = compile_stdlib(tmp_path / "absent", into, tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == f"compile-stdlib: {tmp_path / 'absent'} is not a folder"
    assert not into.exists()


def test_ops1_a_service_that_cannot_start_is_reported_with_its_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in importable().items():
        monkeypatch.setenv(name, value)
    with pytest.raises(RecordingError, match="ModuleNotFoundError: No module named 'no_such'"):
        loaded_stdlib_sources("no_such")
    # The example, on the other hand, starts.
    assert "json/__init__.py" in loaded_stdlib_sources(PACKAGE)
