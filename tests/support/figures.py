"""Figures a test prints for the run's output (sizes, durations), never asserts on."""

from __future__ import annotations

import pytest


def report_figure(config: pytest.Config, tag: str, line: str) -> None:
    """A `[tag] line` in the run's output, shown even though pytest captures output."""
    capture = config.pluginmanager.getplugin("capturemanager")
    reporter = config.pluginmanager.getplugin("terminalreporter")
    if capture is None or reporter is None:
        print(f"[{tag}] {line}")
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(f"\n[{tag}] {line}")
