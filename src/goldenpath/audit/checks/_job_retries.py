"""What ARCH-3 reads about a queue's retries: whether failed jobs are retried at all, and
whether the delay before the next attempt grows (backoff) or stays fixed.

A fixed delay (`self.retry(countdown=5)`) retries a failing dependency at the same pace however
long it stays down. Backoff is a delay that grows: Celery's `retry_backoff`, a delay computed
from the attempt count (`countdown=2 ** self.request.retries`, `defer=ctx["job_try"] * 5`,
`run_after = now + backoff_delay(job.attempts)`), an exponential wait of tenacity, stamina or
backoff, procrastinate's `exponential_wait`, taskiq's `SmartRetryMiddleware`, or dramatiq's
Retries middleware, exponential unless told otherwise.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from goldenpath.audit.facts import Facts
from goldenpath.audit.facts.python import PythonModule, last_name, names_in
from goldenpath.audit.model import Evidence

from .resilience import retry_sites

RETRIED = re.compile(
    r"(max_?attempts|max_retries|autoretry_for|retry_backoff|^attempts$|Retry)", re.IGNORECASE
)
# Where a job's next attempt is scheduled: a keyword of a retry call, or a job's field.
DELAYS = re.compile(
    r"^(countdown|eta|defer|default_retry_delay|run_after|run_at|scheduled_at|retry_at|not_before)$"
)
ATTEMPT_COUNTS = re.compile(r"^(retries|attempts?|job_try|tries|retry_count|attempt_count)$")
GROWING_OPTIONS = {"retry_backoff", "exponential_wait", "use_delay_exponent"}
# Queue libraries that retry a failed job on their own, and whether they back off by default.
LIBRARY_RETRIES = {"dramatiq": True, "arq": False, "procrastinate": False, "taskiq": False}


@dataclass(frozen=True)
class JobRetries:
    retried: list[Evidence]  # failed jobs are retried
    backoff: list[Evidence]  # ... after a delay that grows
    fixed: list[Evidence]  # ... after a delay that does not


def _grows(node: ast.AST) -> bool:
    return any(ATTEMPT_COUNTS.match(name) for name in names_in(node))


def _switched_on(value: ast.AST) -> bool:
    return not (isinstance(value, ast.Constant) and not value.value)


def _delays(module: PythonModule) -> tuple[list[Evidence], list[Evidence]]:
    """(growing, fixed) delays before a job's next attempt, and options that make it grow."""
    growing: list[Evidence] = []
    fixed: list[Evidence] = []
    for node in module.nodes:
        pairs: list[tuple[str, ast.AST]] = []
        if isinstance(node, ast.keyword) and node.arg:
            pairs = [(node.arg, node.value)]
        elif isinstance(node, ast.Assign):
            pairs = [(last_name(target), node.value) for target in node.targets]
        for name, value in pairs:
            shown = f"{name}={ast.unparse(value)[:40]}"
            line = getattr(value, "lineno", None)
            if name in GROWING_OPTIONS and _switched_on(value):
                growing.append(module.evidence(line, shown))
            elif DELAYS.match(name):
                (growing if _grows(value) else fixed).append(module.evidence(line, shown))
        if isinstance(node, ast.Call) and last_name(node.func) == "SmartRetryMiddleware":
            growing.append(module.evidence(node, "SmartRetryMiddleware (exponential delay)"))
    return growing, fixed


def job_retries(facts: Facts, modules: list[PythonModule]) -> JobRetries:
    """How the queue code in `modules` retries failed jobs."""
    retried = facts.code.find_tokens(RETRIED, modules=modules, limit=3)
    backoff: list[Evidence] = []
    fixed: list[Evidence] = []
    for module in modules:
        growing, constant = _delays(module)
        backoff += growing
        fixed += constant
    paths = {module.path for module in modules}
    backoff += [
        site.evidence()
        for site in retry_sites(facts)
        if site.exponential and site.module.path in paths
    ]
    library = set(facts.dependencies.names(runtime_only=True))
    for name, backs_off in sorted(LIBRARY_RETRIES.items()):
        if name in library:
            retried.append(Evidence("pyproject.toml", None, f"{name} retries failed jobs"))
            if backs_off:
                backoff.append(
                    Evidence("pyproject.toml", None, f"{name} retries with exponential backoff")
                )
    return JobRetries(retried + backoff, backoff, fixed)
