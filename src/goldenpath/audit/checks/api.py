"""API-1..3: versioned routes, generated documentation, declared request and response models."""

from __future__ import annotations

import ast
import re

from goldenpath.audit.facts import Facts
from goldenpath.audit.facts.python import dotted, last_name, literal
from goldenpath.audit.facts.routes import Route
from goldenpath.audit.model import Evidence, Requirement

from ._base import (
    Assessment,
    NotApplicable,
    check,
    found,
    listing,
    skipped,
    undetermined,
    verdict,
)

VERSIONED = re.compile(r"^/(api/)?v\d+(/|$)", re.IGNORECASE)
NO_ROUTES = "no HTTP routes found: not a web service (or routes the audit cannot read)"
PRIMITIVES = {
    "str",
    "int",
    "float",
    "bool",
    "bytes",
    "dict",
    "list",
    "Any",
    "None",
    "UUID",
    "uuid.UUID",
    "Request",
    "Response",
    "BackgroundTasks",
    "WebSocket",
}
SCHEMA_DECORATORS = re.compile(
    r"(arguments|response|validate|input|output|marshal_with|expect|use_kwargs|"
    r"extend_schema|doc|body)$"
)


@check("API-1")
def versioning(facts: Facts) -> Assessment:
    business = facts.routes.business
    if not business:
        return NotApplicable(NO_ROUTES)
    unversioned = [route for route in business if not VERSIONED.match(route.path)]
    orphans = {router.key for router in facts.routes.orphans}
    placed = [route for route in unversioned if not (route.chain and route.chain[-1] in orphans)]
    if unversioned and not placed:
        # Only routes of routers included at run time, under a prefix the audit cannot see.
        return [
            undetermined(
                "business routes under /v1",
                "the only unversioned routes belong to routers included at run time, under a "
                f"prefix the audit cannot read: {listing([r.evidence() for r in unversioned])}",
                [r.evidence() for r in unversioned],
            ),
            _versioning_documented(facts),
        ]
    requirements = [
        verdict(
            "business routes under /v1",
            not unversioned,
            f"all {len(business)} business routes carry a major version"
            if not unversioned
            else f"{len(unversioned)} of {len(business)} business routes are unversioned: "
            + listing([r.evidence() for r in unversioned]),
            [r.evidence() for r in unversioned] or [r.evidence() for r in business],
            fix="serve every business route under /v1 (a router prefix)",
        )
    ]
    requirements.append(_versioning_documented(facts))
    return requirements


def _versioning_documented(facts: Facts) -> Requirement:
    documented = []
    for path in facts.repository.matching(".md", ".rst"):
        if path.startswith(("node_modules/", "CHANGELOG")):
            continue
        text = facts.repository.text(path) or ""
        if re.search(r"/v2\b", text) and re.search(r"deprecat", text, re.IGNORECASE):
            documented.append(
                Evidence(path, facts.repository.line_of(text, "/v2"), "how /v2 is added")
            )
    return found(
        "versioning rules documented",
        documented,
        met="the docs say how a /v2 is added and how deprecation is signalled",
        missing="nothing says how a breaking change ships (/v2) or how old versions are deprecated",
        fix="document adding /v2 beside /v1 and the Deprecation/Sunset headers",
    )


def _has_summary(route: Route) -> bool:
    if route.keyword("summary") is not None or route.keyword("description") is not None:
        return True
    handler = route.handler
    return handler is not None and ast.get_docstring(handler) is not None


@check("API-2")
def documentation(facts: Facts) -> Assessment:
    business = facts.routes.business
    if not business:
        return NotApplicable(NO_ROUTES)
    generators = facts.uses(
        "drf-spectacular",
        "drf-yasg",
        "flask-smorest",
        "apispec",
        "flasgger",
        "spectree",
        "flask-openapi3",
        "django-ninja",
        "apiflask",
        "flask-restx",
    )
    # An app of its own for probes or metrics (a worker's listener) often switches its document
    # off: the document is off only when no FastAPI app keeps it.
    disabled = []
    for module, call in facts.code.calls_named("FastAPI"):
        node = next((k.value for k in call.keywords if k.arg == "openapi_url"), None)
        if node is not None and isinstance(node, ast.Constant) and node.value is None:
            disabled.append(module.evidence(call, "openapi_url=None"))
        else:
            generators.append(module.evidence(call, "FastAPI generates OpenAPI from the code"))
    requirements: list[Requirement] = [
        verdict(
            "OpenAPI from the code",
            bool(generators),
            "the OpenAPI document is generated from the routes and models"
            if generators
            else "the OpenAPI document is switched off"
            if disabled
            else "no OpenAPI document",
            generators or disabled,
            fix="generate the OpenAPI document from the code (FastAPI, drf-spectacular, "
            "flask-smorest)",
        )
    ]
    docs = [
        route.evidence()
        for route in facts.routes.with_path(r"^/(docs|redoc|swagger|api/docs|schema/swagger)")
    ]
    for module, call in facts.code.calls_named("FastAPI"):
        docs_url = next((k.value for k in call.keywords if k.arg == "docs_url"), None)
        if docs_url is None or not (isinstance(docs_url, ast.Constant) and docs_url.value is None):
            docs.append(module.evidence(call, "FastAPI serves /docs"))
    docs += facts.code.find_tokens(
        r"^(SpectacularSwaggerView|SpectacularRedocView|get_schema_view|Swagger)$",
        kinds=("name",),
        limit=2,
    )
    requirements.append(
        found(
            "browsable docs",
            docs,
            met="the API can be browsed (Swagger UI or ReDoc)",
            missing="no browsable API docs",
            fix="serve Swagger UI at /docs",
        )
    )
    without_summary = [route for route in business if not _has_summary(route)]
    requirements.append(
        verdict(
            "every route has a summary",
            not without_summary,
            f"all {len(business)} business routes have a summary"
            if not without_summary
            else f"routes without a summary: {listing([r.evidence() for r in without_summary])}",
            [r.evidence() for r in without_summary] or [r.evidence() for r in business],
            fix="give every route a summary= (or a docstring)",
        )
    )
    fastapi_routes = [route for route in business if route.framework == "fastapi"]
    if fastapi_routes:
        without_errors = [route for route in fastapi_routes if route.keyword("responses") is None]
        requirements.append(
            verdict(
                "error responses documented",
                not without_errors,
                "every route documents its error responses"
                if not without_errors
                else "routes that document no error response: "
                f"{listing([r.evidence() for r in without_errors])}",
                [r.evidence() for r in without_errors] or [r.evidence() for r in fastapi_routes],
                fix="document each route's error responses (responses={404: ..., 422: ...})",
            )
        )
    else:
        requirements.append(skipped("error responses documented", "read from FastAPI routes only"))
    return requirements


def _declares_models(route: Route, models: set[str]) -> tuple[bool, str]:
    handler = route.handler
    if isinstance(handler, ast.ClassDef):
        names = {
            dotted(t)
            for node in ast.walk(handler)
            if isinstance(node, ast.Assign)
            for t in node.targets
        }
        ok = bool(
            names & {"serializer_class", "form_class", "schema"}
        ) or "get_serializer_class" in ast.unparse(handler)
        return ok, "no serializer_class"
    if not isinstance(handler, ast.FunctionDef | ast.AsyncFunctionDef):
        return False, "handler not found"
    if route.framework != "fastapi":
        decorated = any(SCHEMA_DECORATORS.search(last_name(d)) for d in handler.decorator_list)
        return decorated, "no request/response schema decorators"
    response = route.keyword("response_model")
    returns = handler.returns
    status = literal(route.keyword("status_code"))
    has_response = (
        (
            response is not None
            and not (isinstance(response, ast.Constant) and response.value is None)
        )
        or (
            returns is not None
            and ast.unparse(returns) not in PRIMITIVES - {"None"}
            and "Response" not in ast.unparse(returns)
        )
        or status == 204
    )
    if not has_response:
        return False, "no response model"
    if route.changes_state and route.methods != ("DELETE",):
        parameters = [*handler.args.args, *handler.args.kwonlyargs]
        bodies = [
            p
            for p in parameters
            if p.annotation is not None
            and (
                ast.unparse(p.annotation) in models
                or (
                    isinstance(p.annotation, ast.Subscript)
                    and ast.unparse(p.annotation.slice).split(",")[0] in models
                )
            )
        ]
        # A route that takes no body at all (its input is the path and the credential, such
        # as POST /v1/auth/session exchanging a bearer token) has nothing to validate.
        if not bodies and _takes_unmodelled_body(handler):
            return False, "no request model"
    return True, ""


UNMODELLED_BODY = re.compile(r"^(Annotated\[)?(dict|list|Any|bytes|typing\.Any)\b")
BODY_READS = {"json", "body", "form", "stream"}


def _takes_unmodelled_body(handler: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """The handler reads a request body that no model validates: a parameter FastAPI treats as
    a raw body (`dict`, `list`, `Any`, `bytes`, or `Body(...)`), or `request.json()`-style reads.
    """
    arguments = handler.args
    defaults = [*arguments.defaults, *(d for d in arguments.kw_defaults if d is not None)]
    for parameter in [*arguments.args, *arguments.kwonlyargs]:
        if parameter.annotation is None:
            continue
        annotation = ast.unparse(parameter.annotation)
        if UNMODELLED_BODY.match(annotation) or "Body(" in annotation:
            return True
    if any("Body(" in ast.unparse(default) for default in defaults):
        return True
    return any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in BODY_READS
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id in {"request", "req"}
        for node in ast.walk(handler)
    )


@check("API-3")
def schemas(facts: Facts) -> Assessment:
    business = facts.routes.business
    if not business:
        return NotApplicable(NO_ROUTES)
    models = {
        node.name for _, node in facts.code.subclasses("BaseModel", "SQLModel", "Schema", "Struct")
    }
    # Classes derived from those (one level is what real code bases use: a shared base model).
    models |= {node.name for _, node in facts.code.subclasses(*models)} if models else set()
    missing = []
    for route in business:
        ok, reason = _declares_models(route, models)
        if not ok:
            missing.append(route.evidence(reason))
    return [
        verdict(
            "request and response models",
            not missing,
            f"all {len(business)} business routes declare their models"
            if not missing
            else f"{len(missing)} of {len(business)} routes do not: {listing(missing)}",
            missing or [route.evidence() for route in business],
            fix="declare a request model for each body and a response_model for each route, so "
            "responses are validated and documented",
        )
    ]
