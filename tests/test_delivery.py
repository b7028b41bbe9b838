"""OPS-1/OPS-2/OPS-3/ARCH-2: the delivery files of every generated project, checked offline.

The same scanners the generated project's CI and pre-commit run (hadolint, Trivy, zizmor), the
official schemas (GitHub workflows, Dependabot, Compose, Kubernetes), and the invariants that
tie the files together: the grace periods, the probes, the settings the manifests set.
"""

from __future__ import annotations

import json
import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.commands import run, uv_run
from tests.support.manifests import (
    Rendered,
    load_yaml,
    render_overlays,
    steps,
    tool,
    unfrozen_revs,
    unpinned_uses,
    workflows,
)
from tests.support.projects import GeneratedProject
from tests.support.service_timings import SECRET_PLACEHOLDERS, service_timings

DIGEST_PINNED = re.compile(r"@sha256:[0-9a-f]{64}$")
TRIVY = ["--skip-check-update", "--skip-version-check", "--disable-telemetry", "--quiet"]


@cache
def _rendered(project_path: Path) -> list[Rendered]:
    return render_overlays(project_path)


@pytest.fixture
def rendered(project: GeneratedProject) -> list[Rendered]:
    return _rendered(project.path)


def _configmap_values(overlay: Rendered) -> dict[str, str]:
    data: dict[str, str] = overlay.one("ConfigMap")["data"]
    return data


# --- OPS-1: the Dockerfile ------------------------------------------------------------------
def test_ops1_hadolint_finds_nothing(project: GeneratedProject) -> None:
    run([tool("hadolint"), "Dockerfile"], cwd=project.path)


def test_ops1_base_images_are_pinned_by_digest_and_overridable(project: GeneratedProject) -> None:
    dockerfile = (project.path / "Dockerfile").read_text()
    froms = re.findall(r"^FROM (\S+)(?: AS (\S+))?$", dockerfile, flags=re.MULTILINE)
    pinned = {stage: image for image, stage in froms if stage.startswith("default-")}
    # In FROM lines, where Dependabot finds them (it does not read ARG values).
    assert set(pinned) == {"default-uv", "default-builder", "default-runtime"}
    for stage, reference in pinned.items():
        assert DIGEST_PINNED.search(reference), f"{stage}: {reference} is not pinned by digest"
    assert pinned["default-runtime"].startswith("gcr.io/distroless/python3-debian13:nonroot@")
    # Every real stage starts from a global argument that defaults to those stages, so a
    # mirror or a stand-in can replace each base image.
    arguments = dict(re.findall(r"^ARG (\w+_IMAGE)=(\S+)$", dockerfile, flags=re.MULTILINE))
    assert arguments == {
        "UV_IMAGE": "default-uv",
        "BUILDER_IMAGE": "default-builder",
        "RUNTIME_IMAGE": "default-runtime",
    }
    first_from = re.search(r"^FROM ", dockerfile, flags=re.MULTILINE)
    assert first_from is not None
    assert dockerfile.index("ARG UV_IMAGE") < first_from.start(), "the ARGs must be global"
    stages = {stage: image for image, stage in froms if not stage.startswith("default-")}
    assert stages == {
        "uv": "${UV_IMAGE}",
        "runtime-base": "${RUNTIME_IMAGE}",
        "build": "${BUILDER_IMAGE}",
        "": "runtime-base",  # the final stage: the runtime, whose stdlib the build compiled
    }
    assert "uv sync --locked --no-dev --no-editable" in dockerfile
    assert "--mount=type=cache,target=/root/.cache/uv" in dockerfile


def test_ops1_dockerignore_sends_only_what_the_build_reads(project: GeneratedProject) -> None:
    patterns = [
        line.strip()
        for line in (project.path / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*", "an allow-list: everything is excluded first"
    allowed = {pattern.removeprefix("!") for pattern in patterns if pattern.startswith("!")}
    # .chassis/: the chassis wheel, for a service generated from a local template clone.
    assert allowed == {"pyproject.toml", "uv.lock", "README.md", "src/", ".chassis/"}


# --- OPS-2: scanners --------------------------------------------------------------------------
def test_ops2_trivy_config_finds_no_high_or_critical_misconfiguration(
    project: GeneratedProject, rendered: list[Rendered], tmp_path: Path
) -> None:
    for overlay in rendered:
        (tmp_path / f"{overlay.overlay}.yaml").write_text(overlay.text)
    gate = ["--severity", "HIGH,CRITICAL", "--exit-code", "1"]
    # The repository as committed (Dockerfile, base manifests, workflows), then the overlays
    # as they would be applied.
    for target in (project.path, tmp_path):
        result = run([tool("trivy"), "config", *TRIVY, *gate, str(target)], cwd=project.path)
        assert "Dockerfile" in result.stdout or target == tmp_path, result.stdout


def test_ops2_ops3_zizmor_finds_nothing_in_the_workflows(project: GeneratedProject) -> None:
    run(
        [tool("zizmor"), "--offline", "--persona", "pedantic", ".github/"],
        cwd=project.path,
    )


# --- OPS-3: workflows -------------------------------------------------------------------------
def test_ops3_workflows_dependabot_and_compose_match_their_schemas(
    project: GeneratedProject,
) -> None:
    checks = {
        "vendor.github-workflows": sorted((project.path / ".github" / "workflows").glob("*.yml")),
        "vendor.dependabot": [project.path / ".github" / "dependabot.yml"],
        "vendor.compose-spec": [project.path / "compose.yaml"],
    }
    for schema, files in checks.items():
        assert files, schema
        run(
            [tool("check-jsonschema"), "--builtin-schema", schema, *map(str, files)],
            cwd=project.path,
        )


def test_ops3_every_action_is_pinned_by_commit_sha_with_its_version(
    project: GeneratedProject,
) -> None:
    total = 0
    for path in sorted((project.path / ".github" / "workflows").glob("*.yml")):
        count, problems = unpinned_uses(path.read_text())
        assert not problems, f"{path.name}:\n" + "\n".join(problems)
        total += count
    assert total >= 10


def test_ops3_the_pin_check_catches_tags_short_shas_and_missing_versions() -> None:
    sha = "3d3c42e5aac5ba805825da76410c181273ba90b1"
    good = f"      - uses: actions/checkout@{sha} # v7.0.1\n"
    assert unpinned_uses(good) == (1, [])
    assert unpinned_uses("      statuses: write # the gates' commit status\n") == (0, [])
    for bad in (
        "      - uses: actions/checkout@v7\n",
        "      - uses: actions/checkout@3d3c42e # v7.0.1\n",
        f"      - uses: actions/checkout@{sha}\n",
        "        uses: ./local-action\n",
    ):
        count, problems = unpinned_uses(bad)
        assert count == 1
        assert problems, bad


def test_ops3_permissions_are_least_privilege_and_checkouts_keep_no_credentials(
    project: GeneratedProject,
) -> None:
    allowed_writes = {
        "ci.yml": {"image": {"security-events"}},
        "security.yml": {"config-scan": {"security-events"}},
        "release.yml": {"image": {"packages", "id-token", "attestations"}},
        # The standards audit (its SARIF to code scanning) and the template updates (TPL-2).
        "standards-audit.yml": {"code-scanning": {"security-events"}},
        "template-update.yml": {"pull-request": {"contents", "pull-requests", "statuses"}},
    }
    found = workflows(project.path)
    assert set(found) == set(allowed_writes)
    for name, workflow in found.items():
        assert workflow["permissions"] == {"contents": "read"}, name
        for job_name, job in workflow["jobs"].items():
            permissions = job.get("permissions", {})
            writes = {scope for scope, level in permissions.items() if level == "write"}
            assert writes == allowed_writes[name].get(job_name, set()), f"{name}:{job_name}"
            assert job.get("timeout-minutes"), f"{name}:{job_name} has no timeout"
        for job_name, step in steps(workflow):
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, f"{name}:{job_name}"


def test_ops3_ci_runs_every_gate(project: GeneratedProject) -> None:
    ci = workflows(project.path)["ci.yml"]
    commands = "\n".join(str(step.get("run", "")) for _, step in steps(ci))
    for gate in (
        "uv run ruff check",
        "uv run ruff format --check",
        "uv run mypy",
        "uv run pytest",
        "pytest -m contract",
        "pytest -m load",
        "alembic downgrade base",
    ):
        assert gate in commands, gate
    # Every pre-commit hook runs in CI too; the ones skipped there run as steps of their own.
    hooks = next(s for _, s in steps(ci) if "pre-commit run --all-files" in str(s.get("run")))
    assert set(hooks["env"]["SKIP"].split(",")) == {"ruff-check", "ruff-format", "mypy"}
    # Their environments come from GitHub's cache, restored before they run, while the config
    # that names them is unchanged.
    lint = ci["jobs"]["lint"]["steps"]
    cache = next(s for s in lint if str(s.get("uses", "")).startswith("actions/cache@"))
    assert cache["with"]["path"] == "~/.cache/pre-commit"
    assert "hashFiles('.pre-commit-config.yaml')" in cache["with"]["key"]
    assert lint.index(cache) < lint.index(hooks)
    services = ci["jobs"]["test"]["services"]
    assert {"postgres", "redis"} <= set(services)
    uses = [str(step.get("uses", "")) for _, step in steps(ci)]
    assert any(action.startswith("aquasecurity/trivy-action@") for action in uses)
    assert any(action.startswith("github/codeql-action/upload-sarif@") for action in uses)
    build = next(s for _, s in steps(ci) if str(s.get("uses", "")).startswith("docker/build-push"))
    assert build["with"]["cache-from"] == "type=gha"

    security = workflows(project.path)["security.yml"]
    security_text = yaml.safe_dump(security)
    assert "scan-type: config" in security_text
    assert "pip-audit" in security_text
    assert "trufflesecurity/trufflehog@" in security_text

    release = workflows(project.path)["release.yml"]
    triggers = release.get("on", release.get(True))  # YAML 1.1 reads a bare `on` as true
    assert triggers == {"push": {"tags": ["v*.*.*"]}}
    push = next(
        s for _, s in steps(release) if str(s.get("uses", "")).startswith("docker/build-push")
    )
    assert push["with"]["push"] is True
    assert push["with"]["sbom"] is True
    assert push["with"]["provenance"] == "mode=max"


def test_ops3_dependabot_keeps_python_actions_and_images_current(
    project: GeneratedProject,
) -> None:
    config = load_yaml(project.path / ".github" / "dependabot.yml")
    ecosystems = {update["package-ecosystem"] for update in config["updates"]}
    assert ecosystems == {"uv", "github-actions", "docker", "docker-compose", "pre-commit"}


def test_ops3_pre_commit_config_is_valid_and_has_every_gate(project: GeneratedProject) -> None:
    config_path = project.path / ".pre-commit-config.yaml"
    run([tool("pre-commit"), "validate-config", str(config_path)], cwd=project.path)
    config = load_yaml(config_path)
    hook_ids = {hook["id"] for repo in config["repos"] for hook in repo["hooks"]}
    for required in (
        "ruff-check", "ruff-format", "mypy", "check-yaml", "check-toml", "gitleaks",
        "hadolint", "zizmor", "actionlint", "no-copier-conflict-markers", "no-copier-rejects",
    ):  # fmt: skip
        assert required in hook_ids, required


def test_ops3_every_remote_pre_commit_hook_is_frozen_to_a_commit_sha(
    project: GeneratedProject,
) -> None:
    text = (project.path / ".pre-commit-config.yaml").read_text()
    count, problems = unfrozen_revs(text)
    assert not problems, "\n".join(problems)
    repos = load_yaml(project.path / ".pre-commit-config.yaml")["repos"]
    assert count == len([repo for repo in repos if repo["repo"] not in ("local", "meta")]) >= 4
    # A hook tool installed from PyPI has no SHA to pin: its exact version, then.
    for repo in repos:
        for hook in repo["hooks"]:
            for requirement in hook.get("additional_dependencies", []):
                assert re.fullmatch(r"[\w.-]+==[\w.]+", requirement), requirement


def test_ops3_the_frozen_rev_check_catches_tags_short_shas_and_missing_comments() -> None:
    sha = "3e8a8703264a2f4a69428a0aa4dcb512790b2c8c"
    assert unfrozen_revs(f"    rev: {sha}  # frozen: v6.0.0\n") == (1, [])
    assert unfrozen_revs("  - repo: local\n    hooks: []\n") == (0, [])
    for bad in (
        "    rev: v6.0.0\n",
        "    rev: 3e8a870  # frozen: v6.0.0\n",
        f"    rev: {sha}\n",
        f"    rev: {sha}  # v6.0.0\n",
    ):
        count, problems = unfrozen_revs(bad)
        assert count == 1
        assert problems, bad


def test_ops3_pre_commit_refuses_copier_conflict_markers_and_rej_files(
    project: GeneratedProject, tmp_path: Path
) -> None:
    """The two local hooks, run for real by pre-commit on a scratch repository."""
    config = load_yaml(project.path / ".pre-commit-config.yaml")
    local = next(repo for repo in config["repos"] if repo["repo"] == "local")
    hooks = [hook for hook in local["hooks"] if hook["id"].startswith("no-copier-")]
    scratch = tmp_path / "repository"
    scratch.mkdir()
    (scratch / ".pre-commit-config.yaml").write_text(
        yaml.safe_dump({"repos": [{"repo": "local", "hooks": hooks}]})
    )
    subprocess.run(["git", "init", "--quiet", str(scratch)], check=True)
    clean = scratch / "clean.py"
    clean.write_text("# ======= a heading, not a conflict\nVALUE = 1\n")
    conflicted = scratch / "settings.py"
    conflicted.write_text(
        "<<<<<<< before updating\nTIMEOUT = 1\n=======\nTIMEOUT = 2\n>>>>>>> after updating\n"
    )
    rejected = scratch / "pyproject.toml.rej"
    rejected.write_text("@@ -1 +1 @@\n")

    def pre_commit(*files: Path) -> subprocess.CompletedProcess[str]:
        names = [str(path.relative_to(scratch)) for path in files]
        return subprocess.run(
            [tool("pre-commit"), "run", "--files", *names],
            cwd=scratch,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    assert pre_commit(clean).returncode == 0
    refused = pre_commit(conflicted, rejected)
    assert refused.returncode == 1
    assert "settings.py:1:<<<<<<< before updating" in refused.stdout
    assert "pyproject.toml.rej" in refused.stdout


# --- Local stack ----------------------------------------------------------------------------
def test_ops3_compose_brings_up_the_whole_stack(project: GeneratedProject) -> None:
    compose = load_yaml(project.path / "compose.yaml")
    services = compose["services"]
    expected = {"app", "worker", "migrate", "redis", "otel-collector", "jaeger", "prometheus"}
    if project.answers["database"] == "postgresql":
        expected.add("postgres")
    assert set(services) == expected
    assert services["app"]["build"]["context"] == "."
    assert services["app"]["command"] == ["serve"]
    assert services["worker"]["command"] == ["worker"]
    assert services["migrate"]["command"] == ["migrate"]
    assert services["prometheus"]["profiles"] == ["metrics"]
    for waiting in ("app", "worker"):
        assert services[waiting]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
    for mounted in ("deploy/compose/otel-collector.yaml", "deploy/compose/prometheus.yaml"):
        assert (project.path / mounted).is_file(), mounted
    # The worker's own listener: its check asks it, and Prometheus scrapes it with the API's key.
    assert services["worker"]["healthcheck"]["test"][-2:] == ["healthcheck", "--worker"]
    scrapes = load_yaml(project.path / "deploy/compose/prometheus.yaml")["scrape_configs"]
    jobs = {job["job_name"]: job for job in scrapes}
    slug = project.answers["project_slug"]
    assert jobs[f"{slug}-worker"]["static_configs"] == [{"targets": ["worker:9000"]}]
    assert jobs[f"{slug}-worker"]["authorization"] == jobs[slug]["authorization"]
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


COMPOSE_DURATION = re.compile(r"(?=\d)(?:(\d+)m)?(?:(\d+)s)?")


def _compose_seconds(duration: str) -> int:
    parts = COMPOSE_DURATION.fullmatch(duration)
    assert parts is not None, f"not a duration this test reads: {duration}"
    minutes, seconds = (int(part or 0) for part in parts.groups())
    return minutes * 60 + seconds


def test_ops3_inf3_compose_lets_each_process_stop_gracefully(
    synced_project: GeneratedProject,
) -> None:
    """`docker compose stop` (SIGTERM, then SIGKILL after `stop_grace_period`) waits for the
    whole graceful stop of the settings compose gives, the chassis's defaults for the rest."""
    project = synced_project
    services = load_yaml(project.path / "compose.yaml")["services"]
    dockerfile = (project.path / "Dockerfile").read_text()
    # SIGTERM is what the service stops gracefully on, and what compose and Kubernetes send.
    assert not re.search(r"^STOPSIGNAL", dockerfile, flags=re.MULTILINE)
    for name in ("app", "worker"):
        service = services[name]
        assert "stop_signal" not in service, name
        environ = {key: str(value) for key, value in service["environment"].items()}
        timings = service_timings(project, environ)
        needed = timings.api_stop_seconds if name == "app" else timings.worker_stop_seconds
        assert _compose_seconds(service["stop_grace_period"]) > needed, name


def test_arch2_the_docs_keep_a_proxy_s_idle_timeout_below_the_keep_alive(
    synced_project: GeneratedProject,
) -> None:
    """A proxy pooling connections to the pods must close an idle one before the service does,
    or its requests race the service's close: the docs give the service's keep-alive timeout
    and, for each proxy they name, an idle timeout below it."""
    keep_alive = service_timings(synced_project, {}).keep_alive_seconds
    text = " ".join((synced_project.path / "docs" / "deployment.md").read_text().split())
    said = re.findall(r"closes a connection idle for (\d+) s \(its keep-alive timeout", text)
    assert said == [str(keep_alive)], said
    proxies = re.findall(r'`upstream-keepalive-timeout: "(\d+)"`|idleTimeout: (\d+)s`', text)
    assert len(proxies) == 2, proxies
    for nginx, envoy in proxies:
        assert int(nginx or envoy) < keep_alive, proxies


# --- ARCH-2: Kubernetes ---------------------------------------------------------------------
def test_arch2_every_manifest_is_valid_kubernetes(
    project: GeneratedProject, rendered: list[Rendered], tmp_path: Path
) -> None:
    files = []
    for overlay in rendered:
        path = tmp_path / f"{overlay.overlay}.yaml"
        path.write_text(overlay.text)
        files.append(path)
    base = project.path / "deploy" / "k8s" / "base"
    files += [path for path in sorted(base.glob("*.yaml")) if path.name != "kustomization.yaml"]
    result = run([tool("kubernetes-validate"), "--strict", *map(str, files)], cwd=project.path)
    assert "fail" not in result.stdout.lower() + result.stderr.lower()


def test_arch2_pods_are_locked_down(rendered: list[Rendered]) -> None:
    for overlay in rendered:
        for where, pod in overlay.pod_specs():
            label = f"{overlay.overlay} {where}"
            assert pod["automountServiceAccountToken"] is False, label
            assert pod["securityContext"]["runAsNonRoot"] is True, label
            assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, label
            volumes = {volume["name"]: volume for volume in pod["volumes"]}
            assert "emptyDir" in volumes["tmp"], label
            for container in pod["containers"] + pod.get("initContainers", []):
                context = container["securityContext"]
                assert context["readOnlyRootFilesystem"] is True, label
                assert context["allowPrivilegeEscalation"] is False, label
                assert context["runAsUser"] == 65532, label
                assert context["capabilities"] == {"drop": ["ALL"]}, label
                assert {"requests", "limits"} <= set(container["resources"]), label
                mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
                assert "/tmp" in mounts, label


def _deployment(overlay: Rendered, component: str) -> dict[str, Any]:
    found = [
        deployment
        for deployment in overlay.of_kind("Deployment")
        if deployment["metadata"]["labels"]["app.kubernetes.io/component"] == component
    ]
    assert len(found) == 1, f"{overlay.overlay}: {len(found)} {component} deployments"
    return found[0]


def test_arch2_inf3_probes_and_grace_period_fit_the_service(
    synced_project: GeneratedProject, rendered: list[Rendered]
) -> None:
    project = synced_project
    for overlay in rendered:
        deployment = _deployment(overlay, "api")
        pod = deployment["spec"]["template"]["spec"]
        app = next(container for container in pod["containers"] if container["name"] == "app")
        assert app["args"] == ["serve"]
        assert app["livenessProbe"]["httpGet"]["path"] == "/health/live"
        assert app["readinessProbe"]["httpGet"]["path"] == "/health/ready"
        assert app["startupProbe"]["httpGet"]["path"] == "/health/live"
        assert app["ports"][0]["containerPort"] == 8000
        pre_stop = app["lifecycle"]["preStop"]
        assert set(pre_stop) == {"sleep"}, "no exec hook: the image has no shell"
        settings = _configmap_values(overlay)
        # What the pod's process runs with: the ConfigMap, the Secret, the chassis's defaults.
        timings = service_timings(project, SECRET_PLACEHOLDERS | settings)
        needed = pre_stop["sleep"]["seconds"] + timings.api_stop_seconds
        assert pod["terminationGracePeriodSeconds"] > needed, overlay.overlay
        # Readiness runs its checks at once, each within READINESS_TIMEOUT_SECONDS: a probe
        # timing out first would take a pod whose dependencies answer out of the Service.
        ready_probe = app["readinessProbe"]
        assert ready_probe["timeoutSeconds"] > timings.readiness_timeout_seconds, overlay.overlay
        assert settings["APP_ENV"] == "production"
        assert settings["HOST"] == "0.0.0.0"  # noqa: S104 - inside the pod
        assert overlay.one("Service")["spec"]["ports"][0]["targetPort"] == "http"
        # Each Deployment has a budget that selects exactly its pods: a drain takes one at a time.
        budgets = overlay.of_kind("PodDisruptionBudget")
        assert len(budgets) == len(overlay.of_kind("Deployment")), overlay.overlay
        for budget in budgets:
            assert budget["spec"]["maxUnavailable"] == 1
            component = budget["metadata"]["labels"]["app.kubernetes.io/component"]
            pod_labels = _deployment(overlay, component)["spec"]["template"]["metadata"]["labels"]
            selector = budget["spec"]["selector"]["matchLabels"]
            assert selector.items() <= pod_labels.items(), f"{overlay.overlay}: {component}"
            others = [
                deployment["spec"]["template"]["metadata"]["labels"]
                for deployment in overlay.of_kind("Deployment")
                if deployment["metadata"]["labels"]["app.kubernetes.io/component"] != component
            ]
            assert not any(selector.items() <= labels.items() for labels in others), component
        policy = overlay.one("NetworkPolicy")["spec"]
        assert policy["policyTypes"] == ["Ingress", "Egress"]
        egress_ports = {port["port"] for rule in policy["egress"] for port in rule.get("ports", [])}
        # Out to PostgreSQL only where the service has a PostgreSQL to reach.
        assert (5432 in egress_ports) == (project.answers["database"] == "postgresql")
        assert (
            overlay.one("Namespace")["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
            == "restricted"
        )
        # The worker finishes its jobs, then flushes its spans.
        worker_grace = timings.worker_stop_seconds
        if project.answers["database"] == "postgresql":
            autoscaler = overlay.one("HorizontalPodAutoscaler")
            assert autoscaler["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
            assert autoscaler["spec"]["minReplicas"] >= 2
            assert "replicas" not in deployment["spec"], "the autoscaler owns the count"
            job = overlay.one("Job")
            assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]
            worker_pod = _deployment(overlay, "worker")["spec"]["template"]["spec"]
            assert worker_pod["containers"][0]["args"] == ["worker"]
            assert worker_pod["terminationGracePeriodSeconds"] > worker_grace
            worker_listens(worker_pod["containers"][0], timings.worker_http_port, policy)
            assert worker_pod["containers"][0]["readinessProbe"]["httpGet"] == {
                "path": "/health/ready",
                "port": "worker-http",
            }
        else:
            assert not overlay.of_kind("HorizontalPodAutoscaler")
            assert deployment["spec"]["replicas"] == 1
            assert pod["initContainers"][0]["args"] == ["migrate"]
            worker = next(c for c in pod["containers"] if c["name"] == "worker")
            assert worker["args"] == ["worker"]
            assert pod["terminationGracePeriodSeconds"] > worker_grace
            worker_listens(worker, timings.worker_http_port, policy)
            # A worker not claiming must not take the API's pod out of the Service.
            assert "readinessProbe" not in worker


def worker_listens(container: dict[str, Any], port: int, policy: dict[str, Any]) -> None:
    """The worker's container declares its listener (WORKER_HTTP_PORT), the liveness probes
    ask it, and the NetworkPolicy lets the kubelet's probes and the scrape in."""
    declared = {entry["name"]: entry["containerPort"] for entry in container["ports"]}
    assert declared == {"worker-http": port}
    for probe in ("startupProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/health/live", "port": "worker-http"}
    ingress_ports = {entry["port"] for rule in policy["ingress"] for entry in rule["ports"]}
    assert "worker-http" in ingress_ports


# `kubectl apply -k . -l SELECTOR`, the selector quoted or not.
SELECTED_APPLY = re.compile(r"^kubectl apply -k \. -l ('[^']+'|\S+)", re.MULTILINE)
SELECTOR_REQUIREMENT = re.compile(
    r"\s*(?P<key>[\w./-]+)\s*(?:(?P<op>==|!=|=)\s*(?P<value>[\w.-]*)"
    r"|\s+(?P<set>in|notin)\s*\((?P<values>[^)]*)\))\s*(?:,|$)"
)


def selects(selector: str, labels: dict[str, str]) -> bool:
    """Whether a label selector (`k=v`, `k!=v`, `k in (..)`, `k notin (..)`) selects `labels`:
    as in Kubernetes, `!=` and `notin` also select objects without the key."""
    requirements = list(SELECTOR_REQUIREMENT.finditer(selector))
    assert "".join(match.group(0) for match in requirements) == selector, selector
    for match in requirements:
        value = labels.get(match["key"])
        if match["op"] in ("=", "=="):
            matched = value == match["value"]
        elif match["op"] == "!=":
            matched = value != match["value"]
        else:
            listed = {item.strip() for item in match["values"].split(",")}
            matched = (value in listed) == (match["set"] == "in")
        if not matched:
            return False
    return True


def test_arch2_the_release_applies_the_migration_job_with_what_it_needs(
    project: GeneratedProject, rendered: list[Rendered]
) -> None:
    """docs/deployment.md's release runs the Job ahead of the rollout with a label selector:
    the objects it selects include everything the Job needs to start, and no API or worker."""
    docs = (project.path / "docs" / "deployment.md").read_text()
    found = SELECTED_APPLY.findall(docs)
    if project.answers["database"] != "postgresql":
        # A SQLite service migrates in an init container: its docs apply no Job ahead.
        assert found == [], found
        return
    assert len(found) == 1, found
    selector = found[0].strip("'")
    for overlay in rendered:
        chosen = {
            (document["kind"], document["metadata"]["name"])
            for document in overlay.documents
            if selects(selector, document["metadata"].get("labels", {}))
        }
        job = overlay.one("Job")
        pod = job["spec"]["template"]["spec"]
        needed = {
            ("Job", job["metadata"]["name"]),
            ("Namespace", job["metadata"]["namespace"]),
            ("ServiceAccount", pod["serviceAccountName"]),
        }
        for container in pod["containers"]:
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    needed.add(("ConfigMap", source["configMapRef"]["name"]))
        assert ("ConfigMap", overlay.one("ConfigMap")["metadata"]["name"]) in needed
        assert needed <= chosen, f"{overlay.overlay}: {selector} leaves out {needed - chosen}"
        deployments = {name for kind, name in chosen if kind == "Deployment"}
        assert not deployments, f"{overlay.overlay}: {selector} rolls out {deployments} early"


DOCUMENTED_OBJECT = re.compile(r"`([A-Z][A-Za-z]+)` `([a-z0-9-]+)`")  # | `Job` `x-migrate` |
# A row of the table: | `HorizontalPodAutoscaler` | ... |
DOCUMENTED_KIND = re.compile(r"^\| `([A-Z][a-z]+(?:[A-Z][a-z]+)*)`", re.MULTILINE)
COMMAND_OBJECT = re.compile(r"\b(job|deployment)/([a-z0-9-]+)")  # kubectl wait ... job/x
# How the docs speak of a kind of object without naming one.
KIND_PHRASES = {"HorizontalPodAutoscaler": ("HPA", "autoscaler owns"), "Job": ("migration Job",)}


def test_arch2_the_docs_describe_only_objects_the_manifests_have(
    project: GeneratedProject, rendered: list[Rendered]
) -> None:
    """A SQLite service has no autoscaler, migration Job or worker Deployment: its docs must not
    describe them, nor tell anyone to wait for them."""
    objects = {
        (document["kind"], document["metadata"]["name"])
        for overlay in rendered
        for document in overlay.documents
    }
    kinds = {kind for kind, _ in objects}
    problems = []
    for page in ("README.md", "docs/deployment.md", "docs/database.md"):
        text = (project.path / page).read_text()
        for kind, name in DOCUMENTED_OBJECT.findall(text):
            if (kind, name) not in objects:
                problems.append(f"{page} describes {kind} {name}")
        problems += [f"{page} describes a {kind}" for kind in DOCUMENTED_KIND.findall(text)
                     if kind not in kinds]  # fmt: skip
        for kind, name in COMMAND_OBJECT.findall(text):
            if (kind.capitalize(), name) not in objects:
                problems.append(f"{page} runs a command on {kind}/{name}")
        for kind, phrases in KIND_PHRASES.items():
            if kind not in kinds:
                problems += [f"{page} says {phrase!r}" for phrase in phrases if phrase in text]
    assert not problems, "\n".join(problems)


CONNECTION_BUDGET = re.compile(
    r"maximum of\s+(\d+)\s+API\s+replicas\s+and\s+(\d+)\s+workers,\s+(\d+) x (\d+) = (\d+)"
)
SOURCE_PATH = re.compile(r"\bsrc/[\w/]+\.py\b")


def test_db1_the_docs_connection_budget_is_production_s(
    project: GeneratedProject, rendered: list[Rendered]
) -> None:
    """docs/database.md sizes the pool for production's most replicas; the kustomization names
    the settings file that exists."""
    kustomization = (project.path / "deploy" / "k8s" / "base" / "kustomization.yaml").read_text()
    for path in SOURCE_PATH.findall(kustomization):
        assert (project.path / path).is_file(), f"base/kustomization.yaml names {path}"
    found = CONNECTION_BUDGET.findall((project.path / "docs" / "database.md").read_text())
    if project.answers["database"] != "postgresql":
        # A SQLite service runs one pod: no replicas to budget connections for.
        assert found == [], found
        return
    production = next(overlay for overlay in rendered if overlay.overlay == "production")
    api = production.one("HorizontalPodAutoscaler")["spec"]["maxReplicas"]
    workers = _deployment(production, "worker")["spec"]["replicas"]
    assert len(found) == 1, found
    per_process = 10 + 5  # DATABASE_POOL_SIZE + DATABASE_MAX_OVERFLOW, the defaults
    expected = (api, workers, api + workers, per_process, (api + workers) * per_process)
    assert tuple(map(int, found[0])) == expected


def test_arch2_cfg2_manifests_set_only_real_settings_and_secrets_come_from_secrets(
    synced_project: GeneratedProject, rendered: list[Rendered]
) -> None:
    """Each variable the manifests set names a settings field (env = field name, upper-cased)."""
    fields = json.loads(
        uv_run(
            synced_project.path,
            "python",
            "-c",
            "import json; from goldenpath_chassis.settings import variables; "
            f"from {synced_project.package}.settings import Settings; "
            "print(json.dumps(sorted(variables(Settings))))",
        ).stdout
    )
    known = {field.upper() for field in fields}
    secrets = {
        "DATABASE_URL",
        "REDIS_URL",
        "AUTH_SESSION_SECRET",
        "AUTH_SESSION_SECRET_PREVIOUS",
    } & known
    for overlay in rendered:
        for name in _configmap_values(overlay):
            assert name in known or name.startswith("OTEL_"), f"{overlay.overlay}: {name}"
        for where, pod in overlay.pod_specs():
            for container in pod["containers"] + pod.get("initContainers", []):
                names = set()
                for variable in container.get("env", []):
                    names.add(variable["name"])
                    assert variable["name"] in known, f"{where}: {variable['name']}"
                    if variable["name"] in secrets:
                        assert "secretKeyRef" in variable["valueFrom"], f"{where}: {variable}"
                        assert "value" not in variable
                    if variable["name"] == "AUTH_SESSION_SECRET_PREVIOUS":
                        # Only there during a rotation: a required key would stop every pod.
                        assert variable["valueFrom"]["secretKeyRef"]["optional"] is True
                configured = names | set(_configmap_values(overlay))
                assert {"REDIS_URL", "DATABASE_URL"} <= configured, f"{where} lacks a URL"
                # What production refuses to start without (SEC-3, CFG-1).
                required = {"AUTH_JWT_ISSUER", "AUTH_JWT_AUDIENCE", "AUTH_SESSION_SECRET"}
                assert required <= configured, f"{where} lacks {required - configured}"
                assert configured & {"AUTH_JWT_JWKS_URL", "AUTH_JWT_PUBLIC_KEY"}, where
