"""Figures the tests measure (a load smoke's throughput, shutdown under load, and any a team
adds), printed once at the end of the run, whether or not pytest captures output (`-s` or not).

A test takes the `figures` fixture (goldenpath_chassis.testing.fixtures) and calls
`figures.add("Load smoke (TEST-2)", "...")`; the plugin's `pytest_terminal_summary` prints
every section. Figures are reports, not assertions: a threshold belongs in the test.

Under pytest-xdist each worker measures its own: a worker hands its sections to the controller
when it finishes (`workeroutput`), and the controller prints them with its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest


@dataclass
class Figures:
    sections: dict[str, list[str]] = field(default_factory=dict)

    def add(self, section: str, line: str) -> None:
        self.sections.setdefault(section, []).append(line)

    def merge(self, sections: dict[str, list[str]]) -> None:
        for section, lines in sections.items():
            self.sections.setdefault(section, []).extend(lines)

    def write(self, reporter: pytest.TerminalReporter) -> None:
        for section, lines in self.sections.items():
            reporter.write_sep("-", section)
            for line in lines:
                reporter.write_line(line)


FIGURES = pytest.StashKey[Figures]()


def figures_of(config: pytest.Config) -> Figures:
    if FIGURES not in config.stash:
        config.stash[FIGURES] = Figures()
    return config.stash[FIGURES]


# The key a pytest-xdist worker's figures travel under, to the controller.
WORKER_OUTPUT_KEY = "goldenpath_figures"


def hand_to_controller(config: pytest.Config) -> None:
    """In an xdist worker, pass this worker's figures on (a no-op in a run without workers)."""
    output: dict[str, object] | None = getattr(config, "workeroutput", None)
    if output is not None:
        output[WORKER_OUTPUT_KEY] = figures_of(config).sections


def take_from_worker(config: pytest.Config, worker_output: dict[str, object]) -> None:
    """In the xdist controller, add a finished worker's figures to the ones it prints."""
    sections = worker_output.get(WORKER_OUTPUT_KEY)
    if isinstance(sections, dict):
        figures_of(config).merge(sections)
