"""TEST-2/INF-3/SEC-1: the load suite a generated project ships, and the reliability suites
the chassis runs once for every service (tests/test_chassis.py runs them).

The load suite runs in `test_generated_gates.py` (the project's own `pytest`); these check that
each variant gets it, selectable by marker, and that the reliability suites exist where they
now live.
"""

from __future__ import annotations

import json
import tomllib

from tests.support.commands import BYTECODE_CACHED, REPOSITORY, uv_run
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


# Run in the generated service's environment: its load runner, with free_port() handing out
# two taken ports first, one held by a listener and one bound only.
PORT_RETRY = """
import json, socket
from goldenpath_chassis.testing.processes import free_port
from tests.load import run

with socket.socket() as listening, socket.socket() as bound:
    listening.bind(("127.0.0.1", 0))
    listening.listen()
    bound.bind(("127.0.0.1", 0))
    taken = [listening.getsockname()[1], bound.getsockname()[1]]
    ports = iter(taken)
    run.free_port = lambda: next(ports, 0) or free_port()
    result = run.run_load(run.LoadOptions(users=1, duration="1s"))
    left = list(ports)
print(json.dumps({"taken": taken, "left": left, "host": result.host,
                  "requests": result.aggregate.requests}))
"""


def test_test2_the_load_runner_moves_off_a_port_taken_before_the_service_binds_it(
    default_project: GeneratedProject,
) -> None:
    """free_port() closes the port it found; another process may take it before the service
    binds it: already listening there (the start refuses it), or bound between that check and
    the service's bind (the service exits at start). Either way the run starts the service
    again on another port instead of failing. Proved here once, against the all-defaults
    service, rather than in every service's suite, where a run of its own cost seconds."""
    completed = uv_run(default_project.path, "python", "-c", PORT_RETRY, env=BYTECODE_CACHED)
    outcome = json.loads(completed.stdout.strip().splitlines()[-1])
    assert outcome["left"] == [], "not every taken port was tried"
    assert int(outcome["host"].rpartition(":")[2]) not in outcome["taken"]
    assert outcome["requests"] > 0
