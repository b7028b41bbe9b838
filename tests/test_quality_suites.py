"""TEST-2/INF-3/SEC-1: the load and reliability suites a generated project ships, per variant.

The suites themselves run in `test_generated_gates.py` (the project's own `pytest`); these
check that each variant gets the ones that apply to it, selectable by marker.
"""

from __future__ import annotations

import tomllib

from tests.support.projects import GeneratedProject


def test_test2_the_load_suite_ships_with_its_thresholds(project: GeneratedProject) -> None:
    load = project.path / "tests" / "load"
    for name in ("locustfile.py", "run.py", "thresholds.toml", "test_load_smoke.py"):
        assert (load / name).is_file(), name
    thresholds = tomllib.loads((load / "thresholds.toml").read_text())
    assert {"max_error_rate", "max_p95_ms"} <= set(thresholds["aggregate"])


def test_inf3_replica_tests_ship_only_where_replicas_apply(project: GeneratedProject) -> None:
    replicas = project.path / "tests" / "reliability" / "test_replicas.py"
    # SQLite services run one replica by design: the test is not generated, rather than skipped.
    assert replicas.is_file() == (project.answers["database"] == "postgresql")
    assert (project.path / "tests" / "reliability" / "test_bad_input.py").is_file()
    assert (project.path / "tests" / "reliability" / "test_graceful_shutdown.py").is_file()


def test_test2_each_suite_has_a_registered_marker_and_locust(project: GeneratedProject) -> None:
    pyproject = tomllib.loads((project.path / "pyproject.toml").read_text())
    markers = {line.split(":")[0] for line in pyproject["tool"]["pytest"]["ini_options"]["markers"]}
    assert {"load", "reliability"} <= markers
    assert any(dep.startswith("locust") for dep in pyproject["dependency-groups"]["dev"])
    readme = (project.path / "README.md").read_text()
    assert "uv run pytest -m load" in readme
    assert "uv run pytest -m reliability" in readme
