"""Figures the tests measure (a load smoke's throughput, shutdown under load, and any a team
adds), printed once at the end of the run, whether or not pytest captures output (`-s` or not).

A test takes the `figures` fixture (goldenpath_chassis.testing.fixtures) and calls
`figures.add("Load smoke (TEST-2)", "...")`; the plugin's `pytest_terminal_summary` prints
every section. Figures are reports, not assertions: a threshold belongs in the test.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest


@dataclass
class Figures:
    sections: dict[str, list[str]] = field(default_factory=dict)

    def add(self, section: str, line: str) -> None:
        self.sections.setdefault(section, []).append(line)

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
