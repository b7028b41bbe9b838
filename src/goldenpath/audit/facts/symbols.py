"""What a name in the code refers to, and what value an expression has when it is knowable.

Checks must follow the code the way Python would: `prefix=settings.API_V1_STR` is "/api/v1"
because `settings = Settings()` and the class declares `API_V1_STR: str = "/api/v1"`;
`Depends(get_current_user)` is the function of that name in `app/api/deps.py`, imported under
any alias; `OAuth2PasswordBearer` is FastAPI's, a library the audit does not read. Every lookup is
bounded, and anything the audit cannot follow is UNKNOWN rather than a guess.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Final

from .python import PythonCode, PythonModule, dotted

MAX_DEPTH = 8


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        return False


UNKNOWN: Final = _Unknown()

Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


@dataclass(frozen=True)
class Local:
    """Defined in the audited code: a def, a class, or a module-level assignment's value."""

    module: PythonModule
    node: ast.AST  # a Definition, or the assigned expression

    @property
    def definition(self) -> Definition | None:
        return self.node if isinstance(self.node, Definition) else None


@dataclass(frozen=True)
class External:
    """From a library the audit does not read, by its qualified name (`fastapi.Depends`)."""

    name: str

    @property
    def last(self) -> str:
        return self.name.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class Module:
    name: str
    local: PythonModule | None


Symbol = Local | External | Module | None


def _assigned_value(statement: ast.AST) -> ast.expr | None:
    if isinstance(statement, ast.Assign | ast.AnnAssign):
        return statement.value
    return None


def module_level(module: PythonModule, name: str) -> ast.AST | None:
    """The def, class or (last) assigned value named `name` at the top of `module`."""
    table: dict[str, ast.AST] | None = module.__dict__.get("_top_level")
    if table is None:
        table = {}
        for statement in module.tree.body:
            for target in _defined_names(statement):
                if isinstance(statement, Definition):
                    table[target] = statement
                elif isinstance(statement, ast.Assign | ast.AnnAssign) and statement.value:
                    table[target] = statement.value
        module.__dict__["_top_level"] = table
    return table.get(name)


def _defined_names(statement: ast.stmt) -> list[str]:
    if isinstance(statement, Definition):
        return [statement.name]
    if isinstance(statement, ast.Assign):
        return [t.id for t in statement.targets if isinstance(t, ast.Name)]
    if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
        return [statement.target.id] if statement.value is not None else []
    return []


class Symbols:
    def __init__(self, code: PythonCode) -> None:
        self.code = code

    # --- names ---------------------------------------------------------------------------
    def resolve(self, module: PythonModule, node: ast.AST | None, depth: int = 0) -> Symbol:
        """What `node` (a name or attribute chain) refers to."""
        if node is None or depth > MAX_DEPTH:
            return None
        if isinstance(node, ast.Name):
            return self._name(module, node.id, depth)
        if isinstance(node, ast.Attribute):
            base = self.resolve(module, node.value, depth + 1)
            return self._member(base, node.attr, depth)
        return None

    def _name(self, module: PythonModule, name: str, depth: int) -> Symbol:
        target = module.imports.get(name)
        if target is None:
            found = module_level(module, name)
            return Local(module, found) if found is not None else None
        source, _, attribute = target.partition(":")
        if not attribute:
            return Module(source, self.code.module(source))
        return self._in_module(source, attribute, depth)

    def _in_module(self, source: str, attribute: str, depth: int) -> Symbol:
        submodule = self.code.module(f"{source}.{attribute}")
        if submodule is not None:
            return Module(submodule.name, submodule)
        defined = self.code.definition(source, attribute)
        if defined is not None:
            owner, statement = defined
            value = statement if isinstance(statement, Definition) else _assigned_value(statement)
            return Local(owner, value) if value is not None else None
        if self.code.module(source) is None:
            return External(f"{source}.{attribute}")
        return None

    def _member(self, base: Symbol, attribute: str, depth: int) -> Symbol:
        if isinstance(base, Module):
            if base.local is None:
                return External(f"{base.name}.{attribute}")
            return self._in_module(base.local.name, attribute, depth + 1)
        if isinstance(base, External):
            return External(f"{base.name}.{attribute}")
        if isinstance(base, Local) and isinstance(base.node, ast.ClassDef):
            return self.class_member(base.module, base.node, attribute)
        return None

    def class_member(
        self, module: PythonModule, node: ast.ClassDef, name: str, depth: int = 0
    ) -> Local | None:
        """A method or class attribute of a class in the code, looked up through its bases."""
        for statement in node.body:
            if isinstance(statement, Definition) and statement.name == name:
                return Local(module, statement)
            value = None
            if isinstance(statement, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == name for t in statement.targets
            ):
                value = statement.value
            elif (
                isinstance(statement, ast.AnnAssign)
                and isinstance(statement.target, ast.Name)
                and statement.target.id == name
            ):
                value = statement.value if statement.value is not None else statement.annotation
            if value is not None:
                return Local(module, value)
        if depth > MAX_DEPTH:
            return None
        for base in node.bases:
            parent = self.resolve(module, base, depth + 1)
            if isinstance(parent, Local) and isinstance(parent.node, ast.ClassDef):
                found = self.class_member(parent.module, parent.node, name, depth + 1)
                if found is not None:
                    return found
        return None

    def bases(self, module: PythonModule, node: ast.ClassDef, depth: int = 0) -> list[str]:
        """Qualified names of a class's external ancestors, through its local ones."""
        names: list[str] = []
        for base in node.bases:
            symbol = self.resolve(module, base)
            if isinstance(symbol, External):
                names.append(symbol.name)
            elif isinstance(symbol, Local) and isinstance(symbol.node, ast.ClassDef):
                names.append(f"{symbol.module.name}.{symbol.node.name}")
                if depth < MAX_DEPTH:
                    names += self.bases(symbol.module, symbol.node, depth + 1)
            else:
                names.append(dotted(base))
        return names

    def instance_of(self, module: PythonModule, node: ast.AST | None, depth: int = 0) -> Symbol:
        """The class an expression is an instance of: `X(...)`, or a name assigned one."""
        if node is None or depth > MAX_DEPTH:
            return None
        if isinstance(node, ast.Call):
            callee = self.resolve(module, node.func)
            if isinstance(callee, Local) and isinstance(callee.node, ast.FunctionDef):
                returned = _returned(callee.node)
                return self.instance_of(callee.module, returned, depth + 1) if returned else None
            return callee
        if isinstance(node, ast.Name | ast.Attribute):
            symbol = self.resolve(module, node)
            if isinstance(symbol, Local) and not isinstance(symbol.node, Definition):
                return self.instance_of(symbol.module, symbol.node, depth + 1)
        if isinstance(node, ast.Attribute):
            return self._field_type(module, node, depth)
        return None

    def _field_type(self, module: PythonModule, node: ast.Attribute, depth: int) -> Symbol:
        """The class of an instance's field (`config.project` with `project: ProjectSettings`
        declared on the class of `config`), from its annotation or its default."""
        owner = self.instance_of(module, node.value, depth + 1)
        if not (isinstance(owner, Local) and isinstance(owner.node, ast.ClassDef)):
            return None
        annotation = _field_annotation(owner.node, node.attr)
        if annotation is not None:
            declared = self.resolve(owner.module, _optional_inner(annotation), depth + 1)
            if isinstance(declared, Local) and isinstance(declared.node, ast.ClassDef):
                return declared
        member = self.class_member(owner.module, owner.node, node.attr)
        if member is None or isinstance(member.node, Definition):
            return None
        return self.instance_of(member.module, member.node, depth + 1)

    # --- values --------------------------------------------------------------------------
    def value(self, module: PythonModule, node: ast.AST | None, depth: int = 0) -> object:
        """The value of an expression built from literals, constants, settings defaults and
        environment defaults; UNKNOWN when it depends on anything else."""
        if node is None or depth > MAX_DEPTH:
            return UNKNOWN
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            return [self.value(module, item, depth + 1) for item in node.elts]
        if isinstance(node, ast.Dict):
            return {
                self.value(module, key, depth + 1): self.value(module, item, depth + 1)
                for key, item in zip(node.keys, node.values, strict=True)
                if key is not None
            }
        evaluate = self._EVALUATORS.get(type(node))
        return evaluate(self, module, node, depth) if evaluate is not None else UNKNOWN

    def _joined_value(self, module: PythonModule, node: ast.JoinedStr, depth: int) -> object:
        parts = [
            self.value(module, part.value if isinstance(part, ast.FormattedValue) else part, depth)
            for part in node.values
        ]
        if any(part is UNKNOWN for part in parts):
            return UNKNOWN
        return "".join(str(part) for part in parts)

    def _binary_value(self, module: PythonModule, node: ast.BinOp, depth: int) -> object:
        left = self.value(module, node.left, depth + 1)
        right = self.value(module, node.right, depth + 1)
        if left is UNKNOWN or right is UNKNOWN or not isinstance(node.op, ast.Add | ast.Mult):
            return UNKNOWN
        try:
            return left + right if isinstance(node.op, ast.Add) else left * right  # type: ignore[operator]
        except TypeError:
            return UNKNOWN

    def _reference_value(self, module: PythonModule, node: ast.expr, depth: int) -> object:
        symbol = self.resolve(module, node, depth + 1)
        if isinstance(symbol, Local) and not isinstance(symbol.node, Definition):
            return self.value(symbol.module, symbol.node, depth + 1)
        if isinstance(node, ast.Attribute):
            owner = self.instance_of(module, node.value)
            if isinstance(owner, Local) and isinstance(owner.node, ast.ClassDef):
                member = self.class_member(owner.module, owner.node, node.attr)
                if member is not None and not isinstance(member.node, Definition):
                    return self.value(member.module, member.node, depth + 1)
        return UNKNOWN

    def _call_value(self, module: PythonModule, call: ast.Call, depth: int) -> object:
        name = dotted(call.func)
        last = name.rsplit(".", 1)[-1]
        if last in {"str", "int", "float", "bool"} and len(call.args) == 1:
            return self.value(module, call.args[0], depth + 1)
        # An environment read's default: what the service runs with unless told otherwise.
        if name in {"os.environ.get", "environ.get", "os.getenv", "getenv"} and len(call.args) > 1:
            return self.value(module, call.args[1], depth + 1)
        default = next((k.value for k in call.keywords if k.arg == "default"), None)
        if default is not None and call.args:
            return self.value(module, default, depth + 1)
        if last in {"Field", "field"}:
            return self._field_default(module, call, depth)
        return UNKNOWN

    def _field_default(self, module: PythonModule, call: ast.Call, depth: int) -> object:
        """A declared field's default: pydantic's `Field(["*"])`, `Field(default=...)`, or a
        `default_factory` that is a lambda or a builtin collection (dataclasses' `field` too)."""
        given = {k.arg: k.value for k in call.keywords if k.arg}
        default = given.get("default", call.args[0] if call.args else None)
        if default is not None and not (
            isinstance(default, ast.Constant) and default.value is Ellipsis
        ):
            return self.value(module, default, depth + 1)
        factory = given.get("default_factory")
        if isinstance(factory, ast.Lambda):
            return self.value(module, factory.body, depth + 1)
        if isinstance(factory, ast.Name) and factory.id in {"list", "tuple", "set"}:
            return []
        if isinstance(factory, ast.Name) and factory.id == "dict":
            return {}
        return UNKNOWN

    _EVALUATORS: ClassVar[dict[type, Callable[..., object]]] = {}

    def string(self, module: PythonModule, node: ast.AST | None) -> str | None:
        value = self.value(module, node)
        return value if isinstance(value, str) else None


Symbols._EVALUATORS.update(
    {
        ast.JoinedStr: Symbols._joined_value,
        ast.BinOp: Symbols._binary_value,
        ast.Call: Symbols._call_value,
        ast.Name: Symbols._reference_value,
        ast.Attribute: Symbols._reference_value,
    }
)


def _field_annotation(node: ast.ClassDef, name: str) -> ast.expr | None:
    """The annotation a class body gives `name` (`project: ProjectSettings`), if any."""
    for statement in node.body:
        if (
            isinstance(statement, ast.AnnAssign)
            and isinstance(statement.target, ast.Name)
            and statement.target.id == name
        ):
            return statement.annotation
    return None


def _optional_inner(annotation: ast.expr) -> ast.expr:
    """`X` from `Optional[X]`, `X | None` or `None | X`; otherwise the annotation itself."""
    if isinstance(annotation, ast.Subscript) and dotted(annotation.value).endswith("Optional"):
        return annotation.slice
    if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
        sides = [annotation.left, annotation.right]
        kept = [s for s in sides if not (isinstance(s, ast.Constant) and s.value is None)]
        if len(kept) == 1:
            return kept[0]
    return annotation


def _returned(function: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.expr | None:
    """The expression a function returns, when it has exactly one return with a value."""
    values = [
        node.value
        for node in ast.walk(function)
        if isinstance(node, ast.Return) and node.value is not None
    ]
    return values[0] if len(values) == 1 else None


returned = _returned
