"""TEST-2/INF-3/SEC-1: the load suite a generated project ships, and the reliability suites
the chassis runs once for every service (tests/test_chassis.py runs them).

The load suite runs in `test_generated_gates.py` (the project's own `pytest`); these check that
each variant gets it, selectable by marker, and that the reliability suites exist where they
now live.
"""

from __future__ import annotations

import tomllib

from tests.support.commands import REPOSITORY
from tests.support.projects import GeneratedProject


def test_test2_the_load_suite_ships_with_its_thresholds(project: GeneratedProject) -> None:
    load = project.path / "tests" / "load"
    for name in ("locustfile.py", "run.py", "thresholds.toml", "test_load_smoke.py"):
        assert (load / name).is_file(), name
    thresholds = tomllib.loads((load / "thresholds.toml").read_text())
    assert {"max_error_rate", "max_p95_ms"} <= set(thresholds["aggregate"])


def test_inf3_the_reliability_suites_run_in_the_chassis_not_in_each_service(
    project: GeneratedProject,
) -> None:
    # SIGTERM under load, the bad-input corpus and replicas behind nginx prove the chassis's
    # server and guards: once, in the chassis's suite, not again in every service's CI.
    chassis = REPOSITORY / "chassis" / "tests" / "reliability"
    for name in ("test_bad_input.py", "test_graceful_shutdown.py", "test_replicas.py"):
        assert (chassis / name).is_file(), name
    assert not (project.path / "tests" / "reliability").exists()


def test_test2_each_suite_has_a_registered_marker_and_locust(project: GeneratedProject) -> None:
    pyproject = tomllib.loads((project.path / "pyproject.toml").read_text())
    markers = {line.split(":")[0] for line in pyproject["tool"]["pytest"]["ini_options"]["markers"]}
    assert "load" in markers
    assert any(dep.startswith("locust") for dep in pyproject["dependency-groups"]["dev"])
    readme = (project.path / "README.md").read_text()
    assert "uv run pytest -m load" in readme
