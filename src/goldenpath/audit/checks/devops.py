"""OPS-1..3: the image, security scanning, and the CI/CD pipeline."""

from __future__ import annotations

import re

from goldenpath.audit.facts import Facts
from goldenpath.audit.facts.dockerfile import DIGEST
from goldenpath.audit.model import Evidence, Requirement

from ._base import Assessment, check, found, listing, skipped, verdict

ROOT_USERS = {"root", "0", "0:0", "root:root"}
BUILD_TOOLS = re.compile(
    r"\b(build-essential|gcc|g\+\+|make|clang|libpq-dev|python3?-dev|git|curl|wget)\b"
)
MINIMAL_RUNTIMES = re.compile(r"(distroless|chainguard|cgr\.dev|wolfi|^scratch$)")


@check("OPS-1")
def image(facts: Facts) -> Assessment:
    dockerfile = facts.dockerfile
    if dockerfile is None or dockerfile.final is None:
        return [
            found(
                "Dockerfile",
                [],
                met="",
                missing="no Dockerfile: the service is not built into an image",
                fix="add a multi-stage Dockerfile: a builder stage and a distroless, "
                "non-root runtime",
            )
        ]
    final = dockerfile.final
    copies_from = [i for i in final.all("COPY") if "--from" in i.arguments]
    requirements = [
        verdict(
            "multi-stage build",
            len(dockerfile.stages) > 1 and bool(copies_from),
            f"{len(dockerfile.stages)} stages; the runtime copies only the build's output"
            if len(dockerfile.stages) > 1 and copies_from
            else "one stage: build tools ship in the image",
            [dockerfile.evidence(i.line, "COPY --from") for i in copies_from]
            or [dockerfile.evidence(final.line, "FROM")],
            fix="build in a builder stage and COPY --from it into a slim runtime stage",
        )
    ]
    minimal = bool(MINIMAL_RUNTIMES.search(final.base.split("@")[0]))
    requirements.append(
        verdict(
            "distroless runtime",
            minimal,
            f"the runtime is {final.base.split('@')[0]} (no shell, no package manager)"
            if minimal
            else f"the runtime is {final.base.split('@')[0] or final.image}: a full OS with "
            "a shell",
            [dockerfile.evidence(final.line, f"FROM {final.image}")],
            fix="run on gcr.io/distroless/python3 (or another distroless image)",
        )
    )
    user = dockerfile.user_of(final) or ""
    nonroot = (user and user.split(":")[0] not in ROOT_USERS) or (
        "nonroot" in final.base and user == ""
    )
    user_line = final.last("USER")
    requirements.append(
        verdict(
            "non-root user",
            bool(nonroot),
            f"runs as {user or 'the image default nonroot user'}" if nonroot else "runs as root",
            [
                dockerfile.evidence(
                    user_line.line if user_line else final.line, f"USER {user or '(none)'}"
                )
            ],
            fix="add USER 65532:65532 (or another unprivileged uid) to the runtime stage",
        )
    )
    unpinned = [
        (stage, image) for stage, image in dockerfile.external_images if not DIGEST.search(image)
    ]
    requirements.append(
        verdict(
            "base images pinned by digest",
            not unpinned and bool(dockerfile.external_images),
            "every base image is pinned by digest"
            if not unpinned
            else f"{len(unpinned)} base image(s) follow a moving tag: "
            f"{', '.join(image for _, image in unpinned)}",
            [
                dockerfile.evidence(stage.line, f"FROM {image}")
                for stage, image in (unpinned or dockerfile.external_images)
            ],
            fix="pin every FROM by digest (image:tag@sha256:...) and let Dependabot bump it",
        )
    )
    requirements.append(
        found(
            ".dockerignore",
            [Evidence(".dockerignore")] if facts.repository.exists(".dockerignore") else [],
            met="the build context leaves out .git, .env and the virtual environment",
            missing="no .dockerignore: .env, .git and .venv are sent to the builder",
            fix="add a .dockerignore (an allow-list: * then !src/ !pyproject.toml !uv.lock)",
            where=[dockerfile.evidence(None, "")],
        )
    )
    tools = [
        dockerfile.evidence(run.line, match.group(0))
        for run in final.all("RUN")
        if (match := BUILD_TOOLS.search(run.arguments))
    ]
    requirements.append(
        verdict(
            "no build tools in the runtime",
            not tools,
            "the runtime stage installs nothing"
            if not tools
            else "the runtime stage installs build tools",
            tools or [dockerfile.evidence(final.line, "runtime stage")],
            fix="install compilers and headers in the builder stage only",
        )
    )
    return requirements


@check("OPS-2")
def scanning(facts: Facts) -> Assessment:
    search = facts.ci.search
    image_scan = search(
        r"(trivy-action|trivy (image|i )|anchore/scan-action|grype|snyk container|"
        r"docker scout)"
    )
    image_scan = [
        e for e in image_scan if not re.search(r"scan-type=(config|fs)", e.detail)
    ] or image_scan
    config_scan = search(
        r"(scan-type=config|trivy (config|conf)|checkov|kics|kubescape|kube-linter|"
        r"hadolint|conftest)"
    )
    sarif = search(r"upload-sarif")
    dependencies = search(
        r"(pip-audit|safety check|safety scan|osv-scanner|dependency-review-action|"
        r"snyk test|uv audit)"
    )
    secrets = search(r"(trufflehog|gitleaks|detect-secrets|ggshield|secretlint)")
    return [
        found(
            "image scan",
            image_scan,
            met="the built image is scanned for vulnerabilities",
            missing="the image is never scanned",
            fix="scan the image in CI with Trivy",
        ),
        found(
            "configuration scan",
            config_scan,
            met="the Dockerfile and manifests are scanned for misconfigurations",
            missing="the Dockerfile and manifests are never scanned",
            fix="run `trivy config` over the repository in CI",
        ),
        found(
            "SARIF to code scanning",
            sarif,
            met="findings appear in GitHub code scanning",
            missing="scan results are not uploaded to code scanning",
            fix="upload the scanners' SARIF with github/codeql-action/upload-sarif",
        ),
        found(
            "dependency audit",
            dependencies,
            met="locked dependencies are audited against advisories",
            missing="dependencies are never audited for known vulnerabilities",
            fix="run pip-audit over the exported lock file in CI",
        ),
        found(
            "secret scanning",
            secrets,
            met="commits are scanned for secrets",
            missing="no secret scanning",
            fix="scan the history with TruffleHog or gitleaks",
        ),
    ]


@check("OPS-3")
def pipeline(facts: Facts) -> Assessment:
    workflows = facts.ci.workflows
    ci = [Evidence(w.path) for w in workflows] + [
        Evidence(p)
        for p in facts.ci.other_files
        if p not in {".pre-commit-config.yaml", "Makefile", "justfile", "tox.ini", "noxfile.py"}
    ]
    requirements: list[Requirement] = [
        found(
            "CI pipeline",
            ci,
            met="every push runs a pipeline",
            missing="no CI pipeline",
            fix="add a GitHub Actions workflow that runs on pushes and pull requests",
        )
    ]
    if not ci:
        return requirements

    def search(pattern: str) -> list[Evidence]:
        return facts.ci.search(pattern, include_hooks=False)

    gates = {
        "lint": search(r"\b(ruff|flake8|pylint|black)\b"),
        "types": search(r"\b(mypy|pyright|pytype|basedpyright)\b"),
        "tests": search(r"\b(pytest|tox|nox|manage\.py test|unittest)\b"),
    }
    absent = [gate for gate, hits in gates.items() if not hits]
    requirements.append(
        verdict(
            "lint, types and tests",
            not absent,
            "CI lints, type-checks and tests"
            if not absent
            else f"CI does not run: {', '.join(absent)}",
            [hits[0] for hits in gates.values() if hits] or ci,
            fix="run ruff, mypy and pytest in CI",
        )
    )
    declared = facts.dependencies.names(runtime_only=True)
    if declared & {
        "psycopg",
        "psycopg2",
        "psycopg2-binary",
        "asyncpg",
        "redis",
        "pymysql",
        "pymongo",
    }:
        services = [
            Evidence(w.path, None, f"{name}: services {', '.join(job['services'])}")
            for w in workflows
            for name, job in w.jobs.items()
            if job.get("services")
        ] + search(r"(docker compose up|docker-compose up|testcontainers)")
        requirements.append(
            found(
                "tests with real services",
                services,
                met="CI tests against real database and cache servers",
                missing="CI has no database or cache service for the tests",
                fix="give the test job PostgreSQL and Redis service containers",
            )
        )
    else:
        requirements.append(skipped("tests with real services", "no database or cache server"))
    requirements.append(
        found(
            "image built in CI",
            search(
                r"(docker build|build-push-action|buildah|kaniko|docker buildx|"
                r"docker[- ]compose\b.*\bbuild\b)"
            ),
            met="CI builds the image",
            missing="CI never builds the image",
            fix="build the image in CI (docker/build-push-action)",
        )
    )
    requirements.append(
        found(
            "release to a registry",
            search(r"(docker push|push=True|login-action|gcloud auth configure-docker|ecr-login)"),
            met="releases push the image to a registry",
            missing="nothing publishes the image",
            fix="on a version tag, push the image to a registry (GHCR) with an SBOM and provenance",
        )
    )
    if workflows:
        uses = facts.ci.uses_lines
        unpinned = [line for line in uses if not line.pinned]
        requirements.append(
            verdict(
                "actions pinned by commit SHA",
                not unpinned and bool(uses),
                f"all {len(uses)} actions are pinned by commit SHA"
                if uses and not unpinned
                else "no actions used"
                if not uses
                else f"{len(unpinned)} of {len(uses)} actions follow a movable tag: "
                + listing([line.evidence() for line in unpinned]),
                [line.evidence() for line in unpinned] or [line.evidence() for line in uses],
                fix="pin each action to a full commit SHA with the version in a comment",
            )
        )
        loose = []
        for workflow in workflows:
            permissions = workflow.data.get("permissions")
            if permissions is None or permissions == "write-all":
                loose.append(Evidence(workflow.path, 1, "no read-only default permissions"))
            for name, job in workflow.jobs.items():
                if job.get("permissions") == "write-all":
                    loose.append(Evidence(workflow.path, None, f"{name}: write-all"))
        requirements.append(
            verdict(
                "least-privilege permissions",
                not loose,
                "every workflow defaults to read-only permissions"
                if not loose
                else f"workflows with broad permissions: {listing(loose)}",
                loose or [Evidence(w.path) for w in workflows],
                fix="set `permissions: contents: read` at the top of each workflow; widen per job",
            )
        )
    return requirements
