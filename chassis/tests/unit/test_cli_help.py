"""ARCH-1: what a person reads about the command line names the service's real package, never
the placeholder `<package>` of the chassis's own docs."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import pytest

from goldenpath_chassis import Service
from goldenpath_chassis._core.cli import build_parser

pytestmark = pytest.mark.unit


def every_parser(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:  # argparse keeps its subcommands here
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from every_parser(child, (*path, name))


def test_arch1_every_commands_help_names_the_real_package(service: Service) -> None:
    parsers = dict(every_parser(build_parser(service)))
    # The processes, the chassis's own commands and their actions are all reached.
    assert {("serve",), ("migrate",), ("dev-token",), ("api-keys", "create")} <= set(parsers)
    for path, parser in parsers.items():
        text = parser.format_help()
        assert "<package>" not in text, (path, text)
        assert text.startswith(f"usage: python -m {service.package}"), (path, text)
    dev_token = parsers[("dev-token",)].format_help()
    assert f"TOKEN=$(python -m {service.package} dev-token" in " ".join(dev_token.split())


def test_arch1_the_openapi_document_names_the_real_package(service: Service) -> None:
    document = service.create_app(service.load_settings(app_env="test")).openapi()
    schemes = document["components"]["securitySchemes"]
    assert "<package>" not in str(schemes)
    assert f"python -m {service.package} api-keys create" in schemes["apiKey"]["description"]
    # A key is accepted as a bearer credential too, and the document says so.
    assert "API key" in schemes["bearerToken"]["description"]


def test_arch1_openapi_to_a_file_it_cannot_write_says_so_without_a_traceback(
    service: Service,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("APP_ENV", "test")
    missing = tmp_path / "no-such-folder" / "openapi.json"
    assert service.main(["openapi", "--output", str(missing)]) == 73
    captured = capsys.readouterr()
    assert captured.err.strip() == (
        f"openapi: cannot write {missing}: No such file or directory"
    ), captured.err
    assert "Traceback" not in captured.out + captured.err
    assert not missing.parent.exists()
