"""The service's Python code, parsed once with `ast`: modules, imports, calls and tokens.

Checks look for code, not for words: `tokens` are the identifiers and string literals of the
code with docstrings and comments left out, so a module that merely *talks about* a circuit
breaker does not count as having one. Import aliases are resolved (relative imports included)
so a router imported under another name is still found.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import PurePosixPath

from goldenpath.audit.model import Evidence

from .files import Repository
from .grammar import parse_source


@dataclass(frozen=True)
class Token:
    line: int
    kind: str  # "name" (identifier, attribute, keyword argument, def/class name) or "string"
    value: str


@dataclass
class PythonModule:
    path: str
    name: str  # dotted module name (`src/` stripped)
    tree: ast.Module
    is_test: bool
    imports: dict[str, str] = field(default_factory=dict)  # local name -> "module:attr"
    # Alembic's or Django's migrations: the schema's history, never run to serve a request.
    is_migration: bool = False
    # A tool's, an example's or the documentation's code (files.py): neither service nor tests.
    is_tooling: bool = False

    @cached_property
    def tokens(self) -> tuple[Token, ...]:
        docstrings = {id(node) for node in _docstring_nodes(self.tree)}
        found: list[Token] = []
        for node in self.nodes:
            line = getattr(node, "lineno", 0)
            if isinstance(node, ast.Name):
                found.append(Token(line, "name", node.id))
            elif isinstance(node, ast.Attribute):
                found.append(Token(line, "name", node.attr))
            elif isinstance(node, ast.keyword) and node.arg:
                found.append(Token(line, "name", node.arg))
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                found.append(Token(line, "name", node.name))
            elif isinstance(node, ast.arg):
                found.append(Token(line, "name", node.arg))
            elif isinstance(node, ast.alias):
                found.append(Token(line, "name", node.asname or node.name))
            elif (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
            ):
                found.append(Token(line, "string", node.value))
        return tuple(sorted(found, key=lambda token: token.line))

    @cached_property
    def imported_modules(self) -> frozenset[str]:
        """Top-level and full names of every imported module (absolute imports)."""
        names: set[str] = set()
        for node in self.nodes:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    names.update(_prefixes(alias.name))
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.update(_prefixes(node.module))
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
        return frozenset(names)

    @cached_property
    def nodes(self) -> tuple[ast.AST, ...]:
        """Every node of the module, walked once (checks walk modules dozens of times)."""
        return tuple(ast.walk(self.tree))

    @cached_property
    def _calls(self) -> tuple[ast.Call, ...]:
        return tuple(node for node in self.nodes if isinstance(node, ast.Call))

    @cached_property
    def _functions(self) -> tuple[ast.FunctionDef | ast.AsyncFunctionDef, ...]:
        return tuple(
            node for node in self.nodes if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        )

    @cached_property
    def _classes(self) -> tuple[ast.ClassDef, ...]:
        return tuple(node for node in self.nodes if isinstance(node, ast.ClassDef))

    def calls(self) -> Iterator[ast.Call]:
        return iter(self._calls)

    def functions(self) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
        return iter(self._functions)

    def classes(self) -> Iterator[ast.ClassDef]:
        return iter(self._classes)

    def evidence(self, node: ast.AST | int | None, detail: str = "") -> Evidence:
        line = node if isinstance(node, int) or node is None else getattr(node, "lineno", None)
        return Evidence(self.path, line, detail)


def _prefixes(dotted: str) -> list[str]:
    parts = dotted.split(".")
    return [".".join(parts[: index + 1]) for index in range(len(parts))]


def _docstring_nodes(tree: ast.Module) -> Iterator[ast.Constant]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                yield body[0].value


def dotted(node: ast.AST | None) -> str:
    """`a.b.c` for a name or attribute chain (the callee's name for a call), else ''."""
    if isinstance(node, ast.Call):
        return dotted(node.func)
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr}" if base else node.attr
    return ""


def last_name(node: ast.AST | None) -> str:
    return dotted(node).rsplit(".", 1)[-1]


def keyword(call: ast.Call, name: str) -> ast.expr | None:
    for item in call.keywords:
        if item.arg == name:
            return item.value
    return None


def elements(node: ast.AST | None) -> list[ast.expr]:
    """The items of a list or tuple display; nothing for any other expression."""
    return list(node.elts) if isinstance(node, ast.List | ast.Tuple) else []


def string_value(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def literal(node: ast.AST | None) -> object:
    """The value of a literal expression, or None when it is not one."""
    if node is None:
        return None
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def names_in(node: ast.AST | None) -> set[str]:
    """Every identifier and attribute name inside an expression."""
    if node is None:
        return set()
    found: set[str] = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            found.add(child.id)
        elif isinstance(child, ast.Attribute):
            found.add(child.attr)
    return found


def module_constant(module: PythonModule, name: str) -> ast.expr | None:
    for statement in module.tree.body:
        if isinstance(statement, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in statement.targets
        ):
            return statement.value
        if (
            isinstance(statement, ast.AnnAssign)
            and isinstance(statement.target, ast.Name)
            and statement.target.id == name
        ):
            return statement.value
    return None


def constant_string(module: PythonModule, node: ast.AST | None, depth: int = 0) -> str | None:
    """The value of a string expression built from literals and module-level string constants
    (`PREFIX + "/{name}"`, `f"{API}/items"`), or None when it depends on anything else."""
    parts: list[ast.AST | None]
    if node is None or depth > 5:
        return None
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else None
    if isinstance(node, ast.Name):
        return constant_string(module, module_constant(module, node.id), depth + 1)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        parts = [node.left, node.right]
    elif isinstance(node, ast.JoinedStr):
        parts = [v.value if isinstance(v, ast.FormattedValue) else v for v in node.values]
    else:
        return None
    values = [constant_string(module, part, depth + 1) for part in parts]
    return None if any(value is None for value in values) else "".join(map(str, values))


PROJECT_FILES = ("pyproject.toml", "setup.py", "setup.cfg")


def alembic_folders(files: Iterable[str]) -> frozenset[str]:
    """Alembic script folders, as prefixes ("alembic/", "" for the root): an `env.py` with a
    `versions/` folder of revisions beside it, as `alembic init` and Flask-Migrate lay out."""
    listed = tuple(files)
    prefixes = {f.removesuffix("env.py") for f in listed if PurePosixPath(f).name == "env.py"}
    return frozenset(
        prefix for prefix in prefixes if any(f.startswith(f"{prefix}versions/") for f in listed)
    )


def is_migration(path: str, alembic: frozenset[str]) -> bool:
    """A module of a Django `migrations/` package, or of an Alembic script folder (its
    revisions and the `env.py` that runs them)."""
    if "migrations" in PurePosixPath(path).parts[:-1]:
        return True
    return any(
        path == f"{prefix}env.py" or path.startswith(f"{prefix}versions/") for prefix in alembic
    )


def module_name(path: str, project_roots: Iterable[str] = ()) -> str:
    """The dotted name `path` is imported as: relative to the deepest project folder (one with
    a pyproject.toml or setup.py, such as a monorepo's `backend/`) and below its `src/`."""
    parts = list(PurePosixPath(path).with_suffix("").parts)
    root = max((r for r in project_roots if r and path.startswith(r + "/")), key=len, default="")
    if root:
        parts = parts[len(PurePosixPath(root).parts) :]
    if "src" in parts[:2]:  # `src/pkg/...`, or a chassis's `goldenpath-chassis/src/pkg/...`
        parts = parts[parts.index("src") + 1 :]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _importable(path: str) -> bool:
    """Whether `import` can name the file: a dot in a folder or file name (Alembic's dated
    revisions, `2022-02-21-19.56.24_6b0f_initial.py`) leaves it to be loaded by path only, and
    its dotted name would have more parts than the path has folders."""
    return not any("." in part for part in PurePosixPath(path).with_suffix("").parts)


class PythonCode:
    """Every parseable Python file of the repository, application and tests apart."""

    def __init__(self, repository: Repository) -> None:
        self._repository = repository
        self.rewritten: tuple[str, ...] = ()  # files read through the Python 3.14 rewrite
        self._definitions: dict[tuple[str, str], tuple[PythonModule, ast.AST] | None] = {}

    @cached_property
    def project_roots(self) -> tuple[str, ...]:
        """Folders holding a Python project's own packaging (a `setup.py` that is a module
        of the application, such as a `handlers/setup.py`, is not one)."""
        roots = []
        for path in self._repository.files:
            name = PurePosixPath(path).name
            if name not in PROJECT_FILES or "/" not in path:
                continue
            if name != "pyproject.toml":
                text = self._repository.text(path) or ""
                if not re.search(r"setuptools|distutils|\[metadata\]|\[options\]", text):
                    continue
            roots.append(str(PurePosixPath(path).parent))
        return tuple(roots)

    @cached_property
    def all_modules(self) -> tuple[PythonModule, ...]:
        modules = []
        rewritten = []
        for path in self._repository.matching(".py"):
            text = self._repository.text(path)
            if text is None:
                continue
            parsed = parse_source(text, path)
            if parsed.problem is not None:
                self._repository.unread(path, parsed.problem)
            if parsed.tree is None:
                continue
            if parsed.rewritten:
                rewritten.append(path)
            module = PythonModule(
                path,
                module_name(path, self.project_roots),
                parsed.tree,
                Repository.is_test_path(path),
                is_migration=is_migration(path, self.alembic_folders),
                is_tooling=Repository.is_tooling_path(path),
            )
            module.imports = _import_table(module)
            modules.append(module)
        self.rewritten = tuple(rewritten)
        return tuple(modules)

    @cached_property
    def modules(self) -> tuple[PythonModule, ...]:
        """The application's modules (tests, tools' and examples' code excluded)."""
        return tuple(
            module for module in self.all_modules if not module.is_test and not module.is_tooling
        )

    @cached_property
    def request_time(self) -> tuple[PythonModule, ...]:
        """The application's modules that can run while a request is served: migrations
        excluded, for a column's length or a backfill's filter in one says nothing about how
        requests are handled."""
        return tuple(module for module in self.modules if not module.is_migration)

    @cached_property
    def alembic_folders(self) -> frozenset[str]:
        return alembic_folders(self._repository.files)

    @cached_property
    def tests(self) -> tuple[PythonModule, ...]:
        return tuple(
            module for module in self.all_modules if module.is_test and not module.is_tooling
        )

    @cached_property
    def by_name(self) -> dict[str, PythonModule]:
        return {module.name: module for module in self.all_modules}

    @cached_property
    def _by_suffix(self) -> dict[str, list[PythonModule]]:
        found: dict[str, list[PythonModule]] = {}
        for module in self.all_modules:
            parts = module.name.split(".")
            if not _importable(module.path):
                continue
            folders = PurePosixPath(module.path.removesuffix("/__init__.py")).parents
            for index in range(1, len(parts)):
                # In a package (`proj/celery.py` beside `proj/__init__.py`) the module is
                # `proj.celery` only: `import celery` is the library, not this file.
                holder = folders[len(parts) - index - 1]
                if self._repository.exists(f"{holder}/__init__.py"):
                    continue
                found.setdefault(".".join(parts[index:]), []).append(module)
        return found

    def module(self, name: str) -> PythonModule | None:
        """The module imported as `name`: by its full name, else the one module whose name ends
        with it (a repository audited from above its project folder)."""
        found = self.by_name.get(name)
        if found is not None:
            return found
        candidates = self._by_suffix.get(name, [])
        return candidates[0] if len(candidates) == 1 else None

    def definition(
        self, module_name_: str, name: str, depth: int = 0
    ) -> tuple[PythonModule, ast.AST] | None:
        """Where `name` of module `module_name_` is defined (a def, class or assignment),
        following re-exports (`from ._core.scopes import RequireScopes`)."""
        key = (module_name_, name)
        if key in self._definitions:
            return self._definitions[key]
        found = self._definition(module_name_, name, depth)
        if depth == 0:
            self._definitions[key] = found
        return found

    def _definition(
        self, module_name_: str, name: str, depth: int
    ) -> tuple[PythonModule, ast.AST] | None:
        module = self.module(module_name_)
        if module is None or depth > 6:
            return None
        for statement in module.tree.body:
            if (
                isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                and statement.name == name
            ):
                return module, statement
        for statement in reversed(module.tree.body):
            targets: list[ast.expr] = []
            if isinstance(statement, ast.Assign):
                targets = statement.targets
            elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
                targets = [statement.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                return module, statement
        target = module.imports.get(name)
        if target is None:
            return self._star_exported(module, name, depth)
        source, _, attribute = target.partition(":")
        if not attribute or self.module(f"{source}.{attribute}") is not None:
            return None  # a module, not a definition
        return self.definition(source, attribute, depth + 1)

    def _star_exported(
        self, module: PythonModule, name: str, depth: int
    ) -> tuple[PythonModule, ast.AST] | None:
        """A public name a package re-exports with `from .dependencies import *` (mealie's
        mealie/core/dependencies/__init__.py); underscored names are not star-imported."""
        if name.startswith("_"):
            return None
        for key, star in module.imports.items():
            if key.startswith("*"):
                found = self.definition(star.partition(":")[0], name, depth + 1)
                if found is not None:
                    return found
        return None

    def imports_any(self, *prefixes: str, tests: bool = False) -> list[Evidence]:
        """Modules importing any of `prefixes` (`redis`, `prometheus_client`)."""
        pool = self.tests if tests else self.modules
        found = []
        for module in pool:
            hit = sorted(module.imported_modules & set(prefixes))
            if hit:
                found.append(
                    Evidence(module.path, _import_line(module, hit[0]), f"imports {hit[0]}")
                )
        return found

    def find_tokens(
        self,
        pattern: str | re.Pattern[str],
        *,
        kinds: Iterable[str] = ("name", "string"),
        tests: bool = False,
        modules: Iterable[PythonModule] | None = None,
        limit: int = 20,
    ) -> list[Evidence]:
        """Identifiers or string literals matching `pattern` (case-insensitive), one per line."""
        regex = re.compile(pattern, re.IGNORECASE) if isinstance(pattern, str) else pattern
        wanted = set(kinds)
        pool = modules if modules is not None else (self.tests if tests else self.modules)
        found: list[Evidence] = []
        for module in pool:
            seen_lines: set[int] = set()
            for token in module.tokens:
                if (
                    token.kind in wanted
                    and token.line not in seen_lines
                    and regex.search(token.value)
                ):
                    seen_lines.add(token.line)
                    value = token.value if len(token.value) <= 80 else token.value[:77] + "..."
                    found.append(Evidence(module.path, token.line, value))
                    if len(found) >= limit:
                        return found
        return found

    def calls_named(self, *names: str, tests: bool = False) -> list[tuple[PythonModule, ast.Call]]:
        """Calls whose callee's last name is one of `names` (`create_async_engine`)."""
        wanted = set(names)
        pool = self.tests if tests else self.modules
        return [
            (module, call)
            for module in pool
            for call in module.calls()
            if last_name(call.func) in wanted
        ]

    def subclasses(self, *base_names: str) -> list[tuple[PythonModule, ast.ClassDef]]:
        """Classes with a base whose last name is one of `base_names` (`BaseSettings`)."""
        wanted = set(base_names)
        return [
            (module, node)
            for module in self.modules
            for node in module.classes()
            if any(last_name(base) in wanted for base in node.bases)
        ]

    def resolve(self, module: PythonModule, local: str) -> tuple[str, str] | None:
        """Where a name used in `module` was defined: (module name, attribute)."""
        target = module.imports.get(local)
        if target is None:
            return (module.name, local)
        defined_in, _, attribute = target.partition(":")
        return (defined_in, attribute) if attribute else None


def _import_line(module: PythonModule, name: str) -> int | None:
    for node in module.nodes:
        if isinstance(node, ast.Import) and any(a.name.startswith(name) for a in node.names):
            return node.lineno
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(name):
            return node.lineno
    return None


def _import_table(module: PythonModule) -> dict[str, str]:
    """Local name -> "module:attribute" for every `from ... import ...` (relative resolved)."""
    table: dict[str, str] = {}
    package = module.name.split(".")
    if not module.path.endswith("__init__.py"):
        package = package[:-1]
    for node in module.nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    table[alias.asname] = f"{alias.name}:"
                else:
                    table.setdefault(alias.name.split(".")[0], f"{alias.name.split('.')[0]}:")
            continue
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
            source = ".".join([*base, node.module] if node.module else base)
        else:
            source = node.module or ""
        for alias in node.names:
            if alias.name == "*":  # keyed by its source: a module may star-import several
                table[f"*{source}"] = f"{source}:*"
            else:
                table[alias.asname or alias.name] = f"{source}:{alias.name}"
    return table
