"""The peer mode's rewrite of fastapi/full-stack-fastapi-template for this Python (3.13): what
only 3.14 accepts becomes what means the same here, and nothing else changes."""

from __future__ import annotations

import textwrap
from pathlib import Path

from benchmarks.peer import rewrite_for_this_python


def backend_with(tmp_path: Path, source: str) -> Path:
    module = tmp_path / "backend" / "app" / "models.py"
    module.parent.mkdir(parents=True)
    module.write_text(textwrap.dedent(source))
    return tmp_path / "backend"


def test_unparenthesized_excepts_and_forward_references_are_rewritten(tmp_path: Path) -> None:
    backend = backend_with(
        tmp_path,
        """
        class User:
            items: list[Item]

        def owner_of(item: Item) -> User:
            try:
                return item.owner
            except KeyError, ValueError:
                raise

        class Item:
            owner: User
        """,
    )
    notes = rewrite_for_this_python(backend)

    text = (backend / "app" / "models.py").read_text()
    assert 'items: list["Item"]' in text
    assert 'def owner_of(item: "Item") -> User:' in text  # User is defined above: left alone
    assert "except (KeyError, ValueError):" in text
    assert "owner: User" in text
    compile(text, "models.py", "exec")
    assert notes == [
        "1 `except A, B:` (PEP 758) parenthesized",
        "2 forward references in annotations (PEP 649) quoted",
        "in app/models.py",
    ]


def test_code_this_python_accepts_is_left_as_it_is(tmp_path: Path) -> None:
    source = """
    class Item:
        name: str

    def name_of(item: Item) -> str:
        try:
            return item.name
        except (KeyError, ValueError) as error:
            raise RuntimeError from error
    """
    backend = backend_with(tmp_path, source)
    assert rewrite_for_this_python(backend) == []
    assert (backend / "app" / "models.py").read_text() == textwrap.dedent(source)
