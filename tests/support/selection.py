"""A pytest plugin (loaded with `-p` from pyproject.toml, so its option parses before any path
argument is read): `--variant NAME` keeps only the tests of those answer sets.

Which project a test takes says which combination it belongs to: `project`/`synced_project`
are parametrized over every combination; `default_project` is the all-defaults one (the slow
gates); a test that takes neither tests the template itself (`--variant template`).

Slow gates run for the all-defaults service only: a test carrying one of SLOW_GATE_MARKERS
must take `default_project`, and collection fails if it is parametrized per combination.
"""

from __future__ import annotations

import pytest

from .projects import DEFAULTS_VARIANT, VARIANTS

TEMPLATE_ONLY = "template"
# Markers of the slow gates (a new one is registered in pyproject.toml and added here). A
# service's contract tests and load smoke are not among them: its own suite runs them.
SLOW_GATE_MARKERS = ("image",)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--variant",
        action="append",
        default=[],
        metavar="NAME",
        help=f"run only the tests of these answer sets ({', '.join(VARIANTS)}), "
        f"or '{TEMPLATE_ONLY}' for the tests of the template itself; repeatable",
    )


def variant_of(item: pytest.Item) -> str:
    """The combination a collected test belongs to (see the module docstring)."""
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "variant_name" in callspec.params:
        return str(callspec.params["variant_name"])
    fixtures = set(getattr(item, "fixturenames", ()))
    if "default_project" in fixtures:
        return DEFAULTS_VARIANT
    return TEMPLATE_ONLY


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    misplaced = [
        item.nodeid
        for item in items
        if any(item.get_closest_marker(marker) for marker in SLOW_GATE_MARKERS)
        and variant_of(item) not in {DEFAULTS_VARIANT, TEMPLATE_ONLY}
    ]
    if misplaced:
        raise pytest.UsageError(
            f"slow gates ({', '.join(SLOW_GATE_MARKERS)}) run for the all-defaults service only; "
            f"take the `default_project` fixture in: {misplaced}"
        )
    wanted: list[str] = config.getoption("--variant")
    unknown = set(wanted) - {*VARIANTS, TEMPLATE_ONLY}
    if unknown:
        raise pytest.UsageError(f"unknown --variant {sorted(unknown)}; known: {list(VARIANTS)}")
    if not wanted:
        return
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        (kept if variant_of(item) in wanted else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
