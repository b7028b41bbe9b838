"""The service's HTTP routes, found in the code: FastAPI, Starlette, Flask and Django.

Routes are read from decorators (`@router.get("/items")`, `@bp.route(...)`), registration calls
(`add_api_route`, `add_url_rule`, `add_route`, `mount`) and Django `urlpatterns` (with
`include`). Prefixes are applied the way the frameworks apply them: the router's own prefix,
then every `include_router(..., prefix=...)` / `register_blueprint(..., url_prefix=...)` /
`include(...)` above it, with imports resolved, so `/v1/items/{item_id}` is reported as such.
A route whose prefix comes from a value the audit cannot evaluate keeps the part it can read.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property

from goldenpath.audit.model import Evidence

from .python import (
    PythonCode,
    PythonModule,
    constant_string,
    dotted,
    keyword,
    last_name,
    literal,
    string_value,
)

ROUTER_FACTORIES = frozenset(
    {
        "FastAPI",
        "APIRouter",
        "Flask",
        "Blueprint",
        "Starlette",
        "Router",
        "Quart",
        "APIBlueprint",
    }
)
HTTP_METHODS = ("get", "post", "put", "patch", "delete", "head", "options", "trace")
DECORATOR_METHODS = frozenset({*HTTP_METHODS, "api_route", "route", "websocket"})
REGISTRATION_CALLS = frozenset(
    {"add_api_route", "add_route", "add_url_rule", "add_websocket_route", "add_api_websocket_route"}
)
DJANGO_PATH_CALLS = frozenset({"path", "re_path", "url"})
# Paths that are the platform's, not the business API's: probes, metrics, docs, assets.
INFRASTRUCTURE = re.compile(
    r"^/?(health|healthz|livez|readyz|live|ready|ping|status|metrics|docs|redoc|openapi|"
    r"swagger|schema|static|assets|favicon|robots|admin|__)",
    re.IGNORECASE,
)

Handler = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


@dataclass(frozen=True)
class Route:
    path: str
    methods: tuple[str, ...]
    module: PythonModule
    line: int
    framework: str
    handler: Handler | None = None
    call: ast.Call | None = None  # the decorator or registration call, for its keywords
    inherited_dependencies: tuple[ast.expr, ...] = field(default=())  # from routers and app
    kind: str = "route"  # or "mount"

    @property
    def is_infrastructure(self) -> bool:
        return bool(INFRASTRUCTURE.match(self.path.lstrip("/"))) or self.kind == "mount"

    @property
    def changes_state(self) -> bool:
        return any(method in {"POST", "PUT", "PATCH", "DELETE"} for method in self.methods)

    def evidence(self, detail: str = "") -> Evidence:
        label = f"{'|'.join(self.methods)} {self.path}"
        return Evidence(self.module.path, self.line, f"{label} {detail}".strip())

    def keyword(self, name: str) -> ast.expr | None:
        return keyword(self.call, name) if self.call is not None else None


@dataclass
class _Router:
    module: PythonModule
    name: str
    prefix: str
    kind: str
    dependencies: tuple[ast.expr, ...]
    parents: list[tuple[tuple[str, str], str, tuple[ast.expr, ...]]] = field(default_factory=list)


def _join(*parts: str) -> str:
    joined = "/".join(part.strip("/") for part in parts if part and part.strip("/"))
    trailing = bool(parts) and parts[-1].endswith("/") and len(parts[-1]) > 1
    return "/" + joined + ("/" if trailing and joined else "")


def _list_items(node: ast.expr | None) -> tuple[ast.expr, ...]:
    if isinstance(node, ast.List | ast.Tuple):
        return tuple(node.elts)
    return ()


class Routes:
    def __init__(self, code: PythonCode) -> None:
        self._code = code

    @cached_property
    def all(self) -> tuple[Route, ...]:
        routers = self._routers()
        found = list(self._python_routes(routers))
        found.extend(self._django_routes())
        unique: dict[tuple[str, tuple[str, ...], str, int], Route] = {}
        for route in found:
            unique.setdefault((route.path, route.methods, route.module.path, route.line), route)
        return tuple(unique.values())

    @property
    def business(self) -> tuple[Route, ...]:
        """The API's own routes: not probes, metrics, docs or static files."""
        return tuple(route for route in self.all if not route.is_infrastructure)

    def with_path(self, pattern: str) -> list[Route]:
        regex = re.compile(pattern, re.IGNORECASE)
        return [route for route in self.all if regex.search(route.path)]

    @cached_property
    def app_dependencies(self) -> tuple[tuple[PythonModule, ast.Call], ...]:
        """`FastAPI(dependencies=[...])` calls: dependencies every route inherits."""
        return tuple(
            (module, call)
            for module, call in self._code.calls_named("FastAPI", "APIRouter")
            if keyword(call, "dependencies") is not None
        )

    # --- FastAPI, Starlette, Flask ---------------------------------------------------------
    def _routers(self) -> dict[tuple[str, str], _Router]:
        routers: dict[tuple[str, str], _Router] = {}
        for module in self._code.modules:
            for node in ast.walk(module.tree):
                if not (isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None):
                    continue
                value = node.value
                if not (isinstance(value, ast.Call) and last_name(value.func) in ROUTER_FACTORIES):
                    continue
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                prefix = constant_string(
                    module, keyword(value, "prefix") or keyword(value, "url_prefix")
                )
                dependencies = _list_items(keyword(value, "dependencies"))
                for target in targets:
                    if isinstance(target, ast.Name):
                        routers[(module.name, target.id)] = _Router(
                            module, target.id, prefix or "", last_name(value.func), dependencies
                        )
        for module in self._code.modules:
            for call in module.calls():
                method = last_name(call.func)
                if method not in {"include_router", "register_blueprint"} or not call.args:
                    continue
                child = self._code.resolve(module, dotted(call.args[0]))
                parent = self._code.resolve(module, dotted(call.func).rsplit(".", 1)[0])
                if child is None or child not in routers or parent is None:
                    continue
                prefix = constant_string(
                    module, keyword(call, "prefix") or keyword(call, "url_prefix")
                )
                dependencies = _list_items(keyword(call, "dependencies"))
                routers[child].parents.append((parent, prefix or "", dependencies))
        return routers

    def _full_prefix(
        self, key: tuple[str, str] | None, routers: dict[tuple[str, str], _Router], depth: int = 0
    ) -> tuple[str, tuple[ast.expr, ...]]:
        router = routers.get(key) if key else None
        if router is None or depth > 10:
            return "", ()
        own = (router.prefix, router.dependencies)
        if not router.parents:
            return own
        parent, include_prefix, include_dependencies = router.parents[0]
        above, above_dependencies = self._full_prefix(parent, routers, depth + 1)
        return (
            _join(above, include_prefix, own[0]) if (above or include_prefix or own[0]) else "",
            (*above_dependencies, *include_dependencies, *own[1]),
        )

    def _python_routes(self, routers: dict[tuple[str, str], _Router]) -> Iterator[Route]:
        for module in self._code.modules:
            functions = {node.name: node for node in module.functions()}
            for node in module.functions():
                for decorator in node.decorator_list:
                    if isinstance(decorator, ast.Call):
                        yield from self._decorated(module, node, decorator, routers)
            for call in module.calls():
                method = last_name(call.func)
                if method in REGISTRATION_CALLS or method == "mount":
                    yield from self._registered(module, call, method, functions, routers)
                elif method == "Route" and call.args:  # Starlette's Route("/path", endpoint)
                    path = constant_string(module, call.args[0])
                    if path is not None:
                        methods = literal(keyword(call, "methods"))
                        yield Route(
                            path,
                            _methods(methods, "GET"),
                            module,
                            call.lineno,
                            "starlette",
                            call=call,
                            handler=functions.get(dotted(call.args[1]))
                            if len(call.args) > 1
                            else None,
                        )

    def _owner(
        self, module: PythonModule, call: ast.Call, routers: dict[tuple[str, str], _Router]
    ) -> tuple[tuple[str, str] | None, _Router | None]:
        owner_name = dotted(call.func).rsplit(".", 1)[0]
        key = self._code.resolve(module, owner_name) if owner_name else None
        return key, routers.get(key) if key else None

    def _decorated(
        self,
        module: PythonModule,
        function: ast.FunctionDef | ast.AsyncFunctionDef,
        decorator: ast.Call,
        routers: dict[tuple[str, str], _Router],
    ) -> Iterator[Route]:
        if not isinstance(decorator.func, ast.Attribute):
            return
        method = decorator.func.attr
        if method not in DECORATOR_METHODS:
            return
        path_node = (
            decorator.args[0]
            if decorator.args
            else (keyword(decorator, "path") or keyword(decorator, "rule"))
        )
        path = constant_string(module, path_node)
        if path is None:
            return
        key, router = self._owner(module, decorator, routers)
        if router is None and method == "route" and not path.startswith("/"):
            return  # some other `.route(...)` API
        prefix, inherited = self._full_prefix(key, routers)
        if method in HTTP_METHODS:
            methods: tuple[str, ...] = (method.upper(),)
        elif method == "websocket":
            methods = ("WEBSOCKET",)
        else:
            methods = _methods(literal(keyword(decorator, "methods")), "GET")
        framework = _framework(router)
        yield Route(
            _join(prefix, path) if prefix else (path or "/"),
            methods,
            module,
            function.lineno,
            framework,
            function,
            decorator,
            inherited,
        )

    def _registered(
        self,
        module: PythonModule,
        call: ast.Call,
        method: str,
        functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef],
        routers: dict[tuple[str, str], _Router],
    ) -> Iterator[Route]:
        path = constant_string(
            module, call.args[0] if call.args else keyword(call, "path") or keyword(call, "rule")
        )
        if path is None:
            return
        key, router = self._owner(module, call, routers)
        if router is None and not path.startswith("/"):
            return
        prefix, inherited = self._full_prefix(key, routers)
        full = _join(prefix, path) if prefix else path
        if method == "mount":
            yield Route(
                full, ("ANY",), module, call.lineno, _framework(router), call=call, kind="mount"
            )
            return
        endpoint = (
            call.args[1]
            if len(call.args) > 1
            else (keyword(call, "endpoint") or keyword(call, "view_func"))
        )
        if method == "add_url_rule" and len(call.args) > 2:
            endpoint = call.args[2]
        handler = functions.get(dotted(endpoint)) if endpoint is not None else None
        yield Route(
            full,
            _methods(literal(keyword(call, "methods")), "GET"),
            module,
            call.lineno,
            _framework(router),
            handler,
            call,
            inherited,
        )

    # --- Django ------------------------------------------------------------------------------
    def _django_routes(self) -> Iterator[Route]:
        urlconfs = {
            module.name: (module, value)
            for module in self._code.modules
            for value in _assigned(module, "urlpatterns")
        }
        included: set[str] = set()
        for _module, patterns in urlconfs.values():
            for element in _list_items(patterns):
                if isinstance(element, ast.Call) and len(element.args) > 1:
                    target = element.args[1]
                    if isinstance(target, ast.Call) and last_name(target.func) == "include":
                        name = string_value(target.args[0]) if target.args else None
                        if name:
                            included.add(name)
        for name, (module, patterns) in urlconfs.items():
            if any(name == other or name.endswith("." + other) for other in included):
                continue  # reached through the include, with its prefix
            yield from self._django_patterns(module, patterns, "", urlconfs, 0)

    def _django_patterns(
        self,
        module: PythonModule,
        patterns: ast.expr,
        prefix: str,
        urlconfs: dict[str, tuple[PythonModule, ast.expr]],
        depth: int,
    ) -> Iterator[Route]:
        if depth > 8:
            return
        for element in _list_items(patterns):
            if not (isinstance(element, ast.Call) and last_name(element.func) in DJANGO_PATH_CALLS):
                continue
            if not element.args:
                continue
            raw = string_value(element.args[0]) or ""
            route = raw.removeprefix("^").removesuffix("$")
            target = element.args[1] if len(element.args) > 1 else None
            if isinstance(target, ast.Call) and last_name(target.func) == "include":
                yield from self._django_include(
                    module, target, _join(prefix, route), urlconfs, depth
                )
                continue
            handler = self._django_view(module, target)
            yield Route(
                _join(prefix, route), ("ANY",), module, element.lineno, "django", handler, element
            )

    def _django_include(
        self,
        module: PythonModule,
        include: ast.Call,
        prefix: str,
        urlconfs: dict[str, tuple[PythonModule, ast.expr]],
        depth: int,
    ) -> Iterator[Route]:
        if not include.args:
            return
        argument = include.args[0]
        if isinstance(argument, ast.Tuple) and argument.elts:
            argument = argument.elts[0]
        name = string_value(argument)
        if name is not None:
            for candidate, (other, patterns) in urlconfs.items():
                if candidate == name or candidate.endswith("." + name):
                    yield from self._django_patterns(other, patterns, prefix, urlconfs, depth + 1)
            return
        if isinstance(argument, ast.List):
            yield from self._django_patterns(module, argument, prefix, urlconfs, depth + 1)
            return
        if isinstance(argument, ast.Attribute) and argument.attr == "urls":
            router = dotted(argument.value)  # a DRF router: its register() calls are the routes
            for call in module.calls():
                if dotted(call.func) == f"{router}.register" and call.args:
                    path = string_value(call.args[0]) or ""
                    handler = self._django_view(
                        module, call.args[1] if len(call.args) > 1 else None
                    )
                    yield Route(
                        _join(prefix, path.removeprefix("^")),
                        ("ANY",),
                        module,
                        call.lineno,
                        "django",
                        handler,
                        call,
                    )

    def _django_view(self, module: PythonModule, target: ast.expr | None) -> Handler | None:
        if target is None:
            return None
        if isinstance(target, ast.Call):  # SomeView.as_view()
            target = target.func.value if isinstance(target.func, ast.Attribute) else target.func
        name = dotted(target)
        head, _, attribute = name.rpartition(".")
        candidates: list[tuple[str, str]] = []
        if head:
            resolved = self._code.resolve(module, head.split(".")[0])
            if resolved is not None:
                base = f"{resolved[0]}.{resolved[1]}" if resolved[1] else resolved[0]
                candidates.append((base, attribute))
                candidates.append((resolved[0], attribute))
        else:
            resolved = self._code.resolve(module, name)
            if resolved is not None:
                candidates.append(resolved)
        for module_name, attribute_name in candidates:
            other = self._code.by_name.get(module_name)
            if other is None:
                continue
            for node in ast.walk(other.tree):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and (
                    node.name == attribute_name
                ):
                    return node
        return None


def _assigned(module: PythonModule, name: str) -> Iterator[ast.expr]:
    for node in module.tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(target, ast.Name) and target.id == name for target in node.targets)
        ) or (
            isinstance(node, ast.AugAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == name
        ):
            yield node.value


def _methods(value: object, default: str) -> tuple[str, ...]:
    if isinstance(value, list | tuple | set) and all(isinstance(item, str) for item in value):
        return tuple(sorted(str(item).upper() for item in value)) or (default,)
    return (default,)


def _framework(router: _Router | None) -> str:
    if router is None:
        return "unknown"
    return {
        "FastAPI": "fastapi",
        "APIRouter": "fastapi",
        "Flask": "flask",
        "Blueprint": "flask",
        "APIBlueprint": "flask",
        "Quart": "flask",
        "Starlette": "starlette",
        "Router": "starlette",
    }.get(router.kind, "unknown")
