"""API-2/TPL-4: a generated service is ready for Backstage's catalog and TechDocs.

`catalog-info.yaml` holds a Component and its API. Each is validated against Backstage's own
JSON schemas for its kind (kept in tests/data/backstage/, see its README), after the `$text`
placeholder is resolved as Backstage's placeholder processor resolves it, and against the
naming rules Backstage enforces in code. `mkdocs.yml` builds the service's docs/ strictly.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from tests.support.commands import REPOSITORY, run
from tests.support.projects import GeneratedProject

SCHEMAS = REPOSITORY / "tests" / "data" / "backstage"
KIND_SCHEMAS = {"Component": "ComponentV1alpha1", "API": "ApiV1alpha1"}
# Backstage's KubernetesValidatorFunctions and its tag rule (catalog-model, validation/).
OBJECT_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
TAG = re.compile(r"^[a-z0-9:+#]+(-[a-z0-9:+#]+)*$")
ENTITY_REF = re.compile(r"^(?:(?P<kind>[A-Za-z]+):)?(?:(?P<namespace>[a-z0-9-]+)/)?(?P<name>.+)$")


def registry() -> Registry[Any]:
    resources = []
    for path in sorted(SCHEMAS.glob("*.schema.json")):
        contents = json.loads(path.read_text())
        resources.append((contents["$id"], Resource.from_contents(contents, DRAFT7)))
    registry: Registry[Any] = Registry().with_resources(resources)
    return registry


def validator(kind: str) -> Draft7Validator:
    schemas = registry()
    schema = schemas.contents(KIND_SCHEMAS[kind])
    return Draft7Validator(schema, registry=schemas)


def resolve_placeholders(value: Any, base: Path) -> Any:
    """Backstage's placeholder processor: a one-key mapping `{$text|$json|$yaml: path}` becomes
    the file's content (relative to the catalog file), before the entity is validated."""
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)).startswith("$"):
            ((placeholder, target),) = value.items()
            text = (base / target).read_text()
            readers: dict[str, Callable[[str], Any]] = {
                "$text": str,
                "$json": json.loads,
                "$yaml": yaml.safe_load,
            }
            assert placeholder in readers, f"Backstage has no placeholder {placeholder}"
            return readers[placeholder](text)
        return {key: resolve_placeholders(item, base) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve_placeholders(item, base) for item in value]
    return value


def naming_problems(entity: dict[str, Any]) -> list[str]:
    """What Backstage's entity policies refuse that its schemas let through."""
    metadata, problems = entity["metadata"], []
    name = metadata["name"]
    if not (len(name) <= 63 and OBJECT_NAME.match(name)):
        problems.append(f"name {name!r}")
    for tag in metadata.get("tags", []):
        if not (len(tag) <= 63 and TAG.match(tag)):
            problems.append(f"tag {tag!r}")
    for key in metadata.get("annotations", {}):
        prefix, _, short = key.rpartition("/")
        if prefix and not (len(prefix) <= 253 and DNS_SUBDOMAIN.match(prefix)):
            problems.append(f"annotation prefix {key!r}")
        if not (len(short) <= 63 and OBJECT_NAME.match(short)):
            problems.append(f"annotation name {key!r}")
    for field in ("owner", "system"):
        reference = ENTITY_REF.match(entity["spec"].get(field, ""))
        if reference is None or not OBJECT_NAME.match(reference["name"]):
            problems.append(f"spec.{field} {entity['spec'].get(field)!r}")
    return problems


def catalog(project: Path) -> list[dict[str, Any]]:
    documents = yaml.safe_load_all((project / "catalog-info.yaml").read_text())
    return [resolve_placeholders(document, project) for document in documents]


def schema_errors(entity: dict[str, Any], kind: str | None = None) -> list[str]:
    errors = validator(kind or entity["kind"]).iter_errors(entity)
    return [f"{'.'.join(map(str, error.absolute_path))}: {error.message}" for error in errors]


def test_api2_the_catalog_entry_validates_against_backstages_schemas(
    project: GeneratedProject,
) -> None:
    entities = catalog(project.path)
    assert [entity["kind"] for entity in entities] == ["Component", "API"]
    for entity in entities:
        assert not schema_errors(entity), (entity["kind"], schema_errors(entity))
        assert not naming_problems(entity), (entity["kind"], naming_problems(entity))
    component, api = entities
    answers = project.answers
    assert component["metadata"]["name"] == answers["project_slug"]
    assert component["spec"]["type"] == "service"
    assert component["spec"]["lifecycle"] == "experimental"
    assert component["spec"]["owner"] == answers["backstage_owner"]
    assert component["spec"]["system"] == answers["backstage_system"]
    # The component provides the API of this file; both belong to the same owner and system.
    assert component["spec"]["providesApis"] == [api["metadata"]["name"]]
    assert {key: api["spec"][key] for key in ("owner", "system", "lifecycle")} == {
        key: component["spec"][key] for key in ("owner", "system", "lifecycle")
    }
    # TechDocs builds the docs/ next to the catalog file.
    annotations = component["metadata"]["annotations"]
    assert annotations["backstage.io/techdocs-ref"] == "dir:."
    assert (project.path / "mkdocs.yml").is_file()
    assert annotations["github.com/project-slug"] == (
        f"{answers['repository_owner']}/{answers['project_slug']}"
    )
    # The API's definition is the reviewed contract, openapi.json, as it is.
    assert api["spec"]["type"] == "openapi"
    assert json.loads(api["spec"]["definition"]) == json.loads(
        (project.path / "openapi.json").read_text()
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda entity: entity["spec"].pop("owner"), "'owner' is a required property"),
        (lambda entity: entity.update(kind="Service"), "'Service' is not one of ['Component']"),
        (lambda entity: entity.update(extra=1), "Additional properties are not allowed"),
        (lambda entity: entity["metadata"].update(name=""), "should be non-empty"),
        (lambda entity: entity["metadata"]["annotations"].update(x=1), "1 is not of type"),
    ],
)
def test_api2_the_schemas_refuse_what_backstage_refuses(
    default_project: GeneratedProject, change: Any, expected: str
) -> None:
    """The kept schemas are not vacuous: each change below is an entity Backstage rejects."""
    component = catalog(default_project.path)[0]
    change(component)
    errors = schema_errors(component, kind="Component")
    assert any(expected in error for error in errors), errors


def test_api2_an_unresolved_definition_is_refused(default_project: GeneratedProject) -> None:
    """Unresolved, `definition` is a mapping: only Backstage's processor makes it a string."""
    raw = list(yaml.safe_load_all((default_project.path / "catalog-info.yaml").read_text()))[1]
    assert any("definition" in error for error in schema_errors(raw))


def test_tpl4_techdocs_builds_the_services_docs_strictly(
    default_project: GeneratedProject, tmp_path: Path
) -> None:
    """mkdocs.yml as TechDocs reads it, built with plain mkdocs: every nav entry exists, every
    page is listed, every link resolves. (`techdocs-core` is TechDocs's plugin, added by
    TechDocs's builder; plain mkdocs runs without it.)"""
    config = yaml.safe_load((default_project.path / "mkdocs.yml").read_text())
    assert config["plugins"] == ["techdocs-core"]
    assert config["site_name"] == default_project.answers["project_name"]
    del config["plugins"]
    config["docs_dir"] = str(default_project.path / "docs")
    built = tmp_path / "mkdocs.yml"
    built.write_text(yaml.safe_dump(config))
    mkdocs = Path(sys.executable).parent / "mkdocs"
    completed = run(
        [str(mkdocs), "build", "--strict", "-f", str(built), "--site-dir", str(tmp_path / "site")],
        cwd=tmp_path,
        env={"NO_MKDOCS_2_WARNING": "1"},
    )
    assert "WARNING" not in completed.stderr, completed.stderr
    assert (tmp_path / "site" / "index.html").is_file()
    listed = {page for entry in config["nav"] for page in entry.values()}
    assert listed == {path.name for path in (default_project.path / "docs").glob("*.md")}
