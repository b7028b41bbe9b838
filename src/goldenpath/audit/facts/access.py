"""Who may call each route, decided from the framework's own mechanism, never from a name.

A route requires authentication when something the framework runs before its handler checks a
credential: it reads one (an Authorization or API-key header, a cookie or session, a bearer
scheme, `request.user`, a JWT it decodes) and refuses the request (raises, answers 401/403) when
it does not hold. That something is found where each framework puts it:

- FastAPI: the route's, its routers' and the app's `dependencies=`, and the handler's
  parameters (`Depends(...)`/`Security(...)`, `Annotated[..., Depends(...)]` and type aliases of
  those), followed through the dependencies' own parameters and the functions they call, and
  class instances used as dependencies (their `__call__`); an app middleware that refuses.
- Starlette: `@requires(...)`, and middleware.
- Flask: `login_required`-style decorators (Flask-Login, Flask-JWT-Extended, Flask-HTTPAuth, or
  the project's own), Flask-RESTful `decorators`/`method_decorators` (inherited from a base
  resource) and `Api(decorators=...)`, and `before_request` hooks of the app or blueprint.
- Django: `login_required` and friends, the auth mixins, REST framework `permission_classes`
  (or `DEFAULT_PERMISSION_CLASSES`, whose own default AllowAny leaves a view open), and
  `LoginRequiredMiddleware` with `login_not_required`.

A parameter typed `Session` or a function named `get_current_user` proves nothing by itself: the
login route that takes only a database session is open. What the audit cannot read (a
dependency from a library it does not know, whose name says it is about authentication) makes
the route "undetermined", with the reason, rather than a guess either way.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from goldenpath.audit.model import Evidence

from .python import PythonModule, dotted, elements, keyword, last_name
from .routes import Key, Route
from .symbols import UNKNOWN, External, Local, Symbols, returned

if TYPE_CHECKING:
    from . import Facts

AUTHENTICATED = "authenticated"
PUBLIC = "public"
OPEN = "open"
UNDETERMINED = "undetermined"
INFRASTRUCTURE = "infrastructure"

MAX_DEPTH = 24  # calls and dependency hops followed from a route (cycles stop earlier)
CREDENTIAL_KEY = re.compile(
    r"(authorization|api[-_]?key|token|auth|cookie|session|x-[\w-]*(key|secret))", re.IGNORECASE
)
CREDENTIAL_CONTAINERS = ("headers", "META", "environ")
SESSION_ATTRIBUTES = frozenset({"cookies", "COOKIES", "session", "authorization"})
USER_CHECKS = frozenset({"is_authenticated", "is_anonymous", "has_perm", "has_perms"})
CREDENTIAL_TYPES = frozenset({"HTTPAuthorizationCredentials", "HTTPBasicCredentials"})
REFUSAL_NAMES = re.compile(
    r"(HTTP_401_UNAUTHORIZED|HTTP_403_FORBIDDEN|^UNAUTHORIZED$|^FORBIDDEN$|HttpResponseForbidden|"
    r"redirect_to_login|PermissionDenied|NotAuthenticated|AuthenticationFailed)"
)
# FastAPI's security schemes: they read a credential (and may refuse a request without one),
# but never verify it: that is the dependency built on them.
SCHEMES = frozenset(
    {
        "OAuth2PasswordBearer",
        "OAuth2AuthorizationCodeBearer",
        "OAuth2",
        "OpenIdConnect",
        "HTTPBearer",
        "HTTPBasic",
        "HTTPDigest",
        "APIKeyHeader",
        "APIKeyCookie",
        "APIKeyQuery",
    }
)
# Library decorators and dependencies that authenticate, by the end of their qualified name.
KNOWN_AUTHENTICATORS = (
    "flask_login.login_required",
    "flask_login.utils.login_required",
    "flask_jwt_extended.jwt_required",
    "flask_jwt_extended.view_decorators.jwt_required",
    "flask_security.auth_required",
    "flask_security.login_required",
    "flask_security.roles_required",
    "flask_security.decorators.auth_required",
    "flask_praetorian.auth_required",
    "flask_praetorian.roles_required",
    "django.contrib.auth.decorators.login_required",
    "django.contrib.auth.decorators.permission_required",
    "django.contrib.auth.decorators.user_passes_test",
    "django.contrib.admin.views.decorators.staff_member_required",
    "starlette.authentication.requires",
    "fastapi_users.FastAPIUsers.current_user",
)
KNOWN_PUBLIC = ("django.contrib.auth.decorators.login_not_required",)
HTTPAUTH_CLASSES = frozenset({"HTTPBasicAuth", "HTTPTokenAuth", "HTTPDigestAuth", "MultiAuth"})
AUTH_MIXINS = frozenset({"LoginRequiredMixin", "PermissionRequiredMixin", "UserPassesTestMixin"})
DRF_AUTHENTICATED = frozenset(
    {
        "IsAuthenticated",
        "IsAdminUser",
        "DjangoModelPermissions",
        "DjangoObjectPermissions",
        "IsAuthenticatedOrReadOnly",
        "DjangoModelPermissionsOrAnonReadOnly",
        "TokenHasScope",
        "TokenHasReadWriteScope",
        "TokenHasResourceScope",
        "HasAPIKey",
    }
)
# Words that make an unreadable dependency or decorator worth a doubt (never a proof).
AUTHISH = re.compile(
    r"(auth|login|permission|token|jwt|scope|role|user|principal|guard|access|verif|caller|"
    r"identity|credential|api_?key)",
    re.IGNORECASE,
)
# A call on an object the audit cannot type is followed to the methods of that name, when
# there are few enough of them to be the plugins of one interface, not a common verb.
MAX_NAMESAKES = 8
GENERIC_METHODS = frozenset(
    {"get", "post", "put", "patch", "delete", "head", "options", "run", "call", "execute",
     "__call__", "__init__", "save", "update", "create", "list", "first", "all", "filter",
     "dispatch", "send", "close", "read", "write", "format", "append", "items", "keys"}
)  # fmt: skip


@dataclass(frozen=True)
class Access:
    kind: str  # authenticated, public, open, undetermined
    reason: str
    where: Evidence | None = None


@dataclass(frozen=True)
class Judgement:
    """What one piece run before the handler does about credentials."""

    reads: bool = False  # obtains a credential (itself, or through what it depends on or calls)
    checks: bool = False  # refuses a request whose credential does not hold
    public: bool = False  # an explicit, deliberate "open to anyone" mark
    unknown: str | None = None  # an authentication-looking piece the audit cannot read
    where: Evidence | None = None
    label: str = ""

    @staticmethod
    def combine(items: Iterable[Judgement]) -> Judgement:
        items = list(items)
        checking = next((item for item in items if item.checks), None)
        if checking is not None:
            return checking
        public = next((item for item in items if item.public), None)
        unknown = next((item for item in items if item.unknown), None)
        shown = public or unknown or NOTHING
        return Judgement(
            reads=any(item.reads for item in items),
            public=public is not None,
            unknown=unknown.unknown if unknown else None,
            where=shown.where,
            label=shown.label,
        )


NOTHING = Judgement()
IN_PROGRESS = Judgement(label="(recursion)")

Function = ast.FunctionDef | ast.AsyncFunctionDef
Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
PUBLIC_MARK = re.compile(r"(public|anonymous|allow_?any|no_?auth|unauthenticated)", re.IGNORECASE)


def _body_is_empty(function: Function) -> bool:
    return all(
        isinstance(item, ast.Pass)
        or (isinstance(item, ast.Expr) and isinstance(item.value, ast.Constant))
        for item in function.body
    )


class AccessAnalysis:
    def __init__(self, facts: Facts) -> None:
        self._facts = facts
        self._symbols: Symbols = facts.symbols
        self._memo: dict[int, Judgement] = {}
        self._chains: dict[tuple[Key, ...], list[Judgement]] = {}
        self._routes: dict[int, Access] = {}

    # --- building blocks ---------------------------------------------------------------------
    def _reads(self, module: PythonModule, function: Function) -> bool:
        for node in ast.walk(function):
            if isinstance(node, ast.Subscript):
                container = dotted(node.value)
                if container.endswith(CREDENTIAL_CONTAINERS) and self._credential_key(
                    module, node.slice
                ):
                    return True
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                container = dotted(node.func.value)
                if (
                    node.func.attr in {"get", "getlist", "pop"}
                    and container.endswith(CREDENTIAL_CONTAINERS)
                    and node.args
                    and self._credential_key(module, node.args[0])
                ):
                    return True
                if node.func.attr == "decode" and keyword(node, "algorithms") is not None:
                    return True  # a JWT verified with pinned algorithms
                if node.func.attr in {"verify_jwt_in_request", "authenticate"}:
                    return True
            elif isinstance(node, ast.Attribute) and (
                node.attr in USER_CHECKS
                or (node.attr in SESSION_ATTRIBUTES and isinstance(node.ctx, ast.Load))
            ):
                return True
        arguments = [*function.args.args, *function.args.kwonlyargs]
        return any(
            argument.annotation is not None
            and CREDENTIAL_TYPES & {last_name(n) for n in ast.walk(argument.annotation)}
            for argument in arguments
        )

    def _credential_key(self, module: PythonModule, node: ast.AST) -> bool:
        value = self._symbols.value(module, node)
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        return isinstance(value, str) and bool(CREDENTIAL_KEY.search(value))

    @staticmethod
    def _refuses(function: Function) -> bool:
        for node in ast.walk(function):
            if isinstance(node, ast.Raise):
                return True
            if isinstance(node, ast.Constant) and node.value in {401, 403}:
                return True
            if isinstance(node, ast.Name | ast.Attribute) and REFUSAL_NAMES.search(
                node.id if isinstance(node, ast.Name) else node.attr
            ):
                return True
        return False

    def _named(self, name: str) -> list[tuple[PythonModule, Function]]:
        """Functions and methods called `name` in the code (for calls on objects the audit
        cannot type: `provider.get_current_user(request)`)."""
        if name in GENERIC_METHODS:
            return []
        found = [
            (module, node)
            for module in self._facts.code.modules
            for node in module.functions()
            if node.name == name
        ]
        return found if len(found) <= MAX_NAMESAKES else []

    def _callees(
        self, module: PythonModule, function: Function
    ) -> Iterator[tuple[PythonModule, Function]]:
        seen: set[int] = set()
        for node in ast.walk(function):
            if not isinstance(node, ast.Call):
                continue
            symbol = self._symbols.resolve(module, node.func)
            targets: list[tuple[PythonModule, Function]] = []
            if isinstance(symbol, Local) and isinstance(symbol.node, Function):
                targets = [(symbol.module, symbol.node)]
            elif symbol is None and isinstance(node.func, ast.Attribute):
                targets = self._named(node.func.attr)
            for target in targets:
                if id(target[1]) not in seen and target[1] is not function:
                    seen.add(id(target[1]))
                    yield target

    def function(self, module: PythonModule, function: Function, depth: int = 0) -> Judgement:
        """What a function run before the handler (a dependency, a decorator, a hook) does."""
        key = id(function)
        if key in self._memo:
            return self._memo[key]
        if depth > MAX_DEPTH:
            return NOTHING
        self._memo[key] = IN_PROGRESS
        where = module.evidence(function, function.name)
        parts = [
            self.dependency(module, expression, depth + 1) for expression in _parameters(function)
        ]
        parts += [self.function(m, f, depth + 1) for m, f in self._callees(module, function)]
        reads = self._reads(module, function) or any(part.reads for part in parts)
        if self._refuses(function) and reads:
            judgement = Judgement(True, True, where=where, label=function.name)
        else:
            combined = Judgement.combine(parts)
            judgement = Judgement(
                reads,
                combined.checks,
                combined.public,
                combined.unknown,
                combined.where or where,
                combined.label or function.name,
            )
        self._memo[key] = judgement
        return judgement

    def _instance(self, module: PythonModule, node: ast.AST, depth: int) -> Judgement:
        """A class instance used as a dependency: its `__call__`, or a security scheme."""
        owner = self._symbols.instance_of(module, node)
        if owner is None and isinstance(node, ast.Call):
            factory = self._symbols.resolve(module, node.func)
            if isinstance(factory, Local) and isinstance(factory.node, Function):
                # A factory that builds its dependency at run time (a class made inside it,
                # a signature made with makefun): nothing the audit can follow.
                return Judgement(
                    unknown=f"{factory.node.name}(...) builds its dependency at run time",
                    where=module.evidence(node),
                    label=factory.node.name,
                )
        if isinstance(owner, External):
            return self._external(owner, module.evidence(node if hasattr(node, "lineno") else None))
        if isinstance(owner, Local) and isinstance(owner.node, ast.ClassDef):
            scheme = any(
                b.rsplit(".", 1)[-1] in SCHEMES or ".security" in b
                for b in self._symbols.bases(owner.module, owner.node)
            )
            call = self._symbols.class_member(owner.module, owner.node, "__call__")
            if call is not None and isinstance(call.node, Function):
                judged = self.function(call.module, call.node, depth + 1)
                if scheme and not judged.reads:
                    judged = Judgement(
                        True,
                        judged.checks,
                        judged.public,
                        judged.unknown,
                        judged.where,
                        judged.label,
                    )
                return judged
            if scheme:
                return Judgement(reads=True, label=owner.node.name)
        return NOTHING

    def _external(self, symbol: External, where: Evidence) -> Judgement:
        name = symbol.name
        if name.startswith("rest_framework.decorators."):
            return NOTHING  # api_view, permission_classes: read where they say something
        if symbol.last in SCHEMES:
            return Judgement(reads=True, where=where, label=symbol.last)
        if any(name.endswith(known) or name == known for known in KNOWN_AUTHENTICATORS):
            return Judgement(True, True, where=where, label=name)
        if any(name.endswith(known) for known in KNOWN_PUBLIC):
            return Judgement(public=True, where=where, label=name)
        if AUTHISH.search(symbol.last):
            return Judgement(
                unknown=f"{name} comes from a library the audit does not read",
                where=where,
                label=name,
            )
        return NOTHING

    def callable_(self, module: PythonModule, target: ast.AST, depth: int = 0) -> Judgement:
        """What calling `target` before the handler does (the argument of Depends(...))."""
        if depth > MAX_DEPTH:
            return NOTHING
        if isinstance(target, ast.Call):
            return self._made(module, target, depth)
        symbol = self._symbols.resolve(module, target)
        if not isinstance(symbol, Local):
            where = module.evidence(target if hasattr(target, "lineno") else None)
            return self._external(symbol, where) if isinstance(symbol, External) else NOTHING
        if isinstance(symbol.node, Function):
            return self._dependency_function(symbol.module, symbol.node, depth)
        if isinstance(symbol.node, ast.ClassDef):  # Depends(SomeClass): its __init__ runs
            init = self._symbols.class_member(symbol.module, symbol.node, "__init__")
            is_function = init is not None and isinstance(init.node, Function)
            return self.function(init.module, init.node, depth + 1) if is_function else NOTHING  # type: ignore[union-attr, arg-type]
        return self._instance(symbol.module, symbol.node, depth)

    def _made(self, module: PythonModule, target: ast.Call, depth: int) -> Judgement:
        """`Depends(Authenticator(...))`, `Depends(users.current_user(active=True))`."""
        callee = self._symbols.resolve(module, target.func)
        if not isinstance(callee, External):
            return self._instance(module, target, depth)
        owner = (
            self._symbols.instance_of(module, target.func.value)
            if isinstance(target.func, ast.Attribute)
            else None
        )
        if isinstance(owner, External) and callee.last == "current_user":
            # fastapi-users: `fastapi_users.current_user(...)` authenticates.
            return Judgement(
                True, True, where=module.evidence(target), label=f"{owner.last}.current_user"
            )
        return self._external(callee, module.evidence(target))

    def _dependency_function(
        self, module: PythonModule, function: Function, depth: int
    ) -> Judgement:
        judged = self.function(module, function, depth + 1)
        is_mark = (
            not judged.checks
            and _body_is_empty(function)
            and not _parameters_of(function)
            and PUBLIC_MARK.search(function.name)
        )
        if is_mark:  # a dependency that does nothing, named as the deliberate mark it is
            return Judgement(public=True, where=module.evidence(function), label=function.name)
        return judged

    def dependency(self, module: PythonModule, expression: ast.AST, depth: int = 0) -> Judgement:
        """A FastAPI dependency as written: `Depends(x)`, `Security(x)`, a name bound to one,
        a call to a function that returns one (`RequireScopes("items:read")`), or the
        `Annotated[T, Depends(x)]` of a parameter."""
        if depth > MAX_DEPTH:
            return NOTHING
        if isinstance(expression, ast.Call):
            return self._dependency_call(module, expression, depth)
        if isinstance(expression, ast.Name | ast.Attribute):
            symbol = self._symbols.resolve(module, expression)
            if isinstance(symbol, Local) and not isinstance(symbol.node, Definition):
                return self.dependency(symbol.module, symbol.node, depth + 1)
            return NOTHING
        if isinstance(expression, ast.Subscript) and last_name(expression.value) == "Annotated":
            items = expression.slice.elts if isinstance(expression.slice, ast.Tuple) else []
            return Judgement.combine(self.dependency(module, item, depth + 1) for item in items[1:])
        return NOTHING

    def _dependency_call(self, module: PythonModule, expression: ast.Call, depth: int) -> Judgement:
        if last_name(expression.func) in {"Depends", "Security"}:
            target = expression.args[0] if expression.args else keyword(expression, "dependency")
            return self.callable_(module, target, depth + 1) if target is not None else NOTHING
        callee = self._symbols.resolve(module, expression.func)
        if isinstance(callee, Local) and isinstance(callee.node, Function):
            value = returned(callee.node)
            if value is not None:
                return self.dependency(callee.module, value, depth + 1)
        return NOTHING

    def annotation(self, module: PythonModule, annotation: ast.AST, depth: int = 0) -> Judgement:
        """A parameter's annotation: `Annotated[T, Depends(...)]`, or an alias of one."""
        if isinstance(annotation, ast.Subscript) and last_name(annotation.value) == "Annotated":
            return self.dependency(module, annotation, depth)
        if isinstance(annotation, ast.Name | ast.Attribute) and depth < MAX_DEPTH:
            symbol = self._symbols.resolve(module, annotation)
            if isinstance(symbol, Local) and isinstance(symbol.node, ast.Subscript):
                return self.annotation(symbol.module, symbol.node, depth + 1)
        return NOTHING

    # --- per framework ---------------------------------------------------------------------
    def _handler_parameters(self, module: PythonModule, handler: Function) -> list[Judgement]:
        judgements = []
        arguments = [*handler.args.args, *handler.args.kwonlyargs]
        defaults: list[ast.expr | None] = [None] * (
            len(handler.args.args) - len(handler.args.defaults)
        )
        defaults += list(handler.args.defaults)
        defaults += list(handler.args.kw_defaults)
        for argument, default in zip(arguments, defaults, strict=False):
            if default is not None:
                if (
                    isinstance(default, ast.Call)
                    and last_name(default.func) == "Depends"
                    and not default.args
                    and argument.annotation is not None
                ):
                    judgements.append(self.callable_(module, argument.annotation))
                else:
                    judgements.append(self.dependency(module, default))
            if argument.annotation is not None:
                judgements.append(self.annotation(module, argument.annotation))
        return judgements

    def _middleware(self, chain: tuple[Key, ...]) -> list[Judgement]:
        if chain not in self._chains:
            self._chains[chain] = self._chain_middleware(chain)
        return self._chains[chain]

    def _chain_middleware(self, chain: tuple[Key, ...]) -> list[Judgement]:
        judgements = []
        routers = self._facts.routes.routers
        for key in chain:
            router = routers.get(key)
            if router is None:
                continue
            for item in elements(keyword(router.call, "middleware")):
                if isinstance(item, ast.Call) and item.args:
                    judgements.append(self._middleware_class(router.module, item.args[0]))
            judgements += [
                judged
                for module, node in self._attached(key, "add_middleware")
                for judged in [self._middleware_class(module, node)]
            ]
            judgements += [
                self.function(module, function)
                for module, function in self._hooks(key, "middleware")
            ]
            judgements += [
                self.function(module, function)
                for module, function in self._hooks(key, "before_request")
            ]
            judgements += [
                self._middleware_class(module, node)
                for module, node in self._attached(key, "before_request")
            ]
        return judgements

    def _middleware_class(self, module: PythonModule, node: ast.AST) -> Judgement:
        symbol = self._symbols.resolve(module, node)
        if isinstance(symbol, Local) and isinstance(symbol.node, ast.ClassDef):
            parts = []
            for method in ("__call__", "dispatch", "process_request", "process_view"):
                member = self._symbols.class_member(symbol.module, symbol.node, method)
                if member is not None and isinstance(member.node, Function):
                    parts.append(self.function(member.module, member.node))
            return Judgement.combine(parts)
        if isinstance(symbol, Local) and isinstance(symbol.node, Function):
            return self.function(symbol.module, symbol.node)
        return NOTHING

    @cached_property
    def _attachments(self) -> dict[tuple[Key, str], list[tuple[PythonModule, ast.expr]]]:
        """`<router>.<method>(X)` calls (add_middleware, before_request), by router and method,
        gathered in one pass."""
        found: dict[tuple[Key, str], list[tuple[PythonModule, ast.expr]]] = {}
        for module in self._facts.code.modules:
            for call in module.calls():
                if (
                    isinstance(call.func, ast.Attribute)
                    and call.func.attr in {"add_middleware", "before_request"}
                    and call.args
                ):
                    key = self._facts.routes.key(module, call.func.value)
                    if key is not None:
                        found.setdefault((key, call.func.attr), []).append((module, call.args[0]))
        return found

    @cached_property
    def _hook_index(self) -> dict[tuple[Key, str], list[tuple[PythonModule, Function]]]:
        """Functions decorated `@<router>.middleware(...)` or `@<router>.before_request`."""
        found: dict[tuple[Key, str], list[tuple[PythonModule, Function]]] = {}
        for module in self._facts.code.modules:
            for function in module.functions():
                for decorator in function.decorator_list:
                    target = decorator.func if isinstance(decorator, ast.Call) else decorator
                    if isinstance(target, ast.Attribute) and target.attr in {
                        "middleware",
                        "before_request",
                    }:
                        key = self._facts.routes.key(module, target.value)
                        if key is not None:
                            found.setdefault((key, target.attr), []).append((module, function))
        return found

    def _attached(self, key: Key, method: str) -> list[tuple[PythonModule, ast.expr]]:
        return self._attachments.get((key, method), [])

    def _hooks(self, key: Key, method: str) -> list[tuple[PythonModule, Function]]:
        return self._hook_index.get((key, method), [])

    def decorator(self, module: PythonModule, expression: ast.AST) -> Judgement:
        target = expression.func if isinstance(expression, ast.Call) else expression
        if (
            isinstance(expression, ast.Call)
            and last_name(expression.func) == "method_decorator"
            and expression.args
        ):
            return self.decorator(module, expression.args[0])
        if isinstance(target, ast.Attribute):
            owner = self._symbols.instance_of(module, target.value)
            if isinstance(owner, External) and owner.last in HTTPAUTH_CLASSES:
                return Judgement(
                    True,
                    True,
                    where=module.evidence(expression),
                    label=f"{owner.last}.{target.attr}",
                )
        symbol = self._symbols.resolve(module, target)
        if isinstance(symbol, External):
            return self._external(symbol, module.evidence(expression))
        if isinstance(symbol, Local) and isinstance(symbol.node, Function):
            return self.function(symbol.module, symbol.node)
        return NOTHING

    def _decorators(self, module: PythonModule, items: Iterable[ast.expr]) -> list[Judgement]:
        return [self.decorator(module, item) for item in items]

    def _flask(self, route: Route) -> list[Judgement]:
        handler, module = route.handler, route.handler_module or route.module
        judgements = self._decorators(
            route.module, [d for m, d in route.resource_decorators if m is route.module]
        )
        judgements += [
            self.decorator(m, d) for m, d in route.resource_decorators if m is not route.module
        ]
        if isinstance(handler, Function):
            judgements += self._decorators(module, handler.decorator_list)
        elif isinstance(handler, ast.ClassDef):
            for attribute in ("decorators", "method_decorators"):
                member = self._symbols.class_member(module, handler, attribute)
                if member is None:
                    continue
                judgements += [
                    self.decorator(where, item)
                    for where, item in self._decorator_list(member.module, member.node)
                ]
            methods = [
                item
                for item in handler.body
                if isinstance(item, Function) and item.name.upper() in route.methods
            ]
            if methods:
                per_method = [
                    Judgement.combine(self._decorators(module, m.decorator_list)) for m in methods
                ]
                if all(j.checks for j in per_method):
                    judgements.append(per_method[0])
        return judgements

    def _decorator_list(
        self, module: PythonModule, node: ast.AST, depth: int = 0
    ) -> list[tuple[PythonModule, ast.expr]]:
        """A resource's `decorators`: a list, a dict of lists by method, or a sum of those
        with another class's (`BaseResource.decorators + [limiter.limit(...)]`)."""
        if depth > 6:
            return []
        if isinstance(node, ast.Dict):
            return [
                found
                for value in node.values
                if value is not None
                for found in self._decorator_list(module, value, depth + 1)
            ]
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return self._decorator_list(module, node.left, depth + 1) + self._decorator_list(
                module, node.right, depth + 1
            )
        if isinstance(node, ast.Attribute):
            owner = self._symbols.resolve(module, node.value)
            if isinstance(owner, Local) and isinstance(owner.node, ast.ClassDef):
                member = self._symbols.class_member(owner.module, owner.node, node.attr)
                if member is not None:
                    return self._decorator_list(member.module, member.node, depth + 1)
            return []
        return [(module, item) for item in elements(node)]

    def _drf_permissions(self, module: PythonModule, values: ast.AST | None) -> Judgement | None:
        if values is None:
            return None
        items = elements(values) if isinstance(values, ast.List | ast.Tuple) else None
        if items is None:
            symbol = self._symbols.resolve(module, values)
            if isinstance(symbol, Local) and isinstance(symbol.node, ast.List | ast.Tuple):
                return self._drf_permissions(symbol.module, symbol.node)
            return None
        if not items:
            return Judgement(
                public=True, where=module.evidence(values), label="permission_classes = []"
            )
        judged = [self._permission(module, item) for item in items]
        # One authenticating class decides; all-public is public; the rest combine.
        return Judgement.combine(judged) if not all(j.public for j in judged) else judged[0]

    def _permission(self, module: PythonModule, node: ast.AST) -> Judgement:
        if isinstance(node, ast.BinOp):
            parts = [self._permission(module, node.left), self._permission(module, node.right)]
            return next((p for p in parts if p.checks), Judgement.combine(parts))
        where = module.evidence(node if hasattr(node, "lineno") else None)
        name = self._symbols.string(module, node)
        symbol: object = None
        if name is not None:  # a dotted path from settings
            source, _, attribute = name.rpartition(".")
            defined = self._facts.code.definition(source, attribute)
            symbol = Local(*defined) if defined else External(name)
        else:
            symbol = self._symbols.resolve(module, node)
        if isinstance(symbol, External):
            if symbol.last in DRF_AUTHENTICATED:
                return Judgement(True, True, where=where, label=symbol.last)
            if symbol.last == "AllowAny":
                return Judgement(public=True, where=where, label="AllowAny")
            return Judgement(
                unknown=f"permission {symbol.name} is not read", where=where, label=symbol.name
            )
        if isinstance(symbol, Local) and isinstance(symbol.node, ast.ClassDef):
            return self._permission_class(symbol.module, symbol.node, where)
        return NOTHING

    def _permission_class(
        self, module: PythonModule, node: ast.ClassDef, where: Evidence
    ) -> Judgement:
        """A permission class of the project's own: what its `has_permission` checks."""
        bases = {b.rsplit(".", 1)[-1] for b in self._symbols.bases(module, node)}
        check = self._symbols.class_member(module, node, "has_permission")
        function = check.node if check is not None and isinstance(check.node, Function) else None
        if bases & DRF_AUTHENTICATED or (
            function is not None and check is not None and self._reads(check.module, function)
        ):
            return Judgement(True, True, where=where, label=node.name)
        body = [s for s in function.body if not isinstance(s, ast.Expr)] if function else []
        allows_all = (
            len(body) == 1
            and isinstance(body[0], ast.Return)
            and isinstance(body[0].value, ast.Constant)
            and body[0].value.value is True
        )
        if allows_all:
            return Judgement(public=True, where=where, label=node.name)
        return Judgement(unknown=f"permission {node.name} could not be read", where=where)

    def _django(self, route: Route) -> list[Judgement]:
        handler, module = route.handler, route.handler_module or route.module
        judgements: list[Judgement] = []
        drf = False
        if isinstance(handler, Function):
            judgements += self._decorators(module, handler.decorator_list)
            names = {
                last_name(d.func if isinstance(d, ast.Call) else d) for d in handler.decorator_list
            }
            drf = "api_view" in names
            for item in handler.decorator_list:
                if (
                    isinstance(item, ast.Call)
                    and last_name(item.func) == "permission_classes"
                    and item.args
                ):
                    permission = self._drf_permissions(module, item.args[0])
                    if permission is not None:
                        return [*judgements, permission]
        elif isinstance(handler, ast.ClassDef):
            bases = self._symbols.bases(module, handler)
            if AUTH_MIXINS & {b.rsplit(".", 1)[-1] for b in bases}:
                return [
                    Judgement(
                        True, True, where=module.evidence(handler), label="an authentication mixin"
                    )
                ]
            judgements += self._decorators(module, handler.decorator_list)
            dispatch = self._symbols.class_member(module, handler, "dispatch")
            if dispatch is not None and isinstance(dispatch.node, Function):
                judgements += self._decorators(dispatch.module, dispatch.node.decorator_list)
            drf = any(b.startswith("rest_framework") for b in bases)
            member = self._symbols.class_member(module, handler, "permission_classes")
            if drf and member is not None:
                permission = self._drf_permissions(member.module, member.node)
                if permission is not None:
                    return [*judgements, permission]
        if drf:
            default = self._drf_default()
            judgements.append(
                default
                if default is not None
                else Judgement(label="REST framework's default permission, AllowAny")
            )
        judgements += self._django_middleware()
        return judgements

    def _dispatcher(self, module: PythonModule, handler: Function) -> Judgement:
        """A view that only hands the request to other views (one per method), each protected
        by its own decorators: protected as a whole when every one of them is."""
        returns = [node.value for node in ast.walk(handler) if isinstance(node, ast.Return)]
        targets = []
        for value in returns:
            symbol = (
                self._symbols.resolve(module, value.func) if isinstance(value, ast.Call) else None
            )
            if not (isinstance(symbol, Local) and isinstance(symbol.node, Function)):
                return NOTHING
            targets.append((symbol.module, symbol.node))
        judged = [
            Judgement.combine(self._decorators(target_module, target.decorator_list))
            for target_module, target in targets
        ]
        if judged and all(j.checks for j in judged):
            return Judgement(
                True, True, where=judged[0].where, label=f"each view {handler.name} calls"
            )
        return NOTHING

    def _drf_default(self) -> Judgement | None:
        setting = self._facts.django_settings.get("REST_FRAMEWORK")
        if setting is None or not isinstance(setting[2], dict):
            return None
        classes = setting[2].get("DEFAULT_PERMISSION_CLASSES")
        if not isinstance(classes, list | tuple):
            return None
        module = next((m for m in self._facts.code.modules if m.path == setting[0]), None)
        if module is None:
            return None
        if not classes:
            return Judgement(
                public=True,
                where=Evidence(setting[0], setting[1]),
                label="DEFAULT_PERMISSION_CLASSES = []",
            )
        judged = [self._permission(module, ast.Constant(value=str(name))) for name in classes]
        chosen = next((j for j in judged if j.checks), Judgement.combine(judged))
        where = Evidence(
            setting[0], setting[1], f"REST_FRAMEWORK DEFAULT_PERMISSION_CLASSES: {chosen.label}"
        )
        return Judgement(
            chosen.reads, chosen.checks, chosen.public, chosen.unknown, where, chosen.label
        )

    def _django_middleware(self) -> list[Judgement]:
        setting = self._facts.django_settings.get("MIDDLEWARE")
        if setting is None or not isinstance(setting[2], list | tuple):
            return []
        found = []
        for entry in setting[2]:
            name = str(entry)
            if name.endswith("LoginRequiredMiddleware"):
                found.append(
                    Judgement(
                        True,
                        True,
                        where=Evidence(setting[0], setting[1]),
                        label="LoginRequiredMiddleware",
                    )
                )
                continue
            source, _, attribute = name.rpartition(".")
            defined = self._facts.code.definition(source, attribute)
            if defined is not None and isinstance(defined[1], ast.ClassDef):
                found.append(self._class_hooks(defined[0], defined[1]))
        return found

    def _class_hooks(self, module: PythonModule, node: ast.ClassDef) -> Judgement:
        parts = []
        for method in ("__call__", "process_request", "process_view"):
            member = self._symbols.class_member(module, node, method)
            if member is not None and isinstance(member.node, Function):
                parts.append(self.function(member.module, member.node))
        return Judgement.combine(parts)

    def _fastapi(self, route: Route) -> list[Judgement]:
        judgements = [
            self.dependency(module, expression)
            for module, expression in route.inherited_dependencies
        ]
        judgements += [
            self.dependency(route.module, item) for item in elements(route.keyword("dependencies"))
        ]
        handler, module = route.handler, route.handler_module or route.module
        if isinstance(handler, Function):
            judgements += self._handler_parameters(module, handler)
            judgements += self._decorators(module, handler.decorator_list)
            judgements += self._view_class_dependencies(module, handler)
        return judgements

    def _view_class_dependencies(self, module: PythonModule, handler: Function) -> list[Judgement]:
        """A method of a class-based view (fastapi-utils' `@cbv(router)`, mealie's
        `@controller(router)`): the decorator makes FastAPI resolve the class's attributes
        `user: User = Depends(get_current_user)`, its bases' included, before every method."""
        parameters = handler.args.args
        if not parameters or parameters[0].arg != "self":
            return []
        owner = next(
            (node for node in module.classes() if handler in node.body and node.decorator_list),
            None,
        )
        if owner is None:
            return []
        judgements = []
        assigned: set[str] = set()  # a subclass's attribute hides its bases' of that name
        for where, statement in self._class_attributes(module, owner):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            names = {t.id for t in targets if isinstance(t, ast.Name)}
            if names & assigned:
                continue
            assigned |= names
            value = statement.value
            if not isinstance(value, ast.Call) or last_name(value.func) not in {
                "Depends",
                "Security",
            }:
                continue
            if not value.args and isinstance(statement, ast.AnnAssign):
                judgements.append(self.callable_(where, statement.annotation))
            else:
                judgements.append(self.dependency(where, value))
        return judgements

    def _class_attributes(
        self, module: PythonModule, node: ast.ClassDef, depth: int = 0
    ) -> Iterator[tuple[PythonModule, ast.Assign | ast.AnnAssign]]:
        """The class's attribute assignments, then its bases' in the code."""
        for statement in node.body:
            if isinstance(statement, ast.Assign | ast.AnnAssign) and statement.value is not None:
                yield module, statement
        if depth >= MAX_DEPTH:
            return
        for base in node.bases:
            parent = self._symbols.resolve(module, base)
            if isinstance(parent, Local) and isinstance(parent.node, ast.ClassDef):
                yield from self._class_attributes(parent.module, parent.node, depth + 1)

    # --- the verdict ---------------------------------------------------------------------------
    def of(self, route: Route) -> Access:
        if id(route) not in self._routes:
            self._routes[id(route)] = self._of(route)
        return self._routes[id(route)]

    def _of(self, route: Route) -> Access:
        if route.is_infrastructure:
            return Access(INFRASTRUCTURE, "a probe, metrics, docs or static route")
        if route.kind == "mount":
            return Access(
                UNDETERMINED,
                "an application mounted here that the audit cannot read",
                route.evidence(),
            )
        if route.framework == "django":
            judgements = self._django(route)
        elif route.framework == "flask":
            judgements = self._flask(route)
        else:
            judgements = self._fastapi(route)
        judgements = [*judgements, *self._middleware(route.chain)]
        if route.framework in {"django", "flask"} and isinstance(route.handler, Function):
            judgements.append(self._dispatcher(route.handler_module or route.module, route.handler))
        judged = Judgement.combine(judgements)
        if judged.checks:
            return Access(AUTHENTICATED, f"{judged.label} checks credentials", judged.where)
        public_marks = [j for j in judgements if j.public]
        if public_marks:
            return Access(
                PUBLIC, f"marked public by {public_marks[0].label}", public_marks[0].where
            )
        if judged.unknown:
            return Access(UNDETERMINED, judged.unknown, judged.where)
        reason = next((j.label for j in judgements if j.label.startswith("REST framework")), "")
        return Access(
            OPEN, reason or "nothing checks a credential before the handler runs", route.evidence()
        )


def _parameters_of(function: Function) -> list[ast.arg]:
    return [
        a for a in [*function.args.args, *function.args.kwonlyargs] if a.arg not in {"self", "cls"}
    ]


def _parameters(function: Function) -> list[ast.expr]:
    """The dependency expressions in a function's parameters (defaults and annotations)."""
    found: list[ast.expr] = []
    arguments = function.args
    for default in [*arguments.defaults, *(d for d in arguments.kw_defaults if d is not None)]:
        if isinstance(default, ast.Call) and last_name(default.func) in {"Depends", "Security"}:
            found.append(default)
    for argument in [*arguments.args, *arguments.kwonlyargs]:
        annotation = argument.annotation
        if annotation is None:
            continue
        if isinstance(annotation, ast.Subscript) and last_name(annotation.value) == "Annotated":
            found.append(annotation)
        elif isinstance(annotation, ast.Name) and annotation.id[:1].isupper():
            found.append(annotation)  # maybe an alias of Annotated[..., Depends(...)]
    return found


__all__ = [
    "AUTHENTICATED",
    "INFRASTRUCTURE",
    "OPEN",
    "PUBLIC",
    "UNDETERMINED",
    "UNKNOWN",
    "Access",
    "AccessAnalysis",
]
