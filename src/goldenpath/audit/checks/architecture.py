"""ARCH-1..3: layers, statelessness with Kubernetes manifests, queue-based background work."""

from __future__ import annotations

import ast
import re

from goldenpath.audit.facts import Facts
from goldenpath.audit.facts.python import PythonModule, dotted, last_name, names_in
from goldenpath.audit.facts.routes import HTTP_METHODS, Route
from goldenpath.audit.model import Evidence, Requirement

from ._base import Assessment, NotApplicable, check, found, listing, only_if, verdict
from ._job_retries import job_retries
from ._signals import task_queue
from .infrastructure import server_commands

QUERY_CALLS = re.compile(
    r"(\.execute|\.scalars?|\.query\b|\.objects\.|^select$|\.cursor|\.fetch\w*|\.get_or_404|"
    r"\.filter_by|\.add$|\.commit$)"
)
SERVICE_MODULE = re.compile(r"(^|/)(services?|use_?cases?|domain|logic|interactors?)(\.py$|/)")
DATA_MODULE = re.compile(
    r"(^|/)(repositor(y|ies)|repos?|crud|dal|stores?|queries|selectors|dao)(\.py$|/)"
)
DI_LIBRARIES = (
    "dependency-injector",
    "svcs",
    "injector",
    "punq",
    "lagom",
    "wireup",
    "dishka",
    "that-depends",
)


def _handler_calls(route: Route) -> list[str]:
    handler = route.handler
    if isinstance(handler, ast.ClassDef):
        # A resource or class-based view: its get/post/... methods are the handlers.
        bodies = [
            item
            for item in handler.body
            if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
            and item.name in HTTP_METHODS
        ]
    elif isinstance(handler, ast.FunctionDef | ast.AsyncFunctionDef):
        bodies = [handler]
    else:
        return []
    return [
        dotted(node.func)
        for body in bodies
        for node in ast.walk(body)
        if isinstance(node, ast.Call)
    ]


def _service_classes(facts: Facts, business: tuple[Route, ...]) -> list[Evidence]:
    """Classes named `*Service` that other code calls on: named in another module, or in a route
    handler. A class merely named for a product (redash's query runner
    AmazonElasticsearchService, registered in its own module and loaded by a dotted string) is
    no service layer."""
    declared = [
        (module, node)
        for module in facts.code.modules
        for node in module.classes()
        if node.name.endswith("Service")
    ]
    wanted = {node.name for _, node in declared}
    named_in: dict[str, set[str]] = {}
    for module in facts.code.modules:
        for token in module.tokens:
            if token.kind == "name" and token.value in wanted:
                named_in.setdefault(token.value, set()).add(module.path)
    for route in business:
        if route.handler is not None and route.handler_module is not None:
            for name in names_in(route.handler) & wanted:
                named_in.setdefault(name, set()).add(f"{route.handler_module.path} (a handler)")
    return [
        module.evidence(node, node.name)
        for module, node in declared
        if named_in.get(node.name, set()) - {module.path}
    ]


@check("ARCH-1")
def layers(facts: Facts) -> Assessment:
    business = facts.routes.business
    if not business:
        return NotApplicable("no HTTP routes found")
    # One line per route, naming the first query its handler makes.
    querying = [
        route.evidence(f"queries in the handler ({calls[0]})")
        for route in business
        if (
            calls := [
                call
                for call in _handler_calls(route)[:50]
                if QUERY_CALLS.search(call) and not call.startswith(("service", "self.service"))
            ]
        )
    ]
    requirements: list[Requirement] = [
        verdict(
            "handlers do not query the database",
            not querying,
            "route handlers call services, never the database"
            if not querying
            else f"handlers query the database themselves: {listing(querying)}",
            querying or [route.evidence() for route in business[:3]],
            fix="move queries into a repository and business rules into a service the route calls",
        )
    ]
    # A module holding route handlers is the handler layer whatever it is called (redash's
    # handlers/queries.py serves its Query objects).
    handlers = {route.handler_module.path for route in business if route.handler_module}
    handlers |= {route.module.path for route in business}
    layered = [m for m in facts.code.modules if m.path not in handlers]
    services = [Evidence(m.path) for m in layered if SERVICE_MODULE.search(m.path)]
    services += _service_classes(facts, business)
    data = [Evidence(m.path) for m in layered if DATA_MODULE.search(m.path)]
    data += [
        m.evidence(n, n.name)
        for m in facts.code.modules
        for n in m.classes()
        if n.name.endswith(("Repository", "Repo", "Store", "DAO"))
    ]
    requirements.append(
        verdict(
            "service and repository layers",
            bool(services and data),
            "services own the rules, repositories the queries"
            if services and data
            else "missing layer: "
            + " and ".join(
                label
                for label, hits in (("services", services), ("repositories", data))
                if not hits
            ),
            services[:2] + data[:2] or [route.evidence() for route in business[:2]],
            fix="give each domain a service (rules, transaction) and a repository (queries only)",
        )
    )
    injected = facts.uses(*DI_LIBRARIES)
    for module in facts.code.modules:
        for call in module.calls():
            if (
                last_name(call.func) == "Depends"
                and call.args
                and re.search(
                    r"(service|repo|store|uow|unit_of_work)", dotted(call.args[0]), re.IGNORECASE
                )
            ):
                injected.append(module.evidence(call, f"Depends({dotted(call.args[0])})"))
                break
    requirements.append(
        found(
            "wired by dependency injection",
            injected,
            met="routes receive their services by dependency injection, so each layer tests alone",
            missing="layers construct each other directly: none can be tested alone",
            fix="provide services to routes with Depends(get_service) (or a DI container)",
        )
    )
    return requirements


def _module_containers(module: PythonModule) -> set[str]:
    names: set[str] = set()
    for node in module.tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(
            node.value, ast.Dict | ast.List | ast.Set | ast.Call
        ):
            value = node.value
            if isinstance(value, ast.Call) and last_name(value.func) not in {
                "dict",
                "list",
                "set",
                "defaultdict",
                "OrderedDict",
                "deque",
                "Counter",
            }:
                continue
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def _process_state(route: Route) -> list[Evidence]:
    handler = route.handler
    if not isinstance(handler, ast.FunctionDef | ast.AsyncFunctionDef):
        return []
    containers = _module_containers(route.module)
    found_ = []
    for node in ast.walk(handler):
        if isinstance(node, ast.Global):
            found_.append(route.evidence(f"global {', '.join(node.names)}"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if dotted(node.func.value) in containers and node.func.attr in {
                "append",
                "add",
                "update",
                "setdefault",
                "pop",
                "extend",
                "insert",
                "clear",
            }:
                found_.append(route.evidence(f"mutates module-level {dotted(node.func.value)}"))
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Subscript) and dotted(t.value) in containers for t in node.targets
        ):
            found_.append(route.evidence("writes a module-level container"))
    return found_


@check("ARCH-2")
def stateless(facts: Facts) -> Assessment:
    state = [hit for route in facts.routes.business for hit in _process_state(route)]
    requirements: list[Requirement] = [
        verdict(
            "no state in the process",
            not state,
            "request handlers keep no state in the process"
            if not state
            else "handlers keep state in process memory, which replicas do not share: "
            f"{listing(state)}",
            state or [Evidence(m.path) for m in facts.code.modules[:1]],
            fix="keep shared state in the database or Redis, never in module globals",
        )
    ]
    requirements[0] = only_if(bool(facts.routes.business), "no HTTP routes found", requirements[0])
    kube = facts.kubernetes
    workloads = kube.workloads
    templates = kube.chart_templates
    requirements.append(
        found(
            "Kubernetes manifests",
            [w.evidence() for w in workloads] + kube.template_kinds("Deployment"),
            met="the service ships its Kubernetes manifests",
            missing="no Kubernetes manifests (Deployment with probes, resources, autoscaler, "
            "disruption budget)",
            fix="ship a kustomize base: Deployment, Service, HorizontalPodAutoscaler, "
            "PodDisruptionBudget",
        )
    )
    if not workloads and not templates:
        return requirements

    def in_templates(word: str) -> list[Evidence]:
        return [Evidence(path, None, word) for path, text in templates.items() if word in text]

    serving = [(w, c) for w in workloads for c in w.containers() if c.get("ports")]
    no_probes = [
        w.evidence(c.get("name", ""))
        for w, c in serving
        if not (c.get("livenessProbe") and c.get("readinessProbe"))
    ]
    containers = [(w, c) for w in workloads for c in w.containers()]
    no_resources = [
        w.evidence(c.get("name", ""))
        for w, c in containers
        if not {"requests", "limits"} <= set(c.get("resources") or {})
    ]
    loose = []
    for w, c in containers:
        pod = w.pod_spec.get("securityContext") or {}
        own = c.get("securityContext") or {}
        if (
            not (own.get("runAsNonRoot") or pod.get("runAsNonRoot"))
            or own.get("allowPrivilegeEscalation") is not False
        ):
            loose.append(w.evidence(c.get("name", "")))
    hpa = [
        o.evidence() for o in kube.of_kind("HorizontalPodAutoscaler", "ScaledObject")
    ] + kube.template_kinds("HorizontalPodAutoscaler")
    pdb = [o.evidence() for o in kube.of_kind("PodDisruptionBudget")] + kube.template_kinds(
        "PodDisruptionBudget"
    )
    everywhere = [w.evidence() for w in workloads] or list(in_templates("kind: Deployment"))
    requirements += [
        verdict(
            "liveness and readiness probes",
            bool(serving or templates) and not no_probes,
            "every serving container has liveness and readiness probes"
            if not no_probes
            else f"containers without both probes: {listing(no_probes)}",
            no_probes or everywhere,
            fix="probe /health/live (liveness) and /health/ready (readiness)",
        ),
        verdict(
            "resource requests and limits",
            not no_resources,
            "every container declares requests and limits"
            if not no_resources
            else f"containers without requests and limits: {listing(no_resources)}",
            no_resources or everywhere,
            fix="set CPU and memory requests and limits",
        ),
        verdict(
            "locked-down security context",
            not loose,
            "containers run as non-root without privilege escalation"
            if not loose
            else "containers without runAsNonRoot and allowPrivilegeEscalation: false: "
            f"{listing(loose)}",
            loose or everywhere,
            fix="set runAsNonRoot: true, allowPrivilegeEscalation: false, drop ALL capabilities",
        ),
        found(
            "horizontal autoscaler",
            hpa,
            met="replicas scale with load",
            missing="no HorizontalPodAutoscaler: the replica count is fixed",
            fix="add a HorizontalPodAutoscaler (min 2 replicas)",
            where=everywhere,
        ),
        found(
            "disruption budget",
            pdb,
            met="voluntary disruptions keep replicas serving",
            missing="no PodDisruptionBudget: a node drain can stop every replica at once",
            fix="add a PodDisruptionBudget (maxUnavailable: 1)",
            where=everywhere,
        ),
    ]
    return requirements


def _fire_and_forget(facts: Facts) -> list[Evidence]:
    found_ = []
    for route in facts.routes.business:
        for call in _handler_calls(route):
            if re.search(
                r"(create_task|ensure_future|add_task|Thread|run_in_executor|submit)$", call
            ):
                found_.append(route.evidence(f"{call}(...) in the request"))
    found_ += facts.code.find_tokens(r"^BackgroundTasks$", kinds=("name",), limit=3)
    return found_


# `REMAP_SIGTERM=SIGQUIT`, `REMAP_SIGTERM: SIGQUIT`, or a manifest's `name:` / `value:` pair.
COLD_STOP = re.compile(r"REMAP_SIGTERM[\"']?\s*(?:[=:]|\n\s*value:)\s*[\"']?SIGQUIT")
WORKER_CONFIGURATION = (".yml", ".yaml", ".env", ".sh", ".toml", ".cfg", ".ini")
WORKER_COMMANDS = ("Procfile", "Dockerfile", "Containerfile", "Makefile")


def _celery_cold_stops(facts: Facts) -> list[Evidence]:
    """Where a worker's environment sets REMAP_SIGTERM=SIGQUIT (Heroku's advice for Celery):
    Celery then answers SIGTERM as SIGQUIT, a cold shutdown, instead of its warm one."""
    hits = []
    for path in facts.repository.matching(*WORKER_CONFIGURATION, names=WORKER_COMMANDS):
        text = facts.repository.text(path) or ""
        match = COLD_STOP.search(text)
        if match:
            line = text.count("\n", 0, match.start()) + 1
            hits.append(Evidence(path, line, "REMAP_SIGTERM=SIGQUIT"))
    return hits


@check("ARCH-3")
def queue(facts: Facts) -> Assessment:
    durable = task_queue(facts)
    in_process = _fire_and_forget(facts)
    if not durable and not in_process:
        return NotApplicable(
            "no background work: no task queue, no worker, and no work started in the background "
            "by a request (BackgroundTasks, create_task, threads)"
        )
    requirements: list[Requirement] = [
        verdict(
            "durable queue",
            bool(durable) and not in_process,
            "background work goes through a durable queue"
            if durable and not in_process
            else "background work runs inside the web process and is lost when it stops: "
            + listing(in_process)
            if in_process
            else "no durable queue",
            in_process or durable,
            fix="enqueue background work in a durable queue (a jobs table claimed with SKIP "
            "LOCKED, "
            "or a broker) and run it in a worker process",
        )
    ]
    workers = list(facts.code.find_tokens(r"^worker$", kinds=("string",), limit=3))
    # A `worker.py` is a worker only beside a queue it could take jobs from: freqtrade's is the
    # bot's main loop, the API server in a thread of it.
    workers += [
        Evidence(m.path)
        for m in facts.code.modules
        if durable and re.search(r"(^|/)worker\.py$", m.path)
    ]
    workers += [
        e
        for e, words in server_commands(facts)
        if re.search(r"\b(worker|celery|rq|dramatiq|arq)\b", " ".join(words))
    ]
    procfile = facts.repository.text("Procfile") or ""
    if re.search(r"^worker:", procfile, re.MULTILINE):
        workers.append(Evidence("Procfile", None, "worker"))
    requirements.append(
        found(
            "worker process",
            workers,
            met="a separate worker process runs the jobs",
            missing="no worker process: nothing runs the queued jobs outside the web process",
            fix="add a worker command and run it as its own deployment",
        )
    )
    queue_modules = [
        m for m in facts.code.modules if re.search(r"(queue|jobs|tasks|worker|outbox)", m.path)
    ]
    retries = job_retries(facts, queue_modules)
    requirements.append(
        found(
            "retries",
            retries.backoff,
            met="failed jobs are retried with backoff",
            missing="failed jobs are retried, without backoff"
            + (f" ({listing(retries.fixed)})" if retries.fixed else "")
            + ": a dependency that stays down is hit at the same pace until the attempts run out"
            if retries.retried
            else "failed jobs are not retried",
            fix="retry failed jobs with exponential backoff up to a maximum of attempts "
            "(Celery: autoretry_for with retry_backoff=True, or countdown=2 ** "
            "self.request.retries)",
            where=retries.fixed + retries.retried,
        )
    )
    library = set(facts.dependencies.names(runtime_only=True))
    graceful = facts.code.find_tokens(r"SIGTERM", modules=queue_modules, limit=2)
    if library & {"celery", "dramatiq", "rq", "arq", "procrastinate"}:
        graceful.append(
            Evidence("pyproject.toml", None, "the worker library stops warm on SIGTERM")
        )
    cold = _celery_cold_stops(facts) if "celery" in library else []
    requirements.append(
        found(
            "graceful worker shutdown",
            [] if cold else graceful,
            met="on SIGTERM the worker finishes the jobs in hand",
            missing="REMAP_SIGTERM=SIGQUIT turns Celery's SIGTERM into a cold shutdown: the "
            "jobs in hand are cut off"
            if cold
            else "the worker does not handle SIGTERM: jobs in hand are cut off",
            fix="on SIGTERM stop claiming, finish the jobs in hand within a grace period, exit 0",
            where=cold,
        )
    )
    # A module serving routes is no job table: an ActivityPub outbox (bookwyrm's views/outbox.py)
    # is a feed other servers read.
    serving = {route.module.path for route in facts.routes.business}
    serving |= {r.handler_module.path for r in facts.routes.business if r.handler_module}
    job_modules = [m for m in queue_modules if m.path not in serving]
    transactional = facts.code.find_tokens(r"(outbox|skip_locked)", modules=job_modules, limit=2)
    transactional += [
        module.evidence(call, "enqueued in the caller's transaction")
        for module, call in facts.code.calls_named("enqueue", "defer_async", "defer")
        if call.args
        and any(re.search(r"session|conn|tx|transaction", n) for n in names_in(call.args[0]))
    ][:2]
    on_commit = facts.code.find_tokens(r"^on_commit$", kinds=("name",), limit=2)
    requirements.append(
        found(
            "enqueued with the business write",
            transactional,
            met="a job commits or rolls back with the write that caused it: none is lost",
            missing="jobs are published after the write commits (transaction.on_commit): a "
            "crash in "
            "between loses the job"
            if on_commit
            else "jobs are sent to a broker apart from the database write: a crash in "
            "between loses one",
            fix="write jobs to an outbox table in the same transaction as the business write",
            where=on_commit or durable,
        )
    )
    return requirements
