"""CFG-2: secrets from mounted files and AWS Secrets Manager (moto's server mode), never leaked."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from structlog.testing import capture_logs

from goldenpath_chassis import ChassisSettings, ConfigurationError
from goldenpath_chassis import load_settings as load_chassis_settings

from tests.example.service import ExampleSettings
from tests.support.moto import moto_server

pytestmark = pytest.mark.integration

SECRET_REDIS_URL = "redis://:hunter2-from-a-file@cache.internal:6379/0"


def load_settings(**overrides: object) -> ChassisSettings:
    """The example service's settings from this process's environment, as it starts."""
    return load_chassis_settings(ExampleSettings, overrides)


def test_cfg2_settings_read_mounted_secret_files(tmp_path: Path) -> None:
    (tmp_path / "redis_url").write_text(SECRET_REDIS_URL + "\n")
    (tmp_path / "AUTH_SESSION_SECRET").write_text("f" * 40)
    settings = load_settings(app_env="test", secrets_dir=str(tmp_path))
    assert settings.redis.url is not None
    assert settings.redis.url.get_secret_value() == SECRET_REDIS_URL
    assert settings.sessions.secret.get_secret_value() == "f" * 40
    assert "hunter2" not in repr(settings)


def test_cfg2_the_environment_wins_over_a_secret_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "redis_url").write_text(SECRET_REDIS_URL)
    monkeypatch.setenv("REDIS_URL", "redis://from-the-environment:6379/0")
    monkeypatch.setenv("SECRETS_DIR", str(tmp_path))
    settings = load_settings(app_env="test")
    assert settings.redis.url is not None
    assert settings.redis.url.get_secret_value() == "redis://from-the-environment:6379/0"


def test_cfg2_a_missing_secrets_dir_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(secrets_dir=str(tmp_path / "absent"))
    assert [variable for variable, _ in caught.value.problems] == ["SECRETS_DIR"]


def test_cfg2_a_bad_secret_file_is_reported_without_its_value(tmp_path: Path) -> None:
    (tmp_path / "redis_url").write_text("http://:hunter2@wrong-scheme")
    with pytest.raises(ConfigurationError) as caught:
        load_settings(app_env="test", secrets_dir=str(tmp_path))
    assert [variable for variable, _ in caught.value.problems] == ["REDIS_URL"]
    assert "hunter2" not in str(caught.value)


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One moto server for this module's tests (it takes a few seconds to start)."""
    with moto_server(tmp_path_factory.mktemp("moto")) as endpoint:
        yield endpoint


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The standard AWS variables, pointing boto3 at the moto server."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto_endpoint,
    }.items():
        monkeypatch.setenv(name, value)
    return moto_endpoint


def test_cfg2_settings_read_aws_secrets_manager(aws: str) -> None:
    client = boto3.client("secretsmanager")
    client.create_secret(
        Name="team/service",
        SecretString=json.dumps(
            {"REDIS_URL": SECRET_REDIS_URL, "auth_session_secret": "a" * 48, "LOG_LEVEL": "debug"}
        ),
    )
    with capture_logs() as logs:
        settings = load_settings(app_env="test", secrets_aws_secret_id="team/service")
    assert settings.redis.url is not None
    assert settings.redis.url.get_secret_value() == SECRET_REDIS_URL
    assert settings.sessions.secret.get_secret_value() == "a" * 48
    assert settings.logging.level == "DEBUG"
    assert "hunter2" not in repr(settings) + str(logs)
    # Explicit values and the environment still win over the cloud secret.
    assert (
        load_settings(
            app_env="test", secrets_aws_secret_id="team/service", log_level="ERROR"
        ).logging.level
        == "ERROR"
    )


def test_cfg2_an_unreadable_aws_secret_names_the_variable(aws: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(app_env="test", secrets_aws_secret_id="no/such/secret")
    assert caught.value.problems == [
        ("SECRETS_AWS_SECRET_ID", "cannot read secret 'no/such/secret' (ResourceNotFoundException)")
    ]


def test_cfg2_a_cloud_secret_that_is_not_json_is_refused(aws: str) -> None:
    boto3.client("secretsmanager").create_secret(Name="plain", SecretString="hunter2")
    with pytest.raises(ConfigurationError) as caught:
        load_settings(app_env="test", secrets_aws_secret_id="plain")
    assert "not a JSON object" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_cfg2_a_cloud_secret_cannot_name_a_secrets_source(aws: str, tmp_path: Path) -> None:
    """Read after the directory was chosen, it would be ignored yet show as set: refused."""
    boto3.client("secretsmanager").create_secret(
        Name="names-a-source", SecretString=json.dumps({"SECRETS_DIR": str(tmp_path)})
    )
    with pytest.raises(ConfigurationError) as caught:
        load_settings(app_env="test", secrets_aws_secret_id="names-a-source")
    assert caught.value.problems == [
        ("SECRETS_DIR", "set by AWS secret 'names-a-source'; only the environment may set it")
    ]
