"""Fixtures of the reliability suite: the service runs as a process, so the database keeps
what its requests wrote until the test empties it. (What the tests measure is printed at the
end of the run by the `figures` fixture of goldenpath_chassis.testing.fixtures.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from goldenpath_chassis import Service
from goldenpath_chassis.testing.databases import empty_database


@pytest.fixture
def emptied_database(service: Service, database_url: str) -> Iterator[str]:
    """The session's database URL; every row is deleted after the test."""
    yield database_url
    empty_database(service, database_url)
