"""PERF-1: a cached resource's name carries the shape of what it holds, so a deployment that
changes the shape never decodes the previous one's entries, and nobody has to bump a version.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, Field

from goldenpath_chassis.cache import JsonCodec


class Item(BaseModel):
    """An item."""

    id: int
    name: str
    description: str = ""


class ItemWithPrice(BaseModel):
    id: int
    name: str
    description: str = ""
    price_cents: int = 0


class ItemRenamed(BaseModel):
    id: int
    title: str
    description: str = ""


class ItemRetyped(BaseModel):
    id: str
    name: str
    description: str = ""


class ItemWithADescriptionNumber(BaseModel):
    id: int
    name: str
    description: int = 0


def item_model(doc: str, id_description: str) -> type[BaseModel]:
    """The same shape, each time a class of the same name, documented as told."""

    class Item(BaseModel):
        __doc__ = doc
        id: Annotated[int, Field(description=id_description, examples=[7])]
        name: Annotated[str, Field(title="Name")]
        description: str = ""

    return Item


def name(type_: type[object]) -> str:
    return JsonCodec(type_).versioned("items")


def test_perf1_the_name_is_the_given_name_and_a_fingerprint() -> None:
    prefix, _, fingerprint = name(Item).partition(":")
    assert prefix == "items"  # also the metrics' label
    assert len(fingerprint) == 8
    int(fingerprint, 16)


def test_perf1_a_changed_shape_gets_a_name_of_its_own() -> None:
    names = {name(shape) for shape in (Item, ItemWithPrice, ItemRenamed, ItemRetyped)}
    assert len(names) == 4
    # A field named like a schema annotation (`description`) is part of the shape.
    assert name(ItemWithADescriptionNumber) != name(Item)
    # A list of items is not an item.
    assert JsonCodec(list[Item]).versioned("items") != name(Item)


def test_perf1_prose_does_not_change_the_name() -> None:
    # Docstrings, titles, descriptions and examples: the cache stays warm across such a deploy.
    terse, documented = item_model("An item.", "Its number."), item_model("Ours.", "The key.")
    assert terse.model_json_schema() != documented.model_json_schema()
    assert name(terse) == name(documented)
    pages = [JsonCodec(list[model]).versioned("pages") for model in (terse, documented)]  # type: ignore[valid-type]
    assert pages[0] == pages[1]


def test_perf1_the_name_is_the_same_in_every_process() -> None:
    # Replicas must agree: nothing in it may depend on the process (hash seeds, addresses).
    code = "from tests.unit.test_cache_versioned_names import Item, name; print(name(Item))"
    names = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={"PYTHONHASHSEED": seed},
            cwd=Path(__file__).parents[2],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert names == {name(Item)}
