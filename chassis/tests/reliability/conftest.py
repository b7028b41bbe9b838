"""Fixtures of the reliability suite: the service runs as a process, so the database keeps
what its requests wrote until the test empties it; and what the tests measure is printed at
the end of the run."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from goldenpath_chassis import Service
from goldenpath_chassis.testing.databases import empty_database


@pytest.fixture
def emptied_database(service: Service, database_url: str) -> Iterator[str]:
    """The session's database URL; every row is deleted after the test."""
    yield database_url
    empty_database(service, database_url)


@dataclass
class Figures:
    """Figures the tests measure (shutdown under load, rolling restarts), printed once at the
    end of the run whether or not pytest captures output. Reports, not assertions: a threshold
    belongs in the test."""

    sections: dict[str, list[str]] = field(default_factory=dict)

    def add(self, section: str, line: str) -> None:
        self.sections.setdefault(section, []).append(line)

    def write(self, reporter: pytest.TerminalReporter) -> None:
        for section, lines in self.sections.items():
            reporter.write_sep("-", section)
            for line in lines:
                reporter.write_line(line)


_FIGURES = pytest.StashKey[Figures]()


def _figures_of(config: pytest.Config) -> Figures:
    if _FIGURES not in config.stash:
        config.stash[_FIGURES] = Figures()
    return config.stash[_FIGURES]


@pytest.fixture(scope="session")
def figures(pytestconfig: pytest.Config) -> Figures:
    return _figures_of(pytestconfig)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    _figures_of(terminalreporter.config).write(terminalreporter)
