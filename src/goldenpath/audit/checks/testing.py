"""TEST-1..3: integration tests against real services, load tests, contract tests."""

from __future__ import annotations

import ast
import re

from goldenpath.audit.facts import SERVER_DATABASE_DRIVERS, Facts
from goldenpath.audit.facts.files import COMPOSE_FILES
from goldenpath.audit.facts.python import PythonModule, dotted, last_name
from goldenpath.audit.facts.symbols import Local
from goldenpath.audit.model import Evidence, Requirement

from ._base import Assessment, check, found, skipped
from ._server_urls import server_urls


def _test_functions(facts: Facts) -> list[Evidence]:
    return [
        module.evidence(node, node.name)
        for module in facts.code.tests
        for node in module.functions()
        if node.name.startswith("test")
    ]


def _real_services(facts: Facts) -> list[Evidence]:
    found_ = facts.uses(
        "testcontainers",
        "pytest-postgresql",
        "pytest-redis",
        "pytest-docker",
        "pytest-mysql",
        "pytest-mongo",
        runtime_only=False,
    )
    unmocked = [module for module in facts.code.tests if not _mocks_attributes(module)]
    found_ += facts.code.find_tokens(
        r"(^initdb$|pg_ctl|redis-server|TEST_DATABASE_URL|TEST_REDIS_URL|PostgresContainer|"
        r"RedisContainer)",
        modules=unmocked,
        limit=3,
    )
    found_ += server_urls(unmocked, limit=3)
    for workflow in facts.ci.workflows:
        for job_name, job in workflow.jobs.items():
            services = job.get("services") or {}
            if isinstance(services, dict) and services:
                found_.append(
                    Evidence(workflow.path, None, f"{job_name}: services {', '.join(services)}")
                )
    servers = _compose_servers(facts)
    if servers:
        found_ += [
            Evidence(e.path, e.line, f"{e.detail} ({', '.join(servers)})")
            for e in facts.ci.search(r"docker[- ]compose\b.*\bup\b", include_hooks=False)
        ]
    return found_


MOCKS = frozenset({"Mock", "MagicMock", "AsyncMock", "NonCallableMock"})


def _mocks_attributes(module: PythonModule) -> bool:
    """A test module that replaces methods with mocks (`layer.execute_query = AsyncMock()`):
    the database URL it builds its object with is a placeholder no query ever reaches."""
    return any(
        isinstance(node, ast.Assign)
        and any(isinstance(target, ast.Attribute) for target in node.targets)
        and isinstance(node.value, ast.Call)
        and last_name(node.value.func) in MOCKS
        for node in module.nodes
    )


SERVER_IMAGES = re.compile(r"^(\S+/)?(postgres|postgis|mysql|mariadb|mongo|redis|valkey)\b")


def _compose_servers(facts: Facts) -> list[str]:
    """Database and cache servers the compose files define (what `docker compose up` starts)."""
    found_ = []
    for path in facts.repository.files:
        if path.rsplit("/", 1)[-1] not in COMPOSE_FILES:
            continue
        for document in facts.repository.yaml_documents(path):
            services = document.get("services") if isinstance(document, dict) else None
            for name, service in (services or {}).items():
                image = str(service.get("image", "")) if isinstance(service, dict) else ""
                if SERVER_IMAGES.match(image):
                    found_.append(f"{name}: {image}")
    return found_


@check("TEST-1")
def integration_tests(facts: Facts) -> Assessment:
    tests = _test_functions(facts)
    requirements: list[Requirement] = [
        found(
            "test suite",
            tests,
            met=f"{len(tests)} test functions",
            missing="no tests",
            fix="add a pytest suite (tests/unit, tests/integration)",
        )
    ]
    through_app = facts.code.find_tokens(
        r"^(TestClient|ASGITransport|LifespanManager|test_client|APIClient|APITestCase|FlaskClient|"
        r"AsyncClient|WebTestApp)$",
        kinds=("name",),
        tests=True,
        limit=3,
    ) + facts.code.imports_any("django.test", tests=True)
    requirements.append(
        found(
            "API tests through the real application",
            through_app,
            met="tests call the API through the application itself",
            missing="no test calls the API through the application",
            fix="test the API through the app (httpx.AsyncClient with ASGITransport, or "
            "TestClient)",
        )
    )
    declared = facts.dependencies.names(runtime_only=True)
    servers = [name for name in (*SERVER_DATABASE_DRIVERS, "redis") if name in declared]
    if servers:
        requirements.append(
            found(
                "against real databases",
                _real_services(facts),
                met="integration tests run against real servers",
                missing=f"the service uses {', '.join(servers)} but no test starts or "
                "reaches a real "
                "server (mocks or SQLite stand in for them)",
                fix="run the integration tests against real PostgreSQL and Redis (CI service "
                "containers, or servers the tests start)",
            )
        )
    else:
        requirements.append(skipped("against real databases", "no database or cache server"))
    return requirements


@check("TEST-2")
def load_tests(facts: Facts) -> Assessment:
    files = [
        Evidence(path, None, "load scenario")
        for path in facts.repository.files
        if re.search(
            r"(^|/)locustfile[^/]*\.py$|(^|/)(k6|load)[^/]*\.js$|artillery[^/]*\.ya?ml$|\.jmx$",
            path,
        )
    ]
    locust_users = [
        module.evidence(node, node.name)
        for module in facts.code.all_modules
        for node in module.classes()
        if "locust" in module.imported_modules
    ]
    scenario = files + locust_users
    requirements = [
        found(
            "load scenario",
            scenario,
            met="a load scenario exercises the API",
            missing="no load test scenario",
            fix="write a Locust scenario (tests/load/locustfile.py) for the API's main requests",
        )
    ]
    if not scenario:
        return requirements
    load_paths = {evidence.path.rsplit("/", 1)[0] for evidence in scenario}
    in_load = [
        path
        for path in facts.repository.files
        if any(path.startswith(prefix + "/") or path == prefix for prefix in load_paths)
    ]
    thresholds = []
    for path in in_load:
        text = facts.repository.text(path) or ""
        match = re.search(
            r"(threshold|p9[059]|percentile|max_error|fail_ratio|error_rate)", text, re.IGNORECASE
        )
        if match:
            thresholds.append(
                Evidence(path, text.count("\n", 0, match.start()) + 1, match.group(0))
            )
    requirements.append(
        found(
            "latency and error thresholds",
            thresholds,
            met="the run fails past latency and error-rate thresholds",
            missing="the load run has no pass/fail thresholds: it measures but never fails",
            fix="fail the run when p95 latency or the error rate passes a threshold",
            where=scenario,
        )
    )
    headless = facts.ci.search(
        r"(locust\b.*--headless|k6 run|artillery run|-m\s+['\"]?load|tests/load)"
    )
    headless += [
        Evidence(path, None, "run by the test suite")
        for path in in_load
        if re.search(r"(^|/)test_[^/]*\.py$", path)
    ]
    requirements.append(
        found(
            "runs headless in CI",
            headless,
            met="the scenario runs headless in CI or in the test suite",
            missing="the scenario is never run automatically",
            fix="run a short headless smoke of the scenario in CI against a live server",
            where=scenario,
        )
    )
    return requirements


SCHEMATHESIS_LOADERS = re.compile(r"^schemathesis\.(openapi\.|graphql\.|pytest\.)?from_\w+$")


def _property_based(facts: Facts) -> list[Evidence]:
    """Tests that run generated requests: a Schemathesis schema loaded in a test module and used
    by a test (`@schema.parametrize()`, a state machine), or Pact interactions verified."""
    found_: list[Evidence] = []
    for module in facts.code.tests:
        loaders = [
            call
            for call in module.calls()
            if (symbol := facts.symbols.resolve(module, call.func)) is not None
            and hasattr(symbol, "name")
            and SCHEMATHESIS_LOADERS.match(str(getattr(symbol, "name", "")))
        ]
        used = [
            function
            for function in module.functions()
            if function.name.startswith("test")
            and (
                any(
                    isinstance(d, ast.Call)
                    and last_name(d.func) == "parametrize"
                    and "schema" in dotted(d.func).lower()
                    for d in function.decorator_list
                )
                or any(
                    isinstance(n, ast.Call)
                    and last_name(n.func)
                    in {"as_state_machine", "call_and_validate", "run_state_machine_as_test"}
                    for n in ast.walk(function)
                )
            )
        ]
        stateful = any(
            isinstance(n, ast.Call) and last_name(n.func) == "as_state_machine"
            for n in module.nodes
        )
        if loaders and (used or stateful):
            found_.append(
                module.evidence(
                    used[0] if used else loaders[0], "Schemathesis over the OpenAPI document"
                )
            )
        elif "pact" in {name.split(".")[0] for name in module.imported_modules} and any(
            last_name(call.func) in {"verify", "verify_with_broker", "verify_pacts"}
            for call in module.calls()
        ):
            found_.append(Evidence(module.path, None, "Pact verification"))
    return found_


DIFF_KEYS = frozenset({"required", "responses", "parameters", "properties", "requestBody"})


def _reads_openapi_structure(
    facts: Facts,
    module: PythonModule,
    function: ast.FunctionDef | ast.AsyncFunctionDef,
    depth: int = 0,
) -> bool:
    """Whether a function (or one it calls) walks an OpenAPI document's paths and their
    parameters, bodies or responses: what telling a breaking change apart takes."""
    memo: dict[int, bool] = facts.__dict__.setdefault("_openapi_readers", {})
    if id(function) not in memo:
        memo[id(function)] = False
        memo[id(function)] = _walks_openapi(facts, module, function, depth)
    return memo[id(function)]


def _walks_openapi(
    facts: Facts,
    module: PythonModule,
    function: ast.FunctionDef | ast.AsyncFunctionDef,
    depth: int,
) -> bool:
    keys = {
        value
        for node in ast.walk(function)
        if isinstance(node, ast.Constant) and isinstance(value := node.value, str)
    }
    if "paths" in keys and keys & DIFF_KEYS:
        return True
    if depth >= 2:
        return False
    for node in ast.walk(function):
        symbol = facts.symbols.resolve(module, node.func) if isinstance(node, ast.Call) else None
        if (
            isinstance(symbol, Local)
            and isinstance(symbol.node, ast.FunctionDef | ast.AsyncFunctionDef)
            and symbol.node is not function
            and _reads_openapi_structure(facts, symbol.module, symbol.node, depth + 1)
        ):
            return True
    return False


def _document_diffs(facts: Facts) -> list[Evidence]:
    """Tests that compare the generated OpenAPI document with another one structurally."""
    found_: list[Evidence] = []
    for module in facts.code.tests:
        for function in module.functions():
            if not function.name.startswith("test"):
                continue
            for node in ast.walk(function):
                if not (isinstance(node, ast.Call) and len(node.args) + len(node.keywords) >= 2):
                    continue
                symbol = facts.symbols.resolve(module, node.func)
                if (
                    isinstance(symbol, Local)
                    and isinstance(symbol.node, ast.FunctionDef | ast.AsyncFunctionDef)
                    and _reads_openapi_structure(facts, symbol.module, symbol.node)
                ):
                    found_.append(
                        module.evidence(node, f"{dotted(node.func)}() compares OpenAPI documents")
                    )
                    break
    return found_


@check("TEST-3")
def contract_tests(facts: Facts) -> Assessment:
    property_based = _property_based(facts)
    property_based += facts.ci.search(r"(schemathesis|\bst) run\b")
    requirements = [
        found(
            "property-based API tests",
            property_based,
            met="generated requests exercise every operation of the OpenAPI document",
            missing="no contract tests over the OpenAPI document",
            fix="run Schemathesis over the whole OpenAPI document in the test suite",
        )
    ]
    snapshots = [
        Evidence(path, None, "OpenAPI snapshot")
        for path in facts.repository.files
        if re.search(r"(^|/)(openapi|swagger)[^/]*\.(json|ya?ml)$", path)
        and not path.startswith((".github/", "node_modules/"))
    ]
    used = [
        evidence
        for snapshot in snapshots
        for evidence in facts.code.find_tokens(
            re.escape(snapshot.path.rsplit("/", 1)[-1]), kinds=("string",), tests=True, limit=1
        )
    ]
    requirements.append(
        found(
            "committed OpenAPI snapshot",
            used,
            met="the reviewed OpenAPI document is committed and tests compare against it",
            missing="no committed OpenAPI document the tests compare with"
            if not snapshots
            else "an OpenAPI file is committed but no test reads it",
            fix="commit openapi.json and test that the generated document matches it",
            where=snapshots,
        )
    )
    breaking = _document_diffs(facts) + facts.ci.search(r"(oasdiff|openapi-diff|optic diff)")
    requirements.append(
        found(
            "breaking changes fail the build",
            breaking,
            met="a breaking API change fails unless the API version changes",
            missing="nothing tells a breaking API change from a compatible one",
            fix="diff the generated document against the snapshot and fail on breaking changes "
            "unless the major version changed",
            where=snapshots,
        )
    )
    return requirements
