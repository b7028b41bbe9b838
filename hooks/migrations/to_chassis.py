"""Migration 0.4.0: the platform code leaves the service for goldenpath-chassis.

Usage (from `_migrations` in copier.yml, after `copier update` applied 0.4.0, in the project):
`python to_chassis.py TEMPLATE_CLONE OLD_REF`.

Up to 0.3.x the template copied the platform into the service (`src/<package>/core/`, `api.py`,
`models.py`, `cli.py`, ... and their tests). From 0.4.0 those come from the chassis, and Copier
leaves the old files behind, where they no longer import. This renders the old release and the
new one side by side (Copier itself, no tasks), and for every file the old release generated
and the new one does not:
- unchanged by the team: deleted;
- changed by the team: the change is carried over where it has an obvious new home (settings
  fields the team added go into `settings.py`; routers and models the team registered in
  `api.py` and `models.py` become domains in `service.py`), written whole into
  `CHASSIS-MIGRATION.md` for review, and the file is deleted.
The team's own modules are kept; their `..core.*` imports and flat settings attributes
(`settings.database_pool_size`) are rewritten to the chassis's public modules and settings
groups. Nothing is lost: every change it does not carry over is in the report, and git has the
rest. Copier runs it with its own interpreter (PyYAML is there).
"""

from __future__ import annotations

import ast
import difflib
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

import yaml

REPORT = "CHASSIS-MIGRATION.md"
SKIPPED_PARTS = frozenset({".git", ".venv", "__pycache__", ".chassis"})
# The old platform modules, and the public chassis module each one's names are in now.
PUBLIC_MODULES = {
    "cache": "goldenpath_chassis.cache",
    "database": "goldenpath_chassis.data",
    "models": "goldenpath_chassis.data",
    "integrity": "goldenpath_chassis.data",
    "errors": "goldenpath_chassis.web",
    "openapi": "goldenpath_chassis.web",
    "schemas": "goldenpath_chassis.web",
    "queue": "goldenpath_chassis.jobs",
    "webhooks": "goldenpath_chassis.jobs",
    "worker": "goldenpath_chassis.jobs",
    "logging": "goldenpath_chassis.logging",
    "security.scopes": "goldenpath_chassis.security",
    "security.sanitize": "goldenpath_chassis.security",
    "security.principal": "goldenpath_chassis.security",
}
CORE_IMPORT = re.compile(
    r"^(?P<indent>\s*)from (?P<base>\.+|[a-z_][\w]*\.)core\.(?P<module>[\w.]+) import ", re.M
)
# Flat settings fields -> their group (the chassis's settings are grouped by concern).
SETTINGS_SPECIAL = {
    "host": "server.host",
    "port": "server.port",
    "shutdown_grace_seconds": "server.shutdown_grace_seconds",
    "shutdown_drain_seconds": "server.shutdown_drain_seconds",
    "log_level": "logging.level",
    "log_format": "logging.format",
    "docs_enabled": "docs.enabled",
    "readiness_timeout_seconds": "health.timeout_seconds",
    "effective_database_url": "database.effective_url",
    "otlp_traces_endpoint": "telemetry.traces_endpoint",
    "webhook_url": "webhooks.url",
    "webhook_secret": "webhooks.secret",
    "cdn_base_url": "static.base_url",
    "request_max_header_bytes": "request_limits.max_header_bytes",
    "request_max_body_bytes": "request_limits.max_body_bytes",
    "auth_api_key_cache_seconds": "api_keys.cache_seconds",
    "cors_allow_origins": "cors.allow_origins",
    "security_hsts_seconds": "headers.hsts_seconds",
    "trusted_proxies": "proxies.proxies",
    "trusted_proxy_header": "proxies.proxy_header",
}
SETTINGS_PREFIXES = (
    ("database_", "database."),
    ("worker_", "worker."),
    ("job_", "jobs."),
    ("redis_", "redis."),
    ("otel_", "telemetry."),
    ("cache_", "cache."),
    ("http_", "http_client."),
    ("breaker_", "breakers."),
    ("auth_jwt_", "jwt."),
    ("auth_session_", "sessions."),
    ("rate_limit_", "rate_limits."),
    ("secrets_", "secrets."),
)
SETTINGS_ACCESS = re.compile(r"(\b\w*settings)\.([a-z_]+)\b")


def _log(message: str) -> None:
    print(f"migration to_chassis: {message}", file=sys.stderr)


def grouped_setting(name: str) -> str | None:
    if name in SETTINGS_SPECIAL:
        return SETTINGS_SPECIAL[name]
    for old, new in SETTINGS_PREFIXES:
        if name.startswith(old):
            return new + name.removeprefix(old)
    return None


def rewrite_team_code(text: str) -> tuple[str, list[str]]:
    """Old platform imports -> the chassis's public modules; flat settings -> groups."""
    unmapped: list[str] = []

    def imports(found: re.Match[str]) -> str:
        module = found["module"]
        if module == "settings":  # the service's own settings now (relative or absolute)
            return f"{found['indent']}from {found['base']}settings import "
        public = PUBLIC_MODULES.get(module)
        if public is None:
            unmapped.append(f"core.{module}")
            return found.group(0)
        return f"{found['indent']}from {public} import "

    def settings(found: re.Match[str]) -> str:
        grouped = grouped_setting(found.group(2))
        return f"{found.group(1)}.{grouped}" if grouped else found.group(0)

    return SETTINGS_ACCESS.sub(settings, CORE_IMPORT.sub(imports, text)), unmapped


def render(template: str, ref: str, answers: dict[str, object], destination: Path) -> Path:
    """The template at `ref` rendered with the service's answers, without its tasks."""
    data = destination.parent / f"{destination.name}-answers.yml"
    data.write_text(yaml.safe_dump({k: v for k, v in answers.items() if not k.startswith("_")}))
    subprocess.run(
        [sys.executable, "-m", "copier", "copy", "--trust", "--defaults", "--quiet",
         "--skip-tasks", "--vcs-ref", ref, "--data-file", str(data), template, str(destination)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return destination


def files_under(root: Path) -> set[str]:
    return {
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file() and not SKIPPED_PARTS.intersection(path.relative_to(root).parts)
    }


def _class_fields(source: str, class_name: str) -> dict[str, str]:
    """Field name -> its source, for the annotated fields of `class_name`."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            return {
                item.target.id: ast.get_source_segment(source, item) or ""
                for item in node.body
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
            }
    return {}


def carry_settings(old: str, team: str, settings_py: Path) -> list[str]:
    """Fields the team added to the old Settings class go into the new one."""
    added = {
        name: code
        for name, code in _class_fields(team, "Settings").items()
        if name not in _class_fields(old, "Settings")
    }
    if not added or not settings_py.is_file():
        return []
    text = settings_py.read_text()
    anchor = re.search(r"^class Settings\(ChassisSettings\):\n(?:    .*\n|\n)*", text, re.M)
    if anchor is None:
        return []
    block = "".join(f"    {code.replace(chr(10), chr(10) + '    ')}\n" for code in added.values())
    body = anchor.group(0).rstrip("\n") + "\n" + block
    text = text[: anchor.start()] + body + "\n\n" + text[anchor.end() :].lstrip("\n")
    if "Field(" in block and not re.search(r"^from pydantic import .*\bField\b", text, re.M):
        last = list(re.finditer(r"^from goldenpath_chassis[\w.]* import .*\n", text, re.M))[-1]
        text = text[: last.end()] + "from pydantic import Field\n" + text[last.end() :]
    settings_py.write_text(text)
    return list(added)


def _registered(source: str, tuple_name: str | None) -> dict[str, str]:
    """Imported name -> its import line, for names in `tuple_name` (or every import)."""
    tree = ast.parse(source)
    imports: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            for alias in node.names:
                name = alias.asname or alias.name
                as_part = f" as {alias.asname}" if alias.asname else ""
                module = "." * node.level + (node.module or "")
                imports[name] = f"from {module} import {alias.name}{as_part}"
    if tuple_name is None:
        return imports
    for node in tree.body:
        targets = [node.target] if isinstance(node, ast.AnnAssign) else getattr(node, "targets", [])
        if any(isinstance(t, ast.Name) and t.id == tuple_name for t in targets):
            value = getattr(node, "value", None)
            names = [elt.id for elt in getattr(value, "elts", []) if isinstance(elt, ast.Name)]
            return {name: imports[name] for name in names if name in imports}
    return {}


def _domain_of(import_line: str) -> str:
    return import_line.split()[1].lstrip(".").split(".")[0]


Registrations = dict[str, dict[str, str]]  # "api" or "models" -> imported name -> import line


def carry_domains(old: Registrations, team: Registrations, service_py: Path) -> list[str]:
    """Routers (api.py) and models (models.py) the team registered become domains."""
    routers = {n: i for n, i in team.get("api", {}).items() if n not in old.get("api", {})}
    models = {n: i for n, i in team.get("models", {}).items() if n not in old.get("models", {})}
    domains: dict[str, dict[str, list[str]]] = {}
    for kind, found in (("routers", routers), ("models", models)):
        for name, line in found.items():
            domains.setdefault(_domain_of(line), {"routers": [], "models": [], "imports": []})
            domains[_domain_of(line)][kind].append(name)
            domains[_domain_of(line)]["imports"].append(line)
    if not domains or not service_py.is_file():
        return []
    text = service_py.read_text()
    returned = re.search(r"^    return \((?P<names>[^)]*)\)\n", text, re.M)
    if returned is None:
        return []
    lines, entries = [], []
    for name, parts in sorted(domains.items()):
        for line in parts["imports"]:
            lines.append(f"    {line}  # noqa: PLC0415\n")
        fields = [f'name="{name}"']
        for kind in ("routers", "models"):
            if parts[kind]:
                fields.append(f"{kind}=({', '.join(parts[kind])},)")
        entries.append(f"Domain({', '.join(fields)})")
    names = [name.strip() for name in returned["names"].split(",") if name.strip()]
    # One element a line, with the trailing comma that keeps ruff's formatter from joining them.
    elements = "".join(f"        {element},\n" for element in (*names, *entries))
    replaced = "".join(lines) + f"    return (\n{elements}    )\n"
    service_py.write_text(text[: returned.start()] + replaced + text[returned.end() :])
    return sorted(domains)


def main(argv: list[str]) -> int:
    template, old_ref = argv
    project = Path.cwd()
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    package = str(answers["package_name"])
    report: list[str] = []
    with tempfile.TemporaryDirectory(prefix="to-chassis-") as scratch:
        old = render(template, old_ref, answers, Path(scratch) / "old")
        new = render(template, "HEAD", answers, Path(scratch) / "new")
        generated = files_under(new)
        retired = sorted(files_under(old) - generated)
        deleted, carried = 0, []
        registrations: dict[str, Registrations] = {"old": {}, "team": {}}
        for relative in retired:
            mine = project / relative
            if not mine.is_file():
                continue
            before = (old / relative).read_text(errors="replace")
            now = mine.read_text(errors="replace")
            if relative == f"src/{package}/api.py":
                registrations["old"]["api"] = _registered(before, "V1_ROUTERS")
                registrations["team"]["api"] = _registered(now, "V1_ROUTERS")
            if relative == f"src/{package}/models.py":
                registrations["old"]["models"] = _registered(before, None)
                registrations["team"]["models"] = _registered(now, None)
            if before != now:
                if relative == f"src/{package}/core/settings.py":
                    fields = carry_settings(before, now, project / "src" / package / "settings.py")
                    carried += [f"settings field `{field}` -> settings.py" for field in fields]
                diff = "".join(difflib.unified_diff(
                    before.splitlines(keepends=True), now.splitlines(keepends=True),
                    f"0.3 template: {relative}", f"your {relative}",
                ))  # fmt: skip
                report.append(f"### `{relative}`\n\n```diff\n{diff}```\n")
            mine.unlink()
            deleted += 1
        domains = carry_domains(
            registrations["old"], registrations["team"], project / "src" / package / "service.py"
        )
        carried += [f"domain `{name}` -> service.py's domains()" for name in domains]
    for folder in sorted((project / "src").rglob("*"), reverse=True):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    unmapped: set[str] = set()
    # The team's own modules only: what the new release generates is already right.
    for path in sorted((project / "src").rglob("*.py")) + sorted((project / "tests").rglob("*.py")):
        inside = path.relative_to(project)
        if SKIPPED_PARTS.intersection(inside.parts) or inside.as_posix() in generated:
            continue
        text = path.read_text()
        rewritten, missing = rewrite_team_code(text)
        unmapped.update(missing)
        if rewritten != text:
            path.write_text(rewritten)
            carried.append(f"imports and settings in `{path.relative_to(project)}`")
    _write_report(project, deleted, carried, report, unmapped)
    _log(f"{deleted} platform files retired, {len(report)} with your changes (see {REPORT})")
    return 0


def _write_report(
    project: Path, deleted: int, carried: Iterable[str], diffs: list[str], unmapped: set[str]
) -> None:
    lines = [
        "# Moving to goldenpath-chassis (template 0.4.0)\n",
        f"The update retired {deleted} files of platform code: the chassis provides them now.",
        "Files you had not changed were deleted. Carried over automatically:\n",
        *([f"- {item}" for item in carried] or ["- nothing"]),
        "",
    ]
    if unmapped:
        lines += ["Imports with no public chassis module (see docs/chassis.md):\n"]
        lines += [f"- `{module}`" for module in sorted(unmapped)] + [""]
    if diffs:
        lines += [
            "Your changes to retired files, whole, for review (re-apply what still applies; the",
            "template's docs/updating.md says where each concern lives now):\n",
            *diffs,
        ]
    lines.append("Delete this file once reviewed.")
    (project / REPORT).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
