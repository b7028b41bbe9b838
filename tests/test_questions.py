"""TPL-1: a few clear questions; derived names follow from the project name; bad answers are
refused with a specific message before anything is written."""

from __future__ import annotations

import ast
import json
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from copier import run_copy

from tests.support.commands import REPOSITORY, uv_run
from tests.support.projects import GeneratedProject


def test_tpl1_names_are_derived_from_the_project_name(copie: Any) -> None:
    result = copie.copy(extra_answers={"project_name": "Acme  Orders & Co!"})
    assert result.exit_code == 0, result.exception
    assert result.answers["project_slug"] == "acme-orders-co"
    assert result.answers["package_name"] == "acme_orders_co"
    assert result.answers["database"] == "postgresql"
    assert (result.project_dir / "src" / "acme_orders_co" / "app.py").is_file()


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"project_name": "   "}, "must not be empty"),
        ({"project_name": "Acme", "project_slug": "Acme_Orders"}, "must be kebab-case"),
        ({"project_name": "Acme", "project_slug": "orders-"}, "must be kebab-case"),
        # --defaults would derive the slug unseen, and mangle it: the name says so, and how.
        ({"project_name": "3D Printing"}, "would drop its letters outside A-Z or start with"),
        ({"project_name": "Équipe Données"}, "would drop its letters outside A-Z"),
        ({"project_name": "Équipe Données"}, "give one with -d project_slug="),
        ({"project_name": "Acme", "package_name": "1acme"}, "lowercase Python identifier"),
        ({"project_name": "Acme", "package_name": "acme-orders"}, "lowercase Python identifier"),
        ({"project_name": "Acme", "package_name": "logging"}, "standard-library module"),
        ({"project_name": "Acme", "package_name": "code"}, "standard-library module"),
        ({"project_name": "Acme", "package_name": "inspect"}, "standard-library module"),
        ({"project_name": "Acme", "package_name": "fastapi"}, "service's dependencies"),
        ({"project_name": "Acme", "package_name": "starlette"}, "service's dependencies"),
        ({"project_name": "Acme", "package_name": "tests"}, "generated tests' package"),
        # A name whose derived package is refused says how to give one, as --defaults asks none.
        ({"project_name": "Code"}, "-d package_name="),
        ({"project_name": "Acme", "author_email": "not-an-address"}, "not an e-mail address"),
        ({"project_name": "Acme", "repository_owner": "-bad-"}, "not a valid GitHub"),
        ({"project_name": "Acme", "database": "mysql"}, "mysql"),
    ],
)
def test_tpl1_bad_answers_are_refused_and_nothing_is_written(
    copie: Any, answers: dict[str, Any], message: str
) -> None:
    result = copie.copy(extra_answers=answers)
    assert result.exit_code != 0
    assert message in str(result.exception)
    destination = copie.test_dir / f"copie{copie.counter - 1:03d}"
    assert not any(destination.iterdir())


IDENTIFIER = re.compile(r"[a-z][a-z0-9_]*")


def computed_list(name: str) -> set[str]:
    """A `type: yaml` computed value of copier.yml: a list written as a YAML string."""
    config = yaml.safe_load((REPOSITORY / "copier.yml").read_text())
    values = yaml.safe_load(config[name]["default"])
    assert isinstance(values, list)
    return {str(value) for value in values}


def test_tpl1_every_standard_library_module_is_refused_as_the_package_name() -> None:
    config = yaml.safe_load((REPOSITORY / "copier.yml").read_text())
    python = config["python_version"]["default"]
    if f"{sys.version_info.major}.{sys.version_info.minor}" != python:
        pytest.skip(f"the list is Python {python}'s")
    stdlib = {name for name in sys.stdlib_module_names if IDENTIFIER.fullmatch(name)}
    assert computed_list("stdlib_module_names") == stdlib


# The top-level modules of each distribution the service or the chassis requires directly
# (extras included, when installed), read in the generated service's environment.
DIRECT_MODULES = """
import json, re, tomllib
from importlib import metadata
modules = {}
for module, distributions in metadata.packages_distributions().items():
    for distribution in distributions:
        modules.setdefault(re.sub(r"[-_.]+", "-", distribution).lower(), set()).add(module)
project = tomllib.load(open("pyproject.toml", "rb"))
required = [*project["project"]["dependencies"], *project["dependency-groups"]["dev"]]
required += metadata.requires("goldenpath-chassis") or []
names = {re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9_.-]+", r).group(0)).lower() for r in required}
print(json.dumps(sorted(set().union(*(modules.get(name, set()) for name in names)))))
"""


def test_tpl1_the_dependencies_modules_are_refused_as_the_package_name(
    synced_project: GeneratedProject,
) -> None:
    installed = json.loads(uv_run(synced_project.path, "python", "-c", DIRECT_MODULES).stdout)
    assert "fastapi" in installed
    refused = computed_list("dependency_module_names") | computed_list("stdlib_module_names")
    missing = sorted(
        name for name in installed if IDENTIFIER.fullmatch(name) and name not in refused
    )
    assert not missing, f"add {missing} to dependency_module_names in copier.yml"


def test_tpl1_an_empty_project_name_gets_one_clear_message(copie: Any) -> None:
    result = copie.copy(extra_answers={"project_name": ""})
    assert result.exit_code != 0
    message = str(result.exception)
    assert "The project name must not be empty." in message
    assert "letter" not in message, message  # not a second rule's message run on


@pytest.mark.parametrize(
    ("name", "slug"), [("Équipe Données", "equipe-donnees"), ("Zoë Fish", "zo-fish")]
)
def test_tpl1_a_name_the_derivation_would_mangle_takes_a_given_slug(
    copie: Any, name: str, slug: str
) -> None:
    """Given (or recorded by an earlier copy, as `copier update` replays it), any valid slug."""
    result = copie.copy(extra_answers={"project_name": name, "project_slug": slug})
    assert result.exit_code == 0, result.exception
    assert result.answers["package_name"] == slug.replace("-", "_")


def generate_quietly(destination: Path, answers: dict[str, Any]) -> Path:
    """Render the template (the working tree) without its tasks: files only."""
    run_copy(
        str(REPOSITORY), str(destination), data=answers, defaults=True, unsafe=True,
        skip_tasks=True, quiet=True, vcs_ref="HEAD",
    )  # fmt: skip
    return destination


# Accents, "&", quotes, an apostrophe and a backslash: each file format escapes some of them.
AWKWARD_NAME = 'Zoë\'s "Fish" & Chips \\ Co'
AWKWARD_DESCRIPTION = 'Zoë\'s "Fish" & Chips: frites à $5.'


def test_tpl1_free_text_answers_are_written_as_typed_in_every_format(tmp_path: Path) -> None:
    project = generate_quietly(
        tmp_path / "project",
        {
            "project_name": AWKWARD_NAME,
            "project_slug": "zoes-fish-chips",
            "description": AWKWARD_DESCRIPTION,
            "author_name": "Équipe & Co",
        },
    )
    pyproject_text = (project / "pyproject.toml").read_text()
    pyproject = tomllib.loads(pyproject_text)["project"]
    assert pyproject["description"] == AWKWARD_DESCRIPTION
    assert pyproject["authors"][0]["name"] == "Équipe & Co"
    # TOML's own escapes (quotes, backslashes), not JSON's \u0026 for "&" or \u00eb for "ë".
    assert '"Zoë\'s \\"Fish\\" & Chips: frites à $5."' in pyproject_text
    assert "\\u" not in pyproject_text

    facts = next((project / "src").glob("*/_project.py")).read_text()
    assert "\\u" not in facts
    literals = dict(re.findall(r"^(PROJECT_NAME|DESCRIPTION): Final = (.+)$", facts, re.M))
    assert ast.literal_eval(literals["PROJECT_NAME"]) == AWKWARD_NAME
    assert ast.literal_eval(literals["DESCRIPTION"]) == AWKWARD_DESCRIPTION

    openapi_text = (project / "openapi.json").read_text()
    assert f'"title": {json.dumps(AWKWARD_NAME, ensure_ascii=False)},' in openapi_text
    info = json.loads(openapi_text)["info"]
    assert (info["title"], info["description"]) == (AWKWARD_NAME, AWKWARD_DESCRIPTION)

    assert (project / "README.md").read_text().splitlines()[0] == f"# {AWKWARD_NAME}"
    catalog = list(yaml.safe_load_all((project / "catalog-info.yaml").read_text()))
    assert {entity["metadata"]["title"] for entity in catalog} == {AWKWARD_NAME}
    assert yaml.safe_load((project / "mkdocs.yml").read_text())["site_name"] == AWKWARD_NAME
    # In a Dockerfile's double quotes "$" would expand: it is escaped there too.
    dockerfile = (project / "Dockerfile").read_text()
    assert 'description="Zoë\'s \\"Fish\\" & Chips: frites à \\$5." \\' in dockerfile
    assert 'vendor="Équipe & Co"' in dockerfile


@pytest.mark.parametrize("answers", [{"project_name": "Line\nBreak"}, {"description": "a\tb"}])
def test_tpl1_control_characters_in_free_text_are_refused(
    copie: Any, answers: dict[str, Any]
) -> None:
    result = copie.copy(extra_answers={"project_name": "Acme", **answers})
    assert result.exit_code != 0
    assert "printable characters" in str(result.exception)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://ci:s3cr3t@pypi.acme.internal/simple", "must not contain credentials"),
        ("https://s3cr3t@pypi.acme.internal/simple", "must not contain credentials"),
        ('https://pypi.acme.internal/simple"s3cr3t', "without spaces, quotes or backslashes"),
        ("https://pypi.acme.internal/simple s3cr3t", "without spaces, quotes or backslashes"),
        ("https://pypi.acme.internal/s3cr3t\\", "without spaces, quotes or backslashes"),
        ("ftp://pypi.acme.internal/s3cr3t", "http:// or https:// URL"),
    ],
)
def test_tpl5_the_chassis_index_url_carries_no_credentials_and_is_never_echoed(
    copie: Any, url: str, message: str
) -> None:
    result = copie.copy(extra_answers={"project_name": "Acme", "chassis_index_url": url})
    assert result.exit_code != 0
    refusal = str(result.exception)
    assert message in refusal
    assert "s3cr3t" not in refusal, refusal
    if "credentials" in message:
        assert "UV_INDEX_PLATFORM_USERNAME" in refusal


def test_tpl5_a_plain_chassis_index_url_is_accepted(tmp_path: Path) -> None:
    # Without the tasks: the index is not reachable from here, and a failed `uv lock` fails the
    # generation (tests/test_generation_offline.py); this test is about the answer's validation.
    url = "https://pypi.acme.internal:8443/simple/?x=a@b"
    project = generate_quietly(tmp_path, {"project_name": "Acme", "chassis_index_url": url})
    assert f'url = "{url}"' in (project / "pyproject.toml").read_text()


@pytest.mark.parametrize("package", ["acme", "a_much_longer_package_name_than_the_default"])
def test_tpl1_the_after_copy_messages_comments_line_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], package: str
) -> None:
    generate_quietly(tmp_path / "project", {"project_name": "Acme", "package_name": package})
    run_copy(
        str(REPOSITORY), str(tmp_path / "shown"), defaults=True, unsafe=True, skip_tasks=True,
        vcs_ref="HEAD", data={"project_name": "Acme", "package_name": package},
    )  # fmt: skip
    message = capsys.readouterr().err
    commented = [line for line in message.splitlines() if " # " in line]
    assert len(commented) == 2, message
    assert f"uv run python -m {package} " in commented[0]
    assert len({line.index("#") for line in commented}) == 1, message
