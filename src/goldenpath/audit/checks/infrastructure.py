"""INF-1..3: one process per container, health endpoints, graceful shutdown."""

from __future__ import annotations

import ast
import configparser
import re
import shlex
from collections.abc import Iterator

from goldenpath.audit.facts import Facts
from goldenpath.audit.facts.files import Repository
from goldenpath.audit.facts.python import keyword, names_in
from goldenpath.audit.model import Evidence, Requirement

from ._base import Assessment, check, found, skipped, verdict
from ._lifespan import lifespan_closes

SERVERS = re.compile(r"\b(uvicorn|gunicorn|hypercorn|granian|daphne|waitress|uwsgi|fastapi run)\b")
LIVENESS = r"^/(health/?live(ness)?|livez|healthz|health|live|ping|_?health/?alive)/?$"
READINESS = r"^/(health/?ready|health/?readiness|readyz|ready|_?health/?ready)/?$"


def _script(facts: Facts, words: list[str]) -> str | None:
    """The repository file a command runs (`/app/bin/docker-entrypoint`, `./start.sh`), by its
    path inside the image matched to a file of the same name in the repository."""
    for word in words[:3]:
        if word in {"sh", "bash", "/bin/sh", "/bin/bash", "exec", "-c"} or word.startswith("-"):
            continue
        name = word.rsplit("/", 1)[-1]
        if not name or ("." in name and not name.endswith(".sh")):
            continue
        candidates = [
            path
            for path in facts.repository.files
            if path.rsplit("/", 1)[-1] == name and not path.endswith(".py")
        ]
        candidates.sort(key=lambda path: (not word.endswith(path), path.count("/")))
        if candidates:
            return candidates[0]
    return None


def _script_commands(facts: Facts, path: str) -> Iterator[tuple[Evidence, list[str]]]:
    """The server commands an entry-point script runs."""
    text = facts.repository.text(path) or ""
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("#") or not SERVERS.search(stripped):
            continue
        try:
            words = shlex.split(stripped, comments=True)
        except ValueError:
            words = stripped.split()
        if words[:1] in (["echo"], ["printf"]):  # says the server's name, starts nothing
            continue
        yield Evidence(path, number, stripped[:100]), words


def _servers_started_without_exec(facts: Facts, script: str) -> list[Evidence]:
    """The server lines of an entry-point script that leaves the shell as PID 1: it `exec`s
    nothing (neither the server nor `"$@"`), and no `trap` passes SIGTERM on."""
    text = facts.repository.text(script) or ""
    if re.search(r"^\s*trap\b.*\b(TERM|SIGTERM|15)\b", text, re.MULTILINE):
        return []
    if re.search(r"(^|[;&|]|\bthen|\belse|\bdo)\s*exec\s", text, re.MULTILINE):
        return []
    return [evidence for evidence, _ in _script_commands(facts, script)]


def _signals_reach_the_server(facts: Facts) -> Requirement:
    dockerfile = facts.dockerfile
    if dockerfile is None or dockerfile.final is None:
        return skipped("signals reach the server", "no Dockerfile")
    final = dockerfile.final
    starts = [item for item in (final.last("ENTRYPOINT"), final.last("CMD")) if item]
    shell = [item for item in starts if item.exec_form is None]
    script = _script(facts, [word for item in starts for word in item.words])
    held = _servers_started_without_exec(facts, script) if script and not shell else []
    if script and held:
        return verdict(
            "signals reach the server",
            False,
            f"the entry-point script {script} starts the server without `exec`: the shell "
            "stays PID 1 and SIGTERM never reaches the server",
            held,
            fix=f'in {script}, start the server with `exec` (exec gunicorn ...) or `exec "$@"`',
        )
    return verdict(
        "signals reach the server",
        bool(starts) and not shell,
        "the image starts the server in exec form, so it is PID 1 and gets SIGTERM"
        if starts and not shell
        else "the image's CMD/ENTRYPOINT is in shell form: /bin/sh is PID 1 and does not pass "
        "SIGTERM on"
        if shell
        else "the image has no CMD or ENTRYPOINT",
        [dockerfile.evidence(item.line, item.keyword) for item in (shell or starts)],
        fix='use the exec form: CMD ["python", "-m", "service"]',
    )


def _uwsgi_ini(facts: Facts, words: list[str]) -> Iterator[tuple[Evidence, list[str]]]:
    """uWSGI's ini file, read as the command-line options it stands for."""
    names = [word.rsplit("/", 1)[-1] for word in words if word.endswith(".ini")]
    for path in facts.repository.files:
        if path.rsplit("/", 1)[-1] not in names:
            continue
        parser = configparser.ConfigParser(allow_no_value=True, strict=False)
        try:
            parser.read_string(facts.repository.text(path) or "")
        except configparser.Error:
            facts.repository.unread(path, "unparseable ini file")
            continue
        if parser.has_section("uwsgi"):
            for option in ("processes", "workers"):
                value = parser.get("uwsgi", option, fallback=None)
                if value:
                    text = facts.repository.text(path) or ""
                    line = Repository.line_of(text, option)
                    yield Evidence(path, line, f"{option} = {value}"), ["--processes", value]


def server_commands(facts: Facts) -> Iterator[tuple[Evidence, list[str]]]:
    """How the service is started: the image's CMD/ENTRYPOINT (and the script or uWSGI ini it
    runs), Procfile, Kubernetes commands."""
    if facts.dockerfile is not None and facts.dockerfile.final is not None:
        final = facts.dockerfile.final
        entry = final.last("ENTRYPOINT")
        command = final.last("CMD")
        words = (entry.words if entry else []) + (command.words if command else [])
        first = entry or command
        start = first.line if first is not None else None
        if words:
            yield facts.dockerfile.evidence(start, " ".join(words)[:100]), words
            script = _script(facts, words)
            if script is not None:
                yield from _script_commands(facts, script)
            if "uwsgi" in " ".join(words):
                yield from _uwsgi_ini(facts, words)
    procfile = facts.repository.text("Procfile")
    if procfile:
        for number, line in enumerate(procfile.splitlines(), start=1):
            if ":" in line:
                yield (
                    Evidence("Procfile", number, line.strip()[:100]),
                    line.split(":", 1)[1].split(),
                )
    for workload in facts.kubernetes.workloads:
        for container in workload.containers():
            words = [
                str(w) for w in (container.get("command") or []) + (container.get("args") or [])
            ]
            if words:
                yield workload.evidence(" ".join(words)[:100]), words


def _worker_count(words: list[str]) -> int | None:
    for index, word in enumerate(words):
        for flag in ("-w", "--workers", "--processes", "--threads-per-worker"):
            if word == flag and index + 1 < len(words):
                return _int(words[index + 1])
            if word.startswith(flag + "="):
                return _int(word.split("=", 1)[1])
        if word.startswith("-w") and len(word) > 2 and not word.startswith("-wo"):
            return _int(word[2:])
    return None


def _int(text: str) -> int | None:
    """A worker count as written: a number, a variable's default (`${WORKERS:-4}`), or more
    than one for what only the machine knows (`$(nproc)`)."""
    if text.isdigit():
        return int(text)
    default = re.search(r"\$\{\w+:?-(\d+)\}", text)
    if default:
        return int(default.group(1))
    return 2


def _server_calls(facts: Facts) -> tuple[list[Evidence], list[Evidence]]:
    """uvicorn/hypercorn/granian started from code: (entry points, those forking workers)."""
    entry_points, forking = [], []
    for module, call in facts.code.calls_named("run", "Config", "Server"):
        callee = ast.unparse(call.func)
        root = callee.split(".")[0]
        if not module.imports.get(root, root).startswith(("uvicorn", "hypercorn", "granian")):
            continue
        value = facts.symbols.value(module, keyword(call, "workers"))
        workers = value if isinstance(value, int) else None
        entry_points.append(module.evidence(call, f"{callee}(workers={workers})"))
        if isinstance(workers, int) and workers > 1:
            forking.append(module.evidence(call, f"{callee} forks {workers} workers"))
    return entry_points, forking


def _configured_workers(facts: Facts) -> list[Evidence]:
    """Worker counts above one in gunicorn config files or WEB_CONCURRENCY in the image."""
    forking = []
    for path in facts.repository.files:
        if re.search(r"(^|/)gunicorn(\.conf|_conf|_config|conf)?\.py$", path):
            text = facts.repository.text(path) or ""
            match = re.search(r"^workers\s*=\s*(.+)$", text, re.MULTILINE)
            if match and match.group(1).split("#")[0].strip() != "1":
                line = text.count("\n", 0, match.start()) + 1
                forking.append(Evidence(path, line, f"workers = {match.group(1).strip()}"))
    if facts.dockerfile is not None and facts.dockerfile.final is not None:
        for env in facts.dockerfile.final.all("ENV"):
            match = re.search(r"WEB_CONCURRENCY[= ]+(\d+)", env.arguments)
            if match and int(match.group(1)) > 1:
                forking.append(facts.dockerfile.evidence(env.line, match.group(0)))
    return forking


@check("INF-1")
def single_process(facts: Facts) -> Assessment:
    entry_points, forking = _server_calls(facts)
    for evidence, words in server_commands(facts):
        text = " ".join(words)
        if SERVERS.search(text) or "python" in text or words[0].startswith("/"):
            entry_points.append(evidence)
        count = _worker_count(words)
        if count is not None and count > 1:
            forking.append(Evidence(evidence.path, evidence.line, f"{count} worker processes"))
        if "supervisord" in text or re.search(r"(^|\s)&(\s|$)", text):
            forking.append(Evidence(evidence.path, evidence.line, "several processes"))
    forking += _configured_workers(facts)
    requirements = [
        found(
            "server entry point",
            entry_points,
            met="the service starts one server process",
            missing="no server entry point found (no uvicorn/gunicorn call, image command or "
            "Procfile)",
            fix="start the server from code (uvicorn.Config/uvicorn.run) or as the image's CMD",
        ),
    ]
    if entry_points:
        requirements.append(
            verdict(
                "no in-process workers",
                not forking,
                "scaling is left to the orchestrator"
                if not forking
                else "the container forks several server processes; the orchestrator cannot see "
                "or scale them",
                forking or entry_points,
                fix="run one worker per container (no --workers/-w, no supervisord) and scale "
                "with replicas (a HorizontalPodAutoscaler)",
            )
        )
    return requirements


def _handler_mentions(route_handler: ast.AST | None, pattern: str) -> bool:
    if route_handler is None:
        return False
    words = names_in(route_handler) | {
        str(node.value) for node in ast.walk(route_handler) if isinstance(node, ast.Constant)
    }
    return any(re.search(pattern, word, re.IGNORECASE) for word in words)


@check("INF-2")
def health_endpoints(facts: Facts) -> Assessment:
    live = facts.routes.with_path(LIVENESS)
    ready = facts.routes.with_path(READINESS)
    requirements = [
        found(
            "liveness endpoint",
            [route.evidence() for route in live],
            met="a liveness route the orchestrator can probe",
            missing="no liveness route (/health/live, /livez or /healthz)",
            fix="add GET /health/live answering 200 without touching any dependency",
        ),
        found(
            "readiness endpoint",
            [route.evidence() for route in ready],
            met="a readiness route separate from liveness",
            missing="no readiness route (/health/ready or /readyz): the orchestrator cannot tell "
            "a replica whose dependencies are down",
            fix="add GET /health/ready that checks every dependency with a short timeout",
        ),
    ]
    if ready:
        answers_503 = [
            route.evidence("can answer 503")
            for route in ready
            if _handler_mentions(route.handler, r"^(503|SERVICE_UNAVAILABLE|HTTP_503.*)$")
            or _handler_mentions(route.handler, r"unavailable")
        ]
        requirements.append(
            found(
                "readiness reports failure",
                answers_503,
                met="readiness answers 503 when a dependency is down",
                missing="the readiness handler never answers 503",
                fix="answer 503 with a per-dependency report when a check fails",
                where=[route.evidence() for route in ready],
            )
        )
    return requirements


@check("INF-3")
def graceful_shutdown(facts: Facts) -> Assessment:
    requirements: list[Requirement] = []
    bounded: list[Evidence] = []
    for module, call in facts.code.calls_named("Config", "run"):
        value = keyword(call, "timeout_graceful_shutdown")
        if value is not None:
            bounded.append(module.evidence(call, "timeout_graceful_shutdown"))
    bounded += facts.code.find_tokens(r"^graceful_timeout$", kinds=("name",))
    for evidence, words in server_commands(facts):
        text = " ".join(words)
        if "--timeout-graceful-shutdown" in text or "--graceful-timeout" in text:
            bounded.append(evidence)
        elif "gunicorn" in text:
            bounded.append(
                Evidence(evidence.path, evidence.line, "gunicorn: graceful_timeout 30 s")
            )
    handlers = [
        module.evidence(call, "SIGTERM handler")
        for module, call in facts.code.calls_named("signal", "add_signal_handler")
        if any("SIGTERM" in ast.unparse(argument) for argument in call.args)
        or any("HANDLED_SIGNALS" in ast.unparse(argument).upper() for argument in call.args)
    ]
    requirements.append(
        found(
            "bounded grace period",
            bounded + handlers,
            met="SIGTERM lets in-flight requests finish within a bounded time",
            missing="no graceful-shutdown timeout: uvicorn waits for open connections without "
            "a bound, and the orchestrator kills the process mid-request",
            fix="set uvicorn's timeout_graceful_shutdown (or gunicorn's graceful_timeout) from "
            "a setting",
        )
    )
    if facts.framework in {"fastapi", "starlette"}:
        closers: list[Evidence] = []
        lifespans: list[Evidence] = []
        for module, call in facts.code.calls_named("FastAPI", "Starlette"):
            if keyword(call, "on_shutdown") is not None:
                closers.append(module.evidence(call, "on_shutdown"))
            lifespan = keyword(call, "lifespan")
            if lifespan is not None:
                lifespans.append(module.evidence(call, "lifespan"))
                closers += lifespan_closes(facts, module, lifespan)
        closers += facts.code.find_tokens(r"^shutdown$", kinds=("string",))
        requirements.append(
            found(
                "resources closed on shutdown",
                closers,
                met="a lifespan closes pools and flushes exporters",
                missing=(
                    "the lifespan closes nothing after its yield"
                    if lifespans
                    else "no lifespan or shutdown hook"
                )
                + ": pools are not closed, buffered spans and metrics are lost",
                fix="pass lifespan= to the app and close every resource in it after the yield",
                where=lifespans,
            )
        )
    ready = facts.routes.with_path(READINESS)
    draining = [
        route.evidence("turns 503 while draining")
        for route in ready
        if _handler_mentions(route.handler, r"drain|shutting|stopping|terminat")
    ]
    draining += [
        workload.evidence("preStop hook")
        for workload in facts.kubernetes.workloads
        for container in workload.containers()
        if (container.get("lifecycle") or {}).get("preStop")
    ]
    requirements.append(
        found(
            "out of rotation before stopping",
            draining,
            met="the service leaves the load balancer before its listener closes",
            missing="nothing takes the replica out of rotation first: requests still routed to it "
            "fail during a rollout",
            fix="turn readiness to 503 on SIGTERM (or add a preStop sleep) before closing",
            where=[route.evidence() for route in ready],
        )
    )
    requirements.append(_signals_reach_the_server(facts))
    workloads = facts.kubernetes.workloads
    if workloads:
        without = [
            w.evidence() for w in workloads if "terminationGracePeriodSeconds" not in w.pod_spec
        ]
        requirements.append(
            verdict(
                "orchestrator grace period",
                not without,
                "every workload sets terminationGracePeriodSeconds"
                if not without
                else "workloads rely on the default 30 s grace period",
                without or [w.evidence() for w in workloads],
                fix="set terminationGracePeriodSeconds above the app's drain + grace periods",
            )
        )
    return requirements
