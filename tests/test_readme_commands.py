"""SEC-3/OBS-1: the generated README's commands, run as written against the live service.

- The first steps: a development token, an item created and listed, an API key captured with
  `KEY=$(...)` (stdout holds the key alone) and used against the service.
- Metrics: the shipped Prometheus config (deploy/compose/prometheus.yaml) passes Debian's
  `promtool` (Prometheus 2.x), and a real Prometheus scrapes the live service with it, carrying
  an API key as a bearer credential from a file, and evaluates the shipped alerts on it.

Everything listens on loopback, on ports chosen at run time; Prometheus keeps its data in the
test's temporary folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.commands import tool_environment, uv_executable
from tests.support.projects import GeneratedProject
from tests.support.prometheus import RunningPrometheus, start_prometheus
from tests.support.service import RunningService, start
from tests.support.taken_ports import taken_ports_first

README_ADDRESS = "http://127.0.0.1:8000"


def shell_blocks(readme: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", readme, re.DOTALL)


def json_values(text: str) -> list[Any]:
    """Every JSON value in `text`, in order (curl prints bodies back to back)."""
    decoder = json.JSONDecoder()
    values, position = [], 0
    while (position := _skip_space(text, position)) < len(text):
        value, position = decoder.raw_decode(text, position)
        values.append(value)
    return values


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position].isspace():
        position += 1
    return position


def shell(script: str, project: Path) -> subprocess.CompletedProcess[str]:
    """`script` in bash, in the project, as a person would type it (uv on PATH)."""
    env = tool_environment()
    env["PATH"] = f"{Path(uv_executable()).parent}{os.pathsep}{env.get('PATH', '')}"
    for variable in [name for name in env if name.startswith(("APP_", "DATABASE_", "AUTH_"))]:
        del env[variable]  # the README's commands run with nothing configured
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def start_development_service(project: GeneratedProject, tmp_path: Path) -> RunningService:
    """`python -m <package>` with nothing configured: development, on the embedded database the
    README's commands use too (`var/` in the project)."""
    return start(project.path, ["-m", project.package], env={}, log_path=tmp_path / "service.log")


def test_sec3_the_readmes_first_steps_work_as_written(
    default_project: GeneratedProject, tmp_path: Path
) -> None:
    readme = (default_project.path / "README.md").read_text()
    block = next(block for block in shell_blocks(readme) if "dev-token" in block)
    assert "KEY=$(" in block
    assert "-X POST" in block
    service = start_development_service(default_project, tmp_path)
    try:
        completed = shell(block.replace(README_ADDRESS, service.base_url), default_project.path)
    finally:
        exit_code = service.stop()
    assert completed.returncode == 0, f"{completed.stdout}\n{completed.stderr}"
    assert exit_code == 0, service.output()

    created, by_token, created_by_key, by_key = json_values(completed.stdout)
    assert created["name"] == "Blue widget"
    assert created["price_cents"] == 1999
    assert created["id"] in {item["id"] for item in by_token["items"]}
    # The captured key works, and owns what it creates (SEC-6): it lists its item, not the
    # token's.
    assert created_by_key["name"] == "Red widget"
    assert {item["id"] for item in by_key["items"]} == {created_by_key["id"]}
    assert "Store the key now" in completed.stderr  # its note went to stderr, not into $KEY

    # What the README says comes back is what comes back.
    example = re.search(r"```json\n(.*?)```", readme, re.DOTALL)
    assert example is not None, "the README shows no response"
    shown = json.loads(example[1])
    assert set(shown) == set(created)
    assert shown["status"] == created["status"] == "pending"


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        message = (
            f"OBS-1 PROMETHEUS TEST SKIPPED: {name} is not installed "
            "(`apt-get install prometheus`; .ci/run does)"
        )
        print(f"\n{'!' * 80}\n{message}\n{'!' * 80}")
        pytest.skip(message)
    return found


def prometheus_query(client: httpx.Client, query: str) -> list[dict[str, Any]]:
    answer = client.get("/api/v1/query", params={"query": query}).json()
    assert answer["status"] == "success", answer
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def test_obs1_a_real_prometheus_scrapes_the_live_service_with_the_shipped_config(
    default_project: GeneratedProject, tmp_path: Path
) -> None:
    promtool, prometheus = tool("promtool"), tool("prometheus")
    slug = default_project.answers["project_slug"]
    shipped = default_project.path / "deploy" / "compose" / "prometheus.yaml"
    alerts = default_project.path / "deploy" / "prometheus" / "alerts.yaml"
    # Valid as shipped (the key file exists only where compose mounts it).
    syntax = subprocess.run(
        [promtool, "check", "config", "--syntax-only", str(shipped)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert syntax.returncode == 0, syntax.stdout + syntax.stderr

    service = start_development_service(default_project, tmp_path)
    prometheus_server: RunningPrometheus | None = None
    try:
        key_file = tmp_path / "prometheus-api-key"
        made = shell(
            f"uv run python -m {default_project.package} api-keys create --name prometheus "
            f"--scope metrics:read > {key_file}",
            default_project.path,
        )
        assert made.returncode == 0, made.stderr
        assert len(key_file.read_text().splitlines()) == 1

        # The shipped config, pointed at this service, this key file and the shipped alerts;
        # rules evaluated every second rather than 15 (the wait only).
        config = yaml.safe_load(shipped.read_text())
        config["scrape_configs"] = [
            job for job in config["scrape_configs"] if job["job_name"] == slug
        ]
        job = config["scrape_configs"][0]
        assert job["authorization"]["type"] == "Bearer"
        job["authorization"]["credentials_file"] = str(key_file)
        job["static_configs"] = [{"targets": [service.base_url.removeprefix("http://")]}]
        assert config["rule_files"] == ["/etc/prometheus/alerts.yaml"]  # compose mounts it
        config["rule_files"] = [str(alerts)]
        config["global"]["evaluation_interval"] = "1s"
        config_file = tmp_path / "prometheus.yaml"
        config_file.write_text(yaml.safe_dump(config))
        checked = subprocess.run(
            [promtool, "check", "config", str(config_file)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr

        prometheus_server = start_prometheus(
            prometheus, config_file, tmp_path / "data", tmp_path / "prometheus.log"
        )
        up, build = wait_for_scrape(prometheus_server, slug)
        rules = wait_for_rules(prometheus_server, after=datetime.now(UTC))
        exported = exported_metric_names(service, key_file.read_text().strip())
    finally:
        if prometheus_server is not None:
            prometheus_server.stop()
        service.stop()
    assert up["metric"]["job"] == slug
    assert build["metric"]["service_name"] == slug
    # Every alert loaded and evaluated against the live service, none pending or firing...
    assert {rule["name"] for rule in rules} >= {"ServiceDown", "JobQueueStalled"}
    assert all(rule["state"] == "inactive" for rule in rules), rules
    # ...on metrics the service exports (some, such as the breakers' states, with no series
    # until there is a dependency), under its own job: none is quiet for want of a name.
    selected = alert_selectors(alerts)
    assert selected, "the alerts select no series"
    # The worker's own scrape job beside the API's where an alert reads both (its breakers).
    own_jobs = (f'job="{slug}"', f'job=~"{slug}|{slug}-worker"')
    assert all(any(job in matchers for job in own_jobs) for _, matchers in selected), selected
    assert {name for name, _ in selected} - {"up"} <= exported, exported


def test_obs1_the_shipped_alerts_pass_their_own_unit_tests(project: GeneratedProject) -> None:
    """`promtool test rules` on the alerts' tests, as docs/runbook.md tells a team to run it
    after changing a threshold: each alert fires, and stays quiet, where they say."""
    promtool = tool("promtool")
    folder = project.path / "deploy" / "prometheus"
    for command in (["check", "rules", "alerts.yaml"], ["test", "rules", "alerts.test.yaml"]):
        completed = subprocess.run(
            [promtool, *command],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert completed.returncode == 0, completed.stdout + completed.stderr


def alert_selectors(rule_file: Path) -> list[tuple[str, str]]:
    """Each series selector in the rules' expressions: its metric name and its matchers."""
    groups = yaml.safe_load(rule_file.read_text())["groups"]
    expressions = [rule["expr"] for group in groups for rule in group["rules"]]
    return [
        (match[1], match[2])
        for expression in expressions
        for match in re.finditer(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}", expression)
    ]


def wait_for_rules(
    prometheus: RunningPrometheus, *, after: datetime, timeout: float = 60
) -> list[dict[str, Any]]:
    """The loaded alerting rules, once each has been evaluated `after` (the first evaluation
    may come before the first scrape, when no replica is up yet)."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=prometheus.base_url, timeout=5) as client:
        while time.monotonic() < deadline:
            answer = client.get("/api/v1/rules", params={"type": "alert"}).json()
            rules = [rule for group in answer["data"]["groups"] for rule in group["rules"]]
            if rules and all(
                rule["health"] == "ok" and _timestamp(rule["lastEvaluation"]) > after
                for rule in rules
            ):
                return rules
            time.sleep(0.5)
    raise AssertionError(f"the alerts were not all evaluated within {timeout}s: {answer}")


def _timestamp(text: str) -> datetime:
    """Prometheus's RFC 3339 time, nanoseconds cut to what Python reads."""
    seconds, _, fraction = text.removesuffix("Z").partition(".")
    return datetime.fromisoformat(f"{seconds}.{(fraction or '0')[:6]:0<6}+00:00")


def exported_metric_names(service: RunningService, key: str) -> set[str]:
    """The names the service's /metrics declares (`# TYPE`), a histogram's series included."""
    scraped = httpx.get(
        f"{service.base_url}/metrics", headers={"Authorization": f"Bearer {key}"}, timeout=10
    )
    assert scraped.status_code == 200, scraped.text
    names = set()
    for declared in re.finditer(r"^# TYPE (\S+) (\S+)$", scraped.text, re.MULTILINE):
        name, kind = declared[1], declared[2]
        names.add(name)
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_count", f"{name}_sum"}
    return names


def wait_for_scrape(
    prometheus: RunningPrometheus, job: str, timeout: float = 120
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Until Prometheus has scraped the service successfully: `up == 1` for its job, and one of
    the service's own metrics stored."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=prometheus.base_url, timeout=5) as client:
        while time.monotonic() < deadline:
            assert prometheus.process.poll() is None, f"prometheus exited:\n{prometheus.output()}"
            up = prometheus_query(client, f'up{{job="{job}"}} == 1')
            build = prometheus_query(client, f'service_build_info{{job="{job}"}}') if up else []
            if up and build:
                return up[0], build[0]
            time.sleep(0.5)
        targets = client.get("/api/v1/targets").text
    raise AssertionError(f"no successful scrape within {timeout}s; targets: {targets}")


def test_prometheus_moves_off_a_port_taken_before_it_binds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Go's "bind: address already in use" when the port was taken after the check.
    prometheus = tool("prometheus")
    config_file = tmp_path / "prometheus.yaml"
    config_file.write_text("global: {}\n")
    with taken_ports_first(monkeypatch) as taken:
        server = start_prometheus(
            prometheus, config_file, tmp_path / "data", tmp_path / "prometheus.log"
        )
        try:
            taken.assert_moved_off()
            assert server.port == taken.handed_out[-1]
            assert httpx.get(server.base_url + "/-/ready").status_code == 200
        finally:
            server.stop()
