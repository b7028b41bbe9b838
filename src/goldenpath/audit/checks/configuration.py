"""CFG-1..2: settings validated at start-up and read in one place; secrets kept out of code."""

from __future__ import annotations

import ast
import re

from goldenpath.audit.facts import Facts
from goldenpath.audit.facts.files import Repository
from goldenpath.audit.facts.python import PythonModule, dotted, last_name, string_value
from goldenpath.audit.facts.symbols import External, Local, returned
from goldenpath.audit.model import Evidence, Requirement

from ._base import Assessment, check, found, listing, only_if, skipped, verdict

SECRET_NAME = re.compile(
    r"(password|passwd|secret|token|api_?key|private_?key|credentials?)$", re.IGNORECASE
)
PLACEHOLDER = re.compile(
    r"^(|changeme|change-me|example|dummy|test|secret|password|xxx+|\*+|<.*>|\$\{.*\})$",
    re.IGNORECASE,
)
ENVIRONMENT_FILES = re.compile(
    r"(^|/)(manage|wsgi|asgi|conftest|noxfile|setup|gunicorn[^/]*|env)\.py$|(^|/)(scripts|migrations|"
    r"alembic|deploy|docs|benchmarks)/"
)


def settings_modules(facts: Facts) -> list[PythonModule]:
    """Where configuration is read: settings classes, Django settings, config modules."""
    modules = {module.path: module for module, _ in facts.code.subclasses("BaseSettings")}
    for module in facts.code.modules:
        if re.search(r"(^|/)(settings|config|conf|configuration)(/[^/]+)?\.py$", module.path):
            modules.setdefault(module.path, module)
    for path, _, _ in facts.django_settings.values():
        match = next((m for m in facts.code.modules if m.path == path), None)
        if match is not None:
            modules.setdefault(path, match)
    return list(modules.values())


def _environment_reads(module: PythonModule) -> list[Evidence]:
    reads = []
    for node in module.nodes:
        name = dotted(node) if isinstance(node, ast.Call | ast.Subscript) else ""
        if isinstance(node, ast.Subscript):
            name = dotted(node.value)
        if name in {
            "os.environ",
            "os.getenv",
            "os.environ.get",
            "environ.get",
            "getenv",
            "environ",
        }:
            reads.append(module.evidence(node, name))
    return reads


VALIDATORS = frozenset({"field_validator", "model_validator", "validator", "root_validator"})


def _compares_to_text(facts: Facts, module: PythonModule, test: ast.AST, depth: int = 0) -> bool:
    """A condition on a named environment: `self.ENVIRONMENT != "local"`, or a call to a
    function that returns such a comparison (`in_production(info)`)."""
    for node in ast.walk(test):
        if isinstance(node, ast.Compare) and any(
            isinstance(c, ast.Constant) and isinstance(c.value, str)
            for c in (node.left, *node.comparators)
        ):
            return True
        if isinstance(node, ast.Call) and depth < 2:
            symbol = facts.symbols.resolve(module, node.func)
            if isinstance(symbol, Local) and isinstance(symbol.node, ast.FunctionDef):
                value = returned(symbol.node)
                if value is not None and _compares_to_text(facts, symbol.module, value, depth + 1):
                    return True
    return False


def _refuses_by_environment(facts: Facts, module: PythonModule, function: ast.AST) -> bool:
    return any(
        isinstance(node, ast.If)
        and _compares_to_text(facts, module, node.test)
        and any(
            isinstance(inner, ast.Raise)
            for part in (node.body, node.orelse)
            for s in part
            for inner in ast.walk(s)
        )
        for node in ast.walk(function)
    )


def _environment_guards(facts: Facts, modules: list[PythonModule]) -> list[Evidence]:
    """Settings validators that refuse a value depending on the environment the service runs
    in (directly, or in a method or function the validator calls)."""
    found_: list[Evidence] = []
    for module in modules:
        for function in module.functions():
            if not any(
                last_name(d.func if isinstance(d, ast.Call) else d) in VALIDATORS
                for d in function.decorator_list
            ):
                continue
            called = [function]
            for node in ast.walk(function):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                    called += [
                        f
                        for f in module.functions()
                        if f.name == node.func.attr and f is not function
                    ]
            if any(_refuses_by_environment(facts, module, f) for f in called):
                found_.append(
                    module.evidence(function, f"{function.name} refuses values by environment")
                )
                break
    return found_


TRUTHY = frozenset({True, "True", "true", "1", "yes", "on"})


def _fallback(value: object) -> object:
    """The literal a setting read from the environment falls back to when the variable is unset
    (`envsecret("SECRET_KEY", "---")`, `env("DEBUG", default="True")`, `getenv("X") or "dev"`):
    production started without the variable runs with it. None when there is none; an empty
    SECRET_KEY is no fallback, Django refuses to start with it."""
    if isinstance(value, ast.BoolOp) and isinstance(value.op, ast.Or):
        value = value.values[-1]
    elif isinstance(value, ast.Call):
        value = next(
            (k.value for k in value.keywords if k.arg == "default"),
            value.args[1] if len(value.args) > 1 else None,
        )
    if isinstance(value, ast.Constant) and value.value not in (None, ""):
        return value.value
    return None


@check("CFG-1")
def environment_validation(facts: Facts) -> Assessment:
    modules = settings_modules(facts)
    typed = [
        module.evidence(node, f"{node.name}(BaseSettings)")
        for module, node in facts.code.subclasses("BaseSettings")
    ]
    typed += facts.uses(
        "environs",
        "dynaconf",
        "django-environ",
        "typed-settings",
        "pydantic-settings",
        "python-decouple",
        "everett",
    )
    requirements: list[Requirement] = [
        found(
            "typed settings validated at start-up",
            typed,
            met="settings are typed and validated when the process starts",
            missing="settings are read as raw strings, unvalidated",
            fix="declare settings in one pydantic-settings class, validated at start-up",
        )
    ]
    settings_paths = {module.path for module in modules}
    stray = [
        read
        for module in facts.code.modules
        if module.path not in settings_paths and not ENVIRONMENT_FILES.search(module.path)
        for read in _environment_reads(module)
    ]
    requirements.append(
        verdict(
            "read in one place",
            not stray,
            "only the settings module reads the environment"
            if not stray
            else f"the environment is read outside the settings: {listing(stray)}",
            stray or [Evidence(path) for path in sorted(settings_paths)],
            fix="read every variable through the settings class and pass settings down",
        )
    )
    requirements[-1] = only_if(bool(facts.code.modules), "no Python code found", requirements[-1])
    guards = _environment_guards(facts, modules)
    secret_key = facts.django_settings.get("SECRET_KEY")
    debug = facts.django_settings.get("DEBUG")
    if (
        secret_key is not None
        and not isinstance(secret_key[2], str)
        and _fallback(secret_key[2]) is None
        and (debug is None or (debug[2] is not True and _fallback(debug[2]) not in TRUTHY))
    ):
        guards.append(
            Evidence(secret_key[0], secret_key[1], "SECRET_KEY and DEBUG from the environment")
        )
    requirements.append(
        found(
            "production refuses development defaults",
            guards,
            met="production refuses settings that only make sense on a laptop",
            missing="nothing stops production from starting with development defaults",
            fix="validate that production sets every secret and endpoint (a validator "
            "reading APP_ENV)",
            where=[Evidence(module.path) for module in modules],
        )
    )
    return requirements


def _literal_secrets(facts: Facts) -> list[Evidence]:
    """Secret-named variables and arguments given a literal value in the application's code."""
    found_ = []
    for module in facts.code.modules:
        if ENVIRONMENT_FILES.search(module.path):
            continue
        for node in module.nodes:
            pairs: list[tuple[str, ast.AST | None]] = []
            if isinstance(node, ast.Assign):
                pairs = [(dotted(t), node.value) for t in node.targets]
            elif isinstance(node, ast.AnnAssign):
                pairs = [(dotted(node.target), node.value)]
            elif isinstance(node, ast.keyword) and node.arg:
                pairs = [(node.arg, node.value)]
            for name, value in pairs:
                text = string_value(value)
                if (
                    text is not None
                    and SECRET_NAME.search(name.rsplit(".", 1)[-1])
                    and len(text) >= 8
                    and not PLACEHOLDER.match(text)
                    and " " not in text
                    and not re.fullmatch(r"[A-Z0-9_]+", text)
                    and "/" not in text
                ):
                    found_.append(module.evidence(node, f"{name} = '{text[:4]}…'"))
    return found_ + _secret_files(facts)


def _secret_files(facts: Facts) -> list[Evidence]:
    """Committed private keys, and environment files that .gitignore does not keep out."""
    found_ = []
    for path in facts.repository.files:
        if Repository.is_test_path(path) or path.endswith((".md", ".pub")):
            continue
        if facts.repository.is_ignored(path):  # never committed: a local development key
            continue
        text = facts.repository.text(path) or ""
        if "-----BEGIN" in text and "PRIVATE KEY-----" in text:
            found_.append(
                Evidence(path, facts.repository.line_of(text, "-----BEGIN"), "private key")
            )
    gitignore = facts.repository.text(".gitignore") or ""
    for path in facts.repository.files:
        if (
            re.search(r"(^|/)\.env(\.\w+)?$", path)
            and not path.endswith((".example", ".sample", ".template"))
            and not re.search(r"^\.env", gitignore, re.MULTILINE)
        ):
            found_.append(Evidence(path, None, "environment file in the repository"))
    return found_


SECRET_MANAGERS = re.compile(
    r"^(hvac\.Client|google\.cloud\.secretmanager\w*\.\w+|azure\.keyvault\.secrets\.SecretClient)$"
)


def _secret_sources(facts: Facts) -> list[Evidence]:
    """Where secrets can come from besides the environment: a configured secrets directory
    (`secrets_dir=`, a `/run/secrets` path), the `X_FILE` variables Docker secrets use, or a
    secrets-manager client (`boto3.client("secretsmanager")`, Vault, GCP, Azure)."""
    found_: list[Evidence] = []
    for module in facts.code.modules:
        for node in module.nodes:
            if isinstance(node, ast.keyword) and node.arg == "secrets_dir":
                found_.append(module.evidence(node.value, "secrets_dir"))
            elif (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and (node.value.startswith(("/run/secrets", "/var/run/secrets")))
            ):
                found_.append(module.evidence(node, node.value))
            elif isinstance(node, ast.Call):
                first = string_value(node.args[0]) if node.args else None
                symbol = facts.symbols.resolve(module, node.func)
                qualified = symbol.name if isinstance(symbol, External) else ""
                if (
                    first
                    and SECRET_FILE_VARIABLE.search(first)
                    and dotted(node.func) in ENVIRONMENT_READS
                ):
                    found_.append(module.evidence(node, f"{dotted(node.func)}({first!r})"))
                elif (first == "secretsmanager" and last_name(node.func) == "client") or (
                    SECRET_MANAGERS.match(qualified)
                ):
                    found_.append(module.evidence(node, "a secrets manager client"))
            if len(found_) >= 3:
                return found_
        found_ += _secret_file_readers(facts, module)
    return found_[:3]


def _secret_file_readers(facts: Facts, module: PythonModule) -> list[Evidence]:
    """A helper that reads `NAME + "_FILE"` for the name it is given (healthchecks'
    envsecret), called for a secret: the Docker-secrets convention applied to any setting."""
    readers = [
        function
        for function in module.functions()
        if any(
            isinstance(node, ast.Call)
            and dotted(node.func) in ENVIRONMENT_READS
            and node.args
            and _suffixed_file(node.args[0])
            for node in ast.walk(function)
        )
    ]
    return [
        module.evidence(call, f"{reader.name}({first!r}) reads {first}_FILE")
        for reader in readers
        for call in module.calls()
        if last_name(call.func) == reader.name
        and (first := string_value(call.args[0]) if call.args else None)
        and SECRET_FILE_VARIABLE.search(f"{first}_FILE")
    ][:1]


def _suffixed_file(name: ast.AST) -> bool:
    """A variable's name computed as `name + "_FILE"` or `f"{name}_FILE"`."""
    if isinstance(name, ast.BinOp) and isinstance(name.op, ast.Add):
        return (string_value(name.right) or "").endswith("_FILE")
    if isinstance(name, ast.JoinedStr) and name.values:
        return (string_value(name.values[-1]) or "").endswith("_FILE")
    return False


# Docker's convention names the secret (POSTGRES_PASSWORD_FILE); a template's or a config's
# path (ALEMBIC_CONFIG_FILE, MAIL_BODY_TEMPLATE_FILE) is a file, not a secret.
SECRET_FILE_VARIABLE = re.compile(
    r"(SECRET|PASSWORD|PASSWD|TOKEN|KEY|CREDENTIALS?|DSN|DATABASE_URL|URI)_FILE$", re.IGNORECASE
)
ENVIRONMENT_READS = frozenset(
    {"os.environ.get", "os.getenv", "environ.get", "getenv", "config", "env"}
)
SECRET_TYPES = frozenset({"SecretStr", "SecretBytes", "Secret"})
SECRET_LIBRARIES = ("pydantic", "pydantic_settings", "starlette", "fastapi", "environs")


def _secret_types(facts: Facts) -> list[Evidence]:
    """Settings typed as secrets: pydantic's SecretStr/SecretBytes (or Secret[...]), Starlette's
    Secret (`config("X", cast=Secret)`), by what the name is imported from, not by the name."""
    found_: list[Evidence] = []
    for module in facts.code.modules:
        if not {name.split(".")[0] for name in module.imported_modules} & set(SECRET_LIBRARIES):
            continue
        for node in module.nodes:
            if not isinstance(node, ast.Name | ast.Attribute):
                continue
            if (node.id if isinstance(node, ast.Name) else node.attr) not in SECRET_TYPES:
                continue
            symbol = facts.symbols.resolve(module, node)
            if isinstance(symbol, External) and symbol.name.startswith(SECRET_LIBRARIES):
                found_.append(module.evidence(node, symbol.name))
                if len(found_) >= 3:
                    return found_
                break
    return found_


@check("CFG-2")
def secrets_management(facts: Facts) -> Assessment:
    typed = _secret_types(facts)
    secret_key = facts.django_settings.get("SECRET_KEY")
    if secret_key is not None and not isinstance(secret_key[2], str):
        typed.append(Evidence(secret_key[0], secret_key[1], "SECRET_KEY from the environment"))
    requirements: list[Requirement] = [
        found(
            "secrets typed as secrets",
            typed,
            met="secrets are SecretStr: never shown in a repr or a log",
            missing="secrets are plain strings: a repr or a log line shows them",
            fix="type secret settings as SecretStr",
        )
    ]
    sources = _secret_sources(facts)
    requirements.append(
        found(
            "mounted secret files or a secrets manager",
            sources,
            met="secrets can come from mounted files or a secrets manager, not only the "
            "environment",
            missing="secrets can only come from environment variables",
            fix="read secrets from mounted files (pydantic-settings "
            "secrets_dir=/run/secrets) or AWS "
            "Secrets Manager",
        )
    )
    literals = _literal_secrets(facts)
    requirements.append(
        verdict(
            "no secrets in the repository",
            not literals,
            "no secret values in the code or committed files"
            if not literals
            else "secret values are committed",
            literals,
            fix="remove the values, rotate them, and read them from the environment or "
            "secret files",
        )
    )
    requirements[-1] = only_if(bool(facts.code.modules), "no Python code found", requirements[-1])
    dockerfile = facts.dockerfile
    if dockerfile is None:
        requirements.append(skipped("none baked into the image", "no Dockerfile"))
        return requirements
    baked = []
    for stage in dockerfile.stages:
        for instruction in stage.all("ENV") + stage.all("ARG"):
            for name, value in re.findall(r"(\w+)\s*=\s*(\S+)", instruction.arguments):
                if SECRET_NAME.search(name) and value.strip("\"'"):
                    baked.append(
                        dockerfile.evidence(instruction.line, f"{instruction.keyword} {name}")
                    )
        for instruction in stage.all("COPY") + stage.all("ADD"):
            if re.search(r"(^|\s)\.env\b|id_rsa|\.pem\b", instruction.arguments):
                baked.append(
                    dockerfile.evidence(
                        instruction.line, f"{instruction.keyword} {instruction.arguments}"
                    )
                )
    copies_all = [
        i
        for stage in dockerfile.stages
        for i in stage.all("COPY")
        if re.search(r"(^|\s)\.\s+\S+$", i.arguments) and "--from" not in i.arguments
    ]
    if copies_all and not facts.repository.exists(".dockerignore"):
        baked.append(dockerfile.evidence(copies_all[0].line, "COPY . without a .dockerignore"))
    requirements.append(
        verdict(
            "none baked into the image",
            not baked,
            "no secret reaches the image (a .dockerignore keeps .env and keys out)"
            if not baked
            else "secrets can end up in the image",
            baked or [dockerfile.evidence(None, "")],
            fix="pass secrets at run time (mounted files, environment); add a .dockerignore",
        )
    )
    return requirements
