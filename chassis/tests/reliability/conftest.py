"""Fixtures of the reliability suite: the service runs as a process, so the database keeps
what its requests wrote until the test empties it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.databases import empty_database


@pytest.fixture
def emptied_database(database_url: str) -> Iterator[str]:
    """The session's database URL; every row is deleted after the test."""
    yield database_url
    empty_database(database_url)
