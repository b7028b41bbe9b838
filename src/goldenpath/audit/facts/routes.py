"""The service's HTTP routes, found the way each framework finds them.

- FastAPI and Starlette: decorators and `add_api_route`/`add_route` on apps and routers, every
  `include_router(router, prefix=..., dependencies=...)`, sub-applications mounted with
  `mount("/api/v1", app)`, Starlette `Route`/`Mount` lists; a router included in two places has
  its routes under both.
- Flask: blueprints registered with `url_prefix`, and Flask-RESTful resources added with
  `api.add_resource(Resource, "/path")` (or through a helper method of an `Api` subclass) on an
  `Api` with its prefix; a resource's methods are its `get`/`post`/... methods.
- Django: `urlpatterns` (those added under a module-level `if` too) from ROOT_URLCONF down,
  through `include()` of a module path, of a list (inline or held in a variable) and of a REST
  framework router's `urls`.

Prefixes are values, not just literals: a constant, `settings.API_V1_STR` from a settings class's
default, an f-string of those. A route whose path the audit cannot compute is not guessed: it is
listed in `unreadable` and the report says so.
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
    dotted,
    elements,
    keyword,
    last_name,
    string_value,
)
from .symbols import UNKNOWN, External, Local, Module, Symbols, module_level, returned

HTTP_METHODS = ("get", "post", "put", "patch", "delete", "head", "options", "trace")
DECORATOR_METHODS = frozenset({*HTTP_METHODS, "api_route", "route", "websocket"})
REGISTRATION_CALLS = frozenset(
    {"add_api_route", "add_route", "add_url_rule", "add_websocket_route", "add_api_websocket_route"}
)
DJANGO_PATH_CALLS = frozenset({"path", "re_path", "url"})
DRF_ROUTERS = frozenset(
    {"DefaultRouter", "SimpleRouter", "ExtendedDefaultRouter", "NestedSimpleRouter"}
)
# Router factories, by the library that defines them, and the framework they belong to.
FACTORIES = {
    "FastAPI": "fastapi",
    "APIRouter": "fastapi",
    "Starlette": "starlette",
    "Router": "starlette",
    "Flask": "flask",
    "Blueprint": "flask",
    "Quart": "flask",
    "APIBlueprint": "flask",
    "APIFlask": "flask",
    "Api": "flask",  # Flask-RESTful / Flask-RESTX
}
FACTORY_LIBRARIES = (
    "fastapi", "starlette", "flask", "quart", "apiflask", "flask_restful", "flask_restx",
    "flask_smorest",
)  # fmt: skip
PREFIX_KEYWORDS = ("prefix", "url_prefix")

# Paths that are the platform's, not the business API's: probes, metrics, docs, assets, admin.
INFRASTRUCTURE_SEGMENT = re.compile(
    r"^(health([-_]?check|z)?|livez|readyz|live(ness)?|ready|readiness|ping|status|metrics|docs|"
    r"redoc|openapi(\.json|\.ya?ml)?|swagger(-ui)?|schema|static|assets|favicon\.ico|robots\.txt|"
    r"admin|__\w*)$",
    re.IGNORECASE,
)
_LEADING = re.compile(r"^(api|v\d+(\.\d+)?|\{[^}]*\}|<[^>]*>)$", re.IGNORECASE)

Handler = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
Located = tuple[PythonModule, ast.expr]  # an expression with the module it is written in
Key = tuple[str, str]  # (module name, variable) of a router or app


def is_infrastructure_path(path: str) -> bool:
    parts = [part for part in path.split("/") if part]
    while len(parts) > 1 and _LEADING.match(parts[0]):
        parts.pop(0)
    if not parts or _LEADING.match(parts[0]):
        return False
    return bool(INFRASTRUCTURE_SEGMENT.match(parts[0]) or INFRASTRUCTURE_SEGMENT.match(parts[-1]))


@dataclass(frozen=True)
class Route:
    path: str
    methods: tuple[str, ...]
    module: PythonModule
    line: int
    framework: str
    handler: Handler | None = None
    call: ast.Call | None = None  # the decorator or registration call, for its keywords
    inherited_dependencies: tuple[Located, ...] = field(default=())  # routers and app
    kind: str = "route"  # "route", "static" (static files), "mount" (an app the audit can't read)
    chain: tuple[Key, ...] = ()  # the routers and apps above it, innermost first
    handler_module: PythonModule | None = None  # where the handler is defined
    resource_decorators: tuple[Located, ...] = ()  # Flask-RESTful Api(decorators=...)

    @property
    def is_infrastructure(self) -> bool:
        return self.kind == "static" or is_infrastructure_path(self.path)

    @property
    def changes_state(self) -> bool:
        return any(method in {"POST", "PUT", "PATCH", "DELETE"} for method in self.methods)

    @property
    def method(self) -> str:
        return "|".join(self.methods)

    def evidence(self, detail: str = "") -> Evidence:
        return Evidence(self.module.path, self.line, f"{self.method} {self.path} {detail}".strip())

    def keyword(self, name: str) -> ast.expr | None:
        return keyword(self.call, name) if self.call is not None else None


@dataclass
class Edge:
    parent: Key
    prefix: str
    dependencies: tuple[Located, ...]
    joins: str  # "concat" (FastAPI, Starlette mounts) or "flask" (slash-joined)


@dataclass
class Router:
    key: Key
    module: PythonModule
    kind: str
    framework: str
    prefix: str
    call: ast.Call
    dependencies: tuple[Located, ...] = ()
    decorators: tuple[Located, ...] = ()
    parents: list[Edge] = field(default_factory=list)


@dataclass(frozen=True)
class Unreadable:
    module: PythonModule
    line: int
    expression: str


def _join(prefix: str, path: str, joins: str) -> str:
    if not prefix:
        return path
    if joins == "flask":
        return "/".join((prefix.rstrip("/"), path.lstrip("/"))) if path else prefix
    return prefix.rstrip("/") + path if path.startswith("/") else prefix + path


def _methods(value: object, default: str) -> tuple[str, ...]:
    if isinstance(value, list | tuple | set) and value and all(isinstance(v, str) for v in value):
        return tuple(sorted(str(item).upper() for item in value))
    return (default,)


class Routes:
    def __init__(self, code: PythonCode, symbols: Symbols | None = None) -> None:
        self._code = code
        self._symbols = symbols or Symbols(code)
        self.unreadable: list[Unreadable] = []
        self._dynamic_prefixes: list[tuple[PythonModule, ast.Call]] = []

    # --- the public view -------------------------------------------------------------------
    @cached_property
    def all(self) -> tuple[Route, ...]:
        routers = self.routers
        found = list(self._python_routes(routers))
        found.extend(self._django_routes())
        unique: dict[tuple[str, tuple[str, ...], str, int], Route] = {}
        for route in found:
            unique.setdefault((route.path, route.methods, route.module.path, route.line), route)
        return tuple(unique.values())

    @cached_property
    def orphans(self) -> tuple[Router, ...]:
        """Routers with routes that nothing the audit can follow includes (a plugin's router
        included at run time): their routes are shown without the prefixes they really get."""
        apps = {"FastAPI", "Flask", "Starlette", "Quart", "APIFlask"}
        routers = self.routers  # computed first: it records the run-time inclusions
        if not self._dynamic_prefixes or not any(r.kind in apps for r in routers.values()):
            return ()
        owners = {route.chain[0] for route in self.all if route.chain}
        return tuple(
            router
            for key, router in self.routers.items()
            if router.kind not in apps | {"Api"} and not router.parents and key in owners
        )

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
            (router.module, router.call)
            for router in self.routers.values()
            if router.kind == "FastAPI" and keyword(router.call, "dependencies") is not None
        )

    # --- routers and how they nest ---------------------------------------------------------
    def _factory(self, module: PythonModule, call: ast.Call) -> str | None:
        """The router factory a call makes (`APIRouter`, `Blueprint`, ...), or None."""
        symbol = self._symbols.resolve(module, call.func)
        if isinstance(symbol, External):
            if symbol.last in FACTORIES and symbol.name.startswith(FACTORY_LIBRARIES):
                return symbol.last
            return None
        if isinstance(symbol, Local) and isinstance(symbol.node, ast.Call):
            symbol = self._made_class(symbol.module, symbol.node)
        if isinstance(symbol, Local) and isinstance(symbol.node, ast.ClassDef):
            for base in self._symbols.bases(symbol.module, symbol.node):
                name = base.rsplit(".", 1)[-1]
                if name in FACTORIES and base.startswith(FACTORY_LIBRARIES):
                    return name
            return None
        name = last_name(call.func)
        return name if symbol is None and name in FACTORIES and name != "Api" else None

    def _subclass_dependencies(self, module: PythonModule, call: ast.Call) -> list[Located]:
        """The `dependencies=` a router subclass passes to APIRouter in its `__init__` (mealie's
        `UserAPIRouter(APIRouter)` calls `super().__init__(dependencies=[Depends(...)])`)."""
        symbol = self._symbols.resolve(module, call.func)
        found: list[Located] = []
        for _ in range(8):  # a chain of subclasses, bounded
            if not isinstance(symbol, Local) or not isinstance(symbol.node, ast.ClassDef):
                break
            init = next(
                (
                    item
                    for item in symbol.node.body
                    if isinstance(item, ast.FunctionDef) and item.name == "__init__"
                ),
                None,
            )
            for node in ast.walk(init) if init is not None else ():
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "__init__"
                    and isinstance(node.func.value, ast.Call)
                    and last_name(node.func.value.func) == "super"
                ):
                    found += [(symbol.module, d) for d in elements(keyword(node, "dependencies"))]
            if init is not None or not symbol.node.bases:
                break  # its __init__ decides what reaches APIRouter's
            symbol = self._symbols.resolve(symbol.module, symbol.node.bases[0])
        return found

    def _made_class(self, module: PythonModule, call: ast.Call) -> Local | None:
        """The class a class factory returns (`APIRouter = get_api_router_class(Route)`, whose
        body defines and returns a subclass of FastAPI's APIRouter)."""
        factory = self._symbols.resolve(module, call.func)
        if not isinstance(factory, Local) or not isinstance(
            factory.node, ast.FunctionDef | ast.AsyncFunctionDef
        ):
            return None
        value = returned(factory.node)
        classes = {
            node.name: node for node in ast.walk(factory.node) if isinstance(node, ast.ClassDef)
        }
        if isinstance(value, ast.Name) and value.id in classes:
            return Local(factory.module, classes[value.id])
        return None

    def key(self, module: PythonModule, node: ast.AST | None) -> Key | None:
        """The router or app a name refers to, wherever it was assigned."""
        if isinstance(node, ast.Name):
            target = module.imports.get(node.id)
            if target is None:
                return (module.name, node.id)
            source, _, attribute = target.partition(":")
            if attribute:
                real = self._code.module(source)
                return ((real.name if real else source), attribute)
            return None
        if isinstance(node, ast.Attribute):
            base = self._symbols.resolve(module, node.value)
            if isinstance(base, Module) and base.local is not None:
                return (base.local.name, node.attr)
        return None

    @cached_property
    def routers(self) -> dict[Key, Router]:
        routers: dict[Key, Router] = {}
        for module in self._code.modules:
            for node in module.nodes:
                if not isinstance(node, ast.Assign | ast.AnnAssign) or node.value is None:
                    continue
                value = node.value
                if not isinstance(value, ast.Call):
                    continue
                kind = self._factory(module, value)
                if kind is None:
                    continue
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                prefix_node = next(
                    (k for k in (keyword(value, p) for p in PREFIX_KEYWORDS) if k is not None),
                    None,
                )
                prefix = self._symbols.string(module, prefix_node) if prefix_node else ""
                for target in targets:
                    if isinstance(target, ast.Name):
                        key = (module.name, target.id)
                        routers[key] = Router(
                            key,
                            module,
                            kind,
                            FACTORIES[kind],
                            prefix or "",
                            value,
                            (
                                *((module, d) for d in elements(keyword(value, "dependencies"))),
                                *self._subclass_dependencies(module, value),
                            ),
                            tuple((module, d) for d in elements(keyword(value, "decorators"))),
                        )
        for module in self._code.modules:
            for call in module.calls():
                self._edge(module, call, routers)
        self._api_parents(routers)
        for router in list(routers.values()):
            routes = keyword(router.call, "routes")
            if routes is not None:
                self._starlette_mounts(router.module, routes, router.key, routers)
        return routers

    def _edge(self, module: PythonModule, call: ast.Call, routers: dict[Key, Router]) -> None:
        method = last_name(call.func)
        owner = call.func.value if isinstance(call.func, ast.Attribute) else None
        if method in {"include_router", "register_blueprint"}:
            child_node = (
                call.args[0] if call.args else keyword(call, "router") or keyword(call, "blueprint")
            )
            child, parent = self.key(module, child_node), self.key(module, owner)
            if child in routers and parent is not None:
                prefix_node = keyword(call, "prefix") or keyword(call, "url_prefix")
                prefix = self._symbols.string(module, prefix_node) if prefix_node else ""
                routers[child].parents.append(
                    Edge(
                        parent,
                        prefix or "",
                        tuple((module, d) for d in elements(keyword(call, "dependencies"))),
                        "flask" if method == "register_blueprint" else "concat",
                    )
                )
            elif child not in routers and (keyword(call, "prefix") or keyword(call, "url_prefix")):
                # A router chosen at run time (a plugin's) gets a prefix the audit cannot place.
                self._dynamic_prefixes.append((module, call))
        elif method == "mount":
            app = call.args[1] if len(call.args) > 1 else keyword(call, "app")
            child, parent = self._mounted(module, app), self.key(module, owner)
            path = self._symbols.string(
                module, call.args[0] if call.args else keyword(call, "path")
            )
            if child in routers and parent is not None and path is not None:
                routers[child].parents.append(Edge(parent, path.rstrip("/"), (), "concat"))
        elif method == "init_app" and owner is not None and call.args:
            child, parent = self.key(module, owner), self.key(module, call.args[0])
            if child in routers and routers[child].kind == "Api" and parent is not None:
                routers[child].parents.append(Edge(parent, "", (), "concat"))

    def _mounted(self, module: PythonModule, node: ast.AST | None) -> Key | None:
        """The router a mounted app is (through a wrapper such as WSGIMiddleware(app))."""
        if isinstance(node, ast.Call):
            inner = node.args[0] if node.args else None
            return self.key(module, inner) if inner is not None else None
        return self.key(module, node)

    def _api_parents(self, routers: dict[Key, Router]) -> None:
        for router in routers.values():
            if router.kind != "Api":
                continue
            app = router.call.args[0] if router.call.args else keyword(router.call, "app")
            parent = self.key(router.module, app) if app is not None else None
            if parent in routers:
                router.parents.append(Edge(parent, "", (), "concat"))

    def _lineages(
        self, key: Key | None, routers: dict[Key, Router], depth: int = 0
    ) -> list[tuple[str, tuple[Located, ...], tuple[Key, ...]]]:
        """Every (prefix, inherited dependencies, chain of routers) above a router."""
        router = routers.get(key) if key else None
        if router is None:
            return [("", (), ())]
        if depth > 10 or not router.parents:
            return [(router.prefix, router.dependencies, (router.key,))]
        found = []
        for edge in router.parents[:8]:
            for above, dependencies, chain in self._lineages(edge.parent, routers, depth + 1):
                if router.key in chain:
                    continue
                prefix = _join(_join(above, edge.prefix, "concat"), router.prefix, edge.joins)
                found.append(
                    (
                        prefix,
                        (*dependencies, *edge.dependencies, *router.dependencies),
                        (router.key, *chain),
                    )
                )
        return found or [(router.prefix, router.dependencies, (router.key,))]

    # --- FastAPI, Starlette, Flask -----------------------------------------------------------
    def _python_routes(self, routers: dict[Key, Router]) -> Iterator[Route]:
        for module in self._code.modules:
            for node in module.functions():
                for decorator in node.decorator_list:
                    if isinstance(decorator, ast.Call):
                        yield from self._decorated(module, node, decorator, routers)
            for call in module.calls():
                method = last_name(call.func)
                if method in REGISTRATION_CALLS:
                    yield from self._registered(module, call, method, routers)
                elif method == "mount":
                    yield from self._mount_route(module, call, routers)
                elif method == "add_resource" or self._resource_wrapper(module, call):
                    yield from self._resources(module, call, routers)
        for router in routers.values():
            routes = keyword(router.call, "routes")
            if routes is not None:
                yield from self._starlette_list(router.module, routes, router.key, routers)

    def _path(self, module: PythonModule, node: ast.AST | None, line: int) -> str | None:
        """A route's path: a value the audit can compute, or the literal inside a helper call
        (`org_scoped_rule("/login")`); None, recorded as unreadable, otherwise."""
        if node is None:
            return None
        value = self._symbols.string(module, node)
        if value is not None:
            return value
        if isinstance(node, ast.Call) and len(node.args) == 1:
            inner = self._symbols.string(module, node.args[0])
            if inner is not None:
                return inner
        self.unreadable.append(Unreadable(module, line, ast.unparse(node)[:60]))
        return None

    def _decorated(
        self,
        module: PythonModule,
        function: ast.FunctionDef | ast.AsyncFunctionDef,
        decorator: ast.Call,
        routers: dict[Key, Router],
    ) -> Iterator[Route]:
        if not isinstance(decorator.func, ast.Attribute):
            return
        method = decorator.func.attr
        if method not in DECORATOR_METHODS:
            return
        key = self.key(module, decorator.func.value)
        router = routers.get(key) if key else None
        path_node = (
            decorator.args[0]
            if decorator.args
            else (keyword(decorator, "path") or keyword(decorator, "rule"))
        )
        if router is None:
            # Some other `.get(...)`/`.route(...)` API, unless it reads like a route.
            literal = string_value(path_node)
            if literal is None or not literal.startswith("/"):
                return
        path = self._path(module, path_node, function.lineno)
        if path is None:
            return
        if method in HTTP_METHODS:
            methods: tuple[str, ...] = (method.upper(),)
        elif method == "websocket":
            methods = ("WEBSOCKET",)
        else:
            methods = _methods(self._symbols.value(module, keyword(decorator, "methods")), "GET")
        framework = router.framework if router else _framework_of(module)
        joins = "flask" if framework == "flask" else "concat"
        for prefix, inherited, chain in self._lineages(key, routers):
            yield Route(
                _join(prefix, path, joins) or "/",
                methods,
                module,
                function.lineno,
                framework,
                function,
                decorator,
                inherited,
                chain=chain,
                handler_module=module,
            )

    def _handler(
        self, module: PythonModule, node: ast.AST | None
    ) -> tuple[Handler | None, PythonModule | None]:
        if isinstance(node, ast.Call):  # SomeView.as_view("name")
            node = node.func.value if isinstance(node.func, ast.Attribute) else node.func
        symbol = self._symbols.resolve(module, node)
        if isinstance(symbol, Local) and isinstance(
            symbol.node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
        ):
            return symbol.node, symbol.module
        return None, None

    def _registered(
        self, module: PythonModule, call: ast.Call, method: str, routers: dict[Key, Router]
    ) -> Iterator[Route]:
        path_node = call.args[0] if call.args else keyword(call, "path") or keyword(call, "rule")
        owner = call.func.value if isinstance(call.func, ast.Attribute) else None
        key = self.key(module, owner)
        router = routers.get(key) if key else None
        if router is None and not (string_value(path_node) or "").startswith("/"):
            return
        path = self._path(module, path_node, call.lineno)
        if path is None:
            return
        endpoint = (
            call.args[1]
            if len(call.args) > 1
            else (keyword(call, "endpoint") or keyword(call, "view_func"))
        )
        if method == "add_url_rule":
            endpoint = call.args[2] if len(call.args) > 2 else keyword(call, "view_func")
        handler, handler_module = self._handler(module, endpoint)
        framework = router.framework if router else _framework_of(module)
        default = "GET"
        if isinstance(handler, ast.ClassDef):  # a MethodView: its methods
            methods = _class_methods(handler) or (default,)
        else:
            methods = _methods(self._symbols.value(module, keyword(call, "methods")), default)
        joins = "flask" if framework == "flask" else "concat"
        for prefix, inherited, chain in self._lineages(key, routers):
            yield Route(
                _join(prefix, path, joins),
                methods,
                module,
                call.lineno,
                framework,
                handler,
                call,
                inherited,
                chain=chain,
                handler_module=handler_module,
            )

    def _mount_route(
        self, module: PythonModule, call: ast.Call, routers: dict[Key, Router]
    ) -> Iterator[Route]:
        app = call.args[1] if len(call.args) > 1 else keyword(call, "app")
        if self._mounted(module, app) in routers:
            return  # its routes are found under it, with the mount's prefix
        owner = call.func.value if isinstance(call.func, ast.Attribute) else None
        key = self.key(module, owner)
        if key not in routers:
            return
        path = self._path(module, call.args[0] if call.args else keyword(call, "path"), call.lineno)
        if path is None:
            return
        kind = _mount_kind(app)
        for prefix, inherited, chain in self._lineages(key, routers):
            yield Route(
                _join(prefix, path, "concat") or "/",
                ("ANY",),
                module,
                call.lineno,
                routers[key].framework,
                call=call,
                inherited_dependencies=inherited,
                kind=kind,
                chain=chain,
            )

    def _resource_wrapper(self, module: PythonModule, call: ast.Call) -> bool:
        """A method of an `Api` subclass that passes its arguments on to `add_resource`."""
        if not isinstance(call.func, ast.Attribute) or call.func.attr == "add_resource":
            return False
        return call.func.attr in self._resource_wrappers

    @cached_property
    def _resource_wrappers(self) -> frozenset[str]:
        names = set()
        for module in self._code.modules:
            for node in module.classes():
                if not any(
                    b.endswith(("Api", "flask_restful.Api"))
                    for b in self._symbols.bases(module, node)
                ):
                    continue
                for item in node.body:
                    if isinstance(item, ast.FunctionDef) and any(
                        isinstance(inner, ast.Call) and dotted(inner.func) == "self.add_resource"
                        for inner in ast.walk(item)
                    ):
                        names.add(item.name)
        return frozenset(names)

    def _resources(
        self, module: PythonModule, call: ast.Call, routers: dict[Key, Router]
    ) -> Iterator[Route]:
        owner = call.func.value if isinstance(call.func, ast.Attribute) else None
        key = self.key(module, owner)
        router = routers.get(key) if key else None
        if router is None or router.kind != "Api" or not call.args:
            return
        handler, handler_module = self._handler(module, call.args[0])
        methods = (
            _class_methods(handler, self._symbols, handler_module)
            if isinstance(handler, ast.ClassDef) and handler_module is not None
            else ()
        ) or ("ANY",)
        for url in call.args[1:]:
            if isinstance(url, ast.Starred):
                continue
            path = self._path(module, url, call.lineno)
            if path is None:
                continue
            for prefix, inherited, chain in self._lineages(key, routers):
                yield Route(
                    _join(prefix, path, "flask"),
                    methods,
                    module,
                    call.lineno,
                    "flask",
                    handler,
                    call,
                    inherited,
                    chain=chain,
                    handler_module=handler_module,
                    resource_decorators=router.decorators,
                )

    def _starlette_entries(
        self, module: PythonModule, node: ast.expr, prefix: str, *, depth: int = 0
    ) -> Iterator[tuple[PythonModule, ast.Call, str, str]]:
        """Each entry of a Starlette routes list with a readable path: its module, its call, the
        prefix of the `Mount`s around it, and its own path. A list named by a variable is
        followed; a `Mount(path, routes=[...])` is entered, not yielded."""
        if depth > 6:
            return
        if isinstance(node, ast.Name):
            symbol = self._symbols.resolve(module, node)
            if isinstance(symbol, Local) and isinstance(symbol.node, ast.List | ast.Tuple):
                yield from self._starlette_entries(
                    symbol.module, symbol.node, prefix, depth=depth + 1
                )
            return
        for element in elements(node):
            if not isinstance(element, ast.Call):
                continue
            path = self._symbols.string(
                module, element.args[0] if element.args else keyword(element, "path")
            )
            if path is None:
                continue
            inner = keyword(element, "routes") if last_name(element.func) == "Mount" else None
            if inner is not None:
                yield from self._starlette_entries(
                    module, inner, _join(prefix, path, "concat"), depth=depth + 1
                )
            else:
                yield module, element, prefix, path

    def _starlette_list(
        self, module: PythonModule, node: ast.expr, key: Key, routers: dict[Key, Router]
    ) -> Iterator[Route]:
        for module_, element, prefix, path in self._starlette_entries(module, node, ""):
            name = last_name(element.func)
            if name in {"Route", "WebSocketRoute"}:
                endpoint = (
                    element.args[1] if len(element.args) > 1 else keyword(element, "endpoint")
                )
                handler, handler_module = self._handler(module_, endpoint)
                methods = _methods(self._symbols.value(module_, keyword(element, "methods")), "GET")
                if isinstance(handler, ast.ClassDef):
                    methods = _class_methods(handler) or methods
                for above, inherited, chain in self._lineages(key, routers):
                    yield Route(
                        _join(_join(above, prefix, "concat"), path, "concat"),
                        methods,
                        module_,
                        element.lineno,
                        "starlette",
                        handler,
                        element,
                        inherited,
                        chain=chain,
                        handler_module=handler_module,
                    )
            elif name == "Mount":
                app = keyword(element, "app") or (
                    element.args[1] if len(element.args) > 1 else None
                )
                if self._mounted(module_, app) not in routers:
                    yield Route(
                        _join(prefix, path, "concat"),
                        ("ANY",),
                        module_,
                        element.lineno,
                        "starlette",
                        call=element,
                        kind=_mount_kind(app),
                    )

    def _starlette_mounts(
        self, module: PythonModule, node: ast.expr, key: Key, routers: dict[Key, Router]
    ) -> None:
        """`Mount("/api", app=api)` in a routes list: the mounted app's routes go under it."""
        for module_, element, prefix, path in self._starlette_entries(module, node, ""):
            if last_name(element.func) != "Mount":
                continue
            app = keyword(element, "app") or (element.args[1] if len(element.args) > 1 else None)
            child = self._mounted(module_, app)
            if child in routers:
                full = _join(prefix, path, "concat")
                routers[child].parents.append(Edge(key, full.rstrip("/"), (), "concat"))

    # --- Django ------------------------------------------------------------------------------
    @cached_property
    def _urlconfs(self) -> dict[str, tuple[PythonModule, list[ast.expr]]]:
        found = {}
        for module in self._code.modules:
            values = list(_assigned(module, "urlpatterns"))
            if values:
                found[module.name] = (module, values)
        return found

    def _root_urlconfs(self) -> list[str]:
        for module in self._code.modules:
            value = module_level(module, "ROOT_URLCONF")
            name = string_value(value) if isinstance(value, ast.expr) else None
            if name and module_level(module, "INSTALLED_APPS") is not None:
                real = self._code.module(name)
                if real is not None and real.name in self._urlconfs:
                    return [real.name]
        included: set[str] = set()
        for _, values in self._urlconfs.values():
            for value in values:
                for node in ast.walk(value):
                    if (
                        isinstance(node, ast.Call)
                        and last_name(node.func) == "include"
                        and node.args
                    ):
                        target = string_value(node.args[0])
                        real = self._code.module(target) if target else None
                        if real is not None:
                            included.add(real.name)
        return [name for name in self._urlconfs if name not in included]

    def _django_routes(self) -> Iterator[Route]:
        for name in self._root_urlconfs():
            module, values = self._urlconfs[name]
            for value in values:
                yield from self._patterns(module, value, "", 0)

    def _patterns(
        self, module: PythonModule, node: ast.expr, prefix: str, depth: int
    ) -> Iterator[Route]:
        if depth > 8:
            return
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            yield from self._patterns(module, node.left, prefix, depth + 1)
            yield from self._patterns(module, node.right, prefix, depth + 1)
            return
        if isinstance(node, ast.Attribute) and node.attr == "urls":
            yield from self._drf_router(module, node.value, prefix)
            return
        if isinstance(node, ast.Name):
            symbol = self._symbols.resolve(module, node)
            if isinstance(symbol, Local) and isinstance(symbol.node, ast.expr):
                yield from self._patterns(symbol.module, symbol.node, prefix, depth + 1)
            return
        for element in elements(node):
            if isinstance(element, ast.Starred):
                yield from self._patterns(module, element.value, prefix, depth + 1)
                continue
            if not (isinstance(element, ast.Call) and last_name(element.func) in DJANGO_PATH_CALLS):
                continue
            if not element.args:
                continue
            raw = self._symbols.string(module, element.args[0])
            if raw is None:
                self.unreadable.append(
                    Unreadable(module, element.lineno, ast.unparse(element.args[0])[:60])
                )
                continue
            route = _django_segment(raw, last_name(element.func) != "path")
            target = element.args[1] if len(element.args) > 1 else keyword(element, "view")
            if isinstance(target, ast.Call) and last_name(target.func) == "include":
                yield from self._include(module, target, prefix + route, depth)
                continue
            if isinstance(target, ast.Attribute) and dotted(target).endswith("site.urls"):
                yield Route(
                    "/" + prefix + route, ("ANY",), module, element.lineno, "django", call=element
                )
                continue
            handler, handler_module = self._handler(module, target)
            yield Route(
                "/" + prefix + route,
                ("ANY",),
                module,
                element.lineno,
                "django",
                handler,
                element,
                handler_module=handler_module,
            )

    def _include(
        self, module: PythonModule, include: ast.Call, prefix: str, depth: int
    ) -> Iterator[Route]:
        if not include.args:
            return
        argument = include.args[0]
        if isinstance(argument, ast.Tuple) and argument.elts:
            argument = argument.elts[0]
        name = (
            self._symbols.string(module, argument) if isinstance(argument, ast.Constant) else None
        )
        if name is not None:
            real = self._code.module(name)
            if real is not None and real.name in self._urlconfs:
                other, values = self._urlconfs[real.name]
                for value in values:
                    yield from self._patterns(other, value, prefix, depth + 1)
            return
        if isinstance(argument, ast.Name):
            symbol = self._symbols.resolve(module, argument)
            if (
                isinstance(symbol, Module)
                and symbol.local is not None
                and symbol.local.name in self._urlconfs
            ):
                other, values = self._urlconfs[symbol.local.name]
                for value in values:
                    yield from self._patterns(other, value, prefix, depth + 1)
                return
        yield from self._patterns(module, argument, prefix, depth + 1)

    def _drf_router(self, module: PythonModule, node: ast.expr, prefix: str) -> Iterator[Route]:
        symbol = self._symbols.resolve(module, node)
        if not isinstance(symbol, Local) or not isinstance(symbol.node, ast.Call):
            return
        if last_name(symbol.node.func) not in DRF_ROUTERS:
            return
        owner = symbol.module
        name = dotted(node) if symbol.module is module else dotted(node).rsplit(".", 1)[-1]
        for call in owner.calls():
            if dotted(call.func) != f"{name}.register" or not call.args:
                continue
            raw = self._symbols.string(owner, call.args[0])
            if raw is None:
                continue
            handler, handler_module = self._handler(
                owner, call.args[1] if len(call.args) > 1 else None
            )
            segment = _django_segment(raw, True).rstrip("/")
            yield Route(
                "/" + prefix + segment + "/",
                ("ANY",),
                owner,
                call.lineno,
                "django",
                handler,
                call,
                handler_module=handler_module,
            )


def _django_segment(raw: str, regex: bool) -> str:
    """A path() route as written; a regex route made readable (`^(?P<pk>[0-9]+)/$` -> `<pk>/`)."""
    if not regex:
        return raw
    text = raw.removeprefix("^").removesuffix("$")
    return re.sub(r"\(\?P<(\w+)>[^)]*\)", r"<\1>", text)


def _module_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The module's statements, those under a module-level `if`, `try` or `with` included:
    `if not settings.WORKER_MODE: urlpatterns += [...]` adds routes the service serves in one
    of its configurations (Flagsmith's API is all there)."""
    for node in body:
        yield node
        if isinstance(node, ast.If):
            yield from _module_statements(node.body)
            yield from _module_statements(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody):
                yield from _module_statements(block)
            for handler in node.handlers:
                yield from _module_statements(handler.body)
        elif isinstance(node, ast.With):
            yield from _module_statements(node.body)


def _assigned(module: PythonModule, name: str) -> Iterator[ast.expr]:
    for node in _module_statements(module.tree.body):
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(target, ast.Name) and target.id == name for target in node.targets)
        ) or (
            isinstance(node, ast.AugAssign | ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == name
            and node.value is not None
        ):
            assert node.value is not None
            yield node.value


def _class_methods(
    node: ast.ClassDef, symbols: Symbols | None = None, module: PythonModule | None = None
) -> tuple[str, ...]:
    """The HTTP methods a class-based view or resource defines (its own, then its bases')."""
    names = {
        item.name.upper()
        for item in node.body
        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name in HTTP_METHODS
    }
    if symbols is not None and module is not None:  # and those it inherits
        for base in node.bases:
            parent = symbols.resolve(module, base)
            if isinstance(parent, Local) and isinstance(parent.node, ast.ClassDef):
                names.update(_class_methods(parent.node, symbols, parent.module))
    return tuple(sorted(names))


def _mount_kind(app: ast.AST | None) -> str:
    return "static" if isinstance(app, ast.Call) and "Static" in dotted(app.func) else "mount"


def _framework_of(module: PythonModule) -> str:
    for name in ("fastapi", "starlette", "flask", "django"):
        if name in module.imported_modules:
            return name
    return "unknown"


__all__ = ["UNKNOWN", "Route", "Routes", "is_infrastructure_path"]
