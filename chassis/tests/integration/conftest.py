"""Fixtures for the integration tests that read the spans an app exports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from goldenpath_chassis import ChassisSettings, Service
from goldenpath_chassis.testing.otlp import OtlpReceiver, otlp_receiver


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with otlp_receiver() as running:
        yield running


@pytest.fixture
def traced_overrides(
    receiver: OtlpReceiver, database_url: str, auth_settings: dict[str, str]
) -> dict[str, str]:
    return {
        **auth_settings,
        "app_env": "test",
        "database_url": database_url,
        "otel_exporter_otlp_endpoint": receiver.endpoint,
        "otel_service_name": "traced-service",
    }


@pytest.fixture
def traced_settings(service: Service, traced_overrides: dict[str, str]) -> ChassisSettings:
    return service.load_settings(**traced_overrides)
