"""Migration 0.4.0: the platform code leaves the service for goldenpath-chassis.

Usage (from `_migrations` in copier.yml, in the project): `python to_chassis.py before|after
TEMPLATE_CLONE OLD_REF`, once before `copier update` merges 0.4.0 and once after.

Up to 0.3.x the template copied the platform into the service (`src/<package>/core/`, `api.py`,
`models.py`, `cli.py`, ... and their tests). From 0.4.0 those come from the chassis, and Copier
leaves the old files behind, where they no longer import. This renders the old release and the
new one side by side (Copier itself, no tasks).

Before the merge: a file the team changed that 0.4.0 rewrote for another role (`app.py` was
the platform's app factory and is now the team's short one) would conflict. Its change goes
into the report and the file is reset to what 0.3 generated, so Copier applies 0.4.0's version
cleanly: no conflict markers in the files a team owns.

After the merge, for every file the old release generated and the new one does not:
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
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

REPORT = "CHASSIS-MIGRATION.md"
ANSWERS = ".copier-answers.yml"
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
    copied = subprocess.run(
        [sys.executable, "-m", "copier", "copy", "--trust", "--defaults", "--quiet",
         "--skip-tasks", "--vcs-ref", ref, "--data-file", str(data), template, str(destination)],
        check=False,
        capture_output=True,
        text=True,
    )  # fmt: skip
    if copied.returncode != 0:
        print(copied.stderr, end="", file=sys.stderr)
        raise SystemExit(
            f"to_chassis: Copier could not render the template at {ref} (exit "
            f"{copied.returncode}; its output is above); this migration changed nothing."
        )
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


def added_settings(old: str, team: str) -> dict[str, str]:
    """Fields the team added to the old Settings class: name -> source."""
    known = _class_fields(old, "Settings")
    return {n: code for n, code in _class_fields(team, "Settings").items() if n not in known}


def carry_settings(added: dict[str, str], settings_py: Path) -> list[str]:
    """Put the team's fields into the new Settings class."""
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


def _diff(relative: str, was: str, now: str) -> str:
    diff = "".join(difflib.unified_diff(
        was.splitlines(keepends=True), now.splitlines(keepends=True),
        f"0.3 template: {relative}", f"your {relative}",
    ))  # fmt: skip
    return f"### `{relative}`\n\n```diff\n{diff}```\n"


def would_conflict(team: str, old: str, new: str) -> bool:
    """Whether git's three-way merge of the team's and the release's changes conflicts."""
    with tempfile.TemporaryDirectory(prefix="to-chassis-merge-") as scratch:
        paths = []
        for name, text in (("team", team), ("old", old), ("new", new)):
            path = Path(scratch) / name
            path.write_text(text)
            paths.append(str(path))
        merged = subprocess.run(
            ["git", "merge-file", "-p", "-q", *paths], capture_output=True, check=False
        )
        return merged.returncode != 0


def before(project: Path, package: str, old: Path, new: Path) -> dict[str, Any]:
    """What the merge would lose or conflict on, taken aside before Copier merges.

    Copier deletes every file the old release generated and the new one does not, changed or
    not: the team's changes to them are read here. A file the team changed that the new
    release rewrote would conflict: it is reset to the old release's version, its change kept.
    """
    diffs: list[str] = []
    settings: dict[str, str] = {}
    registrations: dict[str, Registrations] = {"old": {}, "team": {}}
    retired = 0
    new_files = files_under(new)
    for relative in sorted(files_under(old)):
        mine = project / relative
        if relative == ANSWERS or not mine.is_file():
            continue
        was, now = (old / relative).read_text(errors="replace"), mine.read_text(errors="replace")
        if relative not in new_files:
            retired += 1
            for name, registry in (("api", "V1_ROUTERS"), ("models", None)):
                if relative == f"src/{package}/{name}.py":
                    registrations["old"][name] = _registered(was, registry)
                    registrations["team"][name] = _registered(now, registry)
            if relative == f"src/{package}/core/settings.py":
                settings = added_settings(was, now)
            if was != now:
                diffs.append(_diff(relative, was, now))
        elif was != now and would_conflict(now, was, (new / relative).read_text(errors="replace")):
            diffs.append(_diff(relative, was, now))
            mine.write_text(was)
            # Copier computes the team's changes from the index.
            subprocess.run(["git", "add", "--", relative], cwd=project, check=True)
    return {
        "diffs": diffs,
        "settings": settings,
        "registrations": registrations,
        "retired": retired,
    }


def rewrite_team_modules(project: Path, generated: set[str]) -> tuple[list[Path], set[str]]:
    """The team's own modules only: what the new release generates is already right."""
    changed: list[Path] = []
    unmapped: set[str] = set()
    for path in sorted((project / "src").rglob("*.py")) + sorted((project / "tests").rglob("*.py")):
        inside = path.relative_to(project)
        if SKIPPED_PARTS.intersection(inside.parts) or inside.as_posix() in generated:
            continue
        text = path.read_text()
        rewritten, missing = rewrite_team_code(text)
        unmapped.update(missing)
        if rewritten != text:
            path.write_text(rewritten)
            changed.append(path)
    return changed, unmapped


def tidy(project: Path, paths: list[Path]) -> bool:
    """Sort the imports and format what this migration wrote, with the project's ruff rules
    (through `uvx`: the project is not synced yet). False when uv is not there."""
    uvx = shutil.which("uvx")
    if uvx is None or not paths:
        return not paths
    files = [str(path) for path in paths if path.is_file()]
    for command in (["check", "--select", "I", "--fix", "--quiet"], ["format", "--quiet"]):
        subprocess.run([uvx, "ruff", *command, *files], cwd=project, check=False)
    return True


def after(project: Path, package: str, new: Path, taken: dict[str, Any]) -> None:
    """Give the team's changes their new homes, rewrite its modules, write the report."""
    fields = carry_settings(taken["settings"], project / "src" / package / "settings.py")
    carried = [f"settings field `{field}` -> settings.py" for field in fields]
    registrations = taken["registrations"]
    domains = carry_domains(
        registrations["old"], registrations["team"], project / "src" / package / "service.py"
    )
    carried += [f"domain `{name}` -> service.py's domains()" for name in domains]
    for folder in sorted((project / "src").rglob("*"), reverse=True):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    rewritten, unmapped = rewrite_team_modules(project, files_under(new))
    carried += [f"imports and settings in `{path.relative_to(project)}`" for path in rewritten]
    touched = [project / "src" / package / name for name in ("settings.py", "service.py")]
    if not tidy(project, [*touched, *rewritten]):
        carried.append("(uv was not found: run `uv run ruff check --fix && uv run ruff format`)")
    _write_report(project, taken["retired"], carried, taken["diffs"], unmapped)
    retired, changed = taken["retired"], len(taken["diffs"])
    _log(f"{retired} platform files retired, {changed} with your changes (see {REPORT})")


def main(argv: list[str]) -> int:
    stage, template, old_ref = argv
    project = Path.cwd()
    answers = yaml.safe_load((project / ANSWERS).read_text())
    package = str(answers["package_name"])
    git_dir = subprocess.run(
        ["git", "rev-parse", "--absolute-git-dir"], capture_output=True, text=True, check=True
    ).stdout.strip()
    taken = Path(git_dir) / "to-chassis.json"  # from the stage before the merge to after
    with tempfile.TemporaryDirectory(prefix="to-chassis-") as scratch:
        new = render(template, "HEAD", answers, Path(scratch) / "new")
        if stage == "before":
            old = render(template, old_ref, answers, Path(scratch) / "old")
            taken.write_text(json.dumps(before(project, package, old, new)))
            return 0
        after(project, package, new, json.loads(taken.read_text()))
    taken.unlink()
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
