"""Where OBS-3 finds trace IDs written onto log lines, not merely named somewhere."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from goldenpath.audit.facts import Facts
from goldenpath.audit.facts.python import PythonModule, dotted, last_name, string_value
from goldenpath.audit.model import Evidence

TRACE_ID = re.compile(r"^(otel_?)?trace_?id$", re.IGNORECASE)
# A logging format that prints the field: "%(otelTraceID)s", "{trace_id}".
FORMAT_FIELD = re.compile(r"%\((otel)?trace_?id\)|\{(otel_?)?trace_?id\}", re.IGNORECASE)
# What a logging hook is handed: a LogRecord (filters, formatters, loguru patchers) or
# structlog's event dict.
LOG_PARAMETERS = frozenset({"record", "log_record", "event_dict", "logrecord"})
LOG_CLASS = re.compile(r"(Filter|Formatter|Processor|Renderer|Adapter)$")
# Calls that put a field into every following line of a logger or a context.
BINDS = frozenset({"bind", "bind_contextvars", "contextualize", "new"})


def _names_trace_id(node: ast.AST) -> bool:
    if isinstance(node, ast.Name):
        return bool(TRACE_ID.match(node.id))
    if isinstance(node, ast.Attribute):
        return bool(TRACE_ID.match(node.attr))
    if isinstance(node, ast.keyword):
        return bool(node.arg and TRACE_ID.match(node.arg))
    return bool(TRACE_ID.match(string_value(node) or ""))


def _extra_trace_id(call: ast.Call) -> bool:
    """`logger.info(..., extra={"trace_id": ...})`: the field on that one line."""
    extra = next((k.value for k in call.keywords if k.arg == "extra"), None)
    return isinstance(extra, ast.Dict) and any(
        key is not None and _names_trace_id(key) for key in extra.keys
    )


def _log_hooks(module: PythonModule) -> Iterator[ast.AST]:
    """Functions that shape a log line: a method of a logging filter or formatter class, or a
    function handed the record or event dict."""
    for cls in module.classes():
        if any(LOG_CLASS.search(dotted(base)) for base in cls.bases):
            yield cls
    for function in module.functions():
        arguments = function.args
        parameters = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
        if any(a.arg in LOG_PARAMETERS for a in parameters):
            yield function


def trace_ids_on_log_lines(facts: Facts) -> list[Evidence]:
    """A trace ID a log hook adds, a logging format prints, or a bind puts in the context. A
    `trace_id` elsewhere (a span link serialized for a task, a column) is no log field."""
    found: list[Evidence] = []
    for module in facts.code.modules:
        hits: list[ast.AST] = [
            node for hook in _log_hooks(module) for node in ast.walk(hook) if _names_trace_id(node)
        ]
        hits += [
            call
            for call in module.calls()
            if (last_name(call.func) in BINDS and any(map(_names_trace_id, call.keywords)))
            or _extra_trace_id(call)
        ]
        hits += [node for node in module.nodes if FORMAT_FIELD.search(string_value(node) or "")]
        if hits:
            first = min(hits, key=lambda node: getattr(node, "lineno", 0))
            found.append(module.evidence(first, "trace_id on log lines"))
    return found
