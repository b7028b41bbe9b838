"""The chassis's suite runs against an example service (tests/example) built on the chassis,
with the fixtures a generated service's suite gets (goldenpath_chassis.testing.fixtures)."""

from __future__ import annotations

import pytest

from goldenpath_chassis import Service

from tests.example.service import SERVICE

pytest_plugins = ["goldenpath_chassis.testing.fixtures"]


@pytest.fixture(scope="session")
def service() -> Service:
    return SERVICE
