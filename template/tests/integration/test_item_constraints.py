"""DB-3/DB-4: the database itself refuses rows that break the items' and categories' rules.

The API validates first (tests/integration/test_items.py); these rows are written around it,
in SQL, as a script, a data fix or a bug would. Each must be refused by a constraint the
migrations created: the models' rules (src/<package>/items/models.py) are the database's too.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping

import pytest
from fastapi import FastAPI
from goldenpath_chassis import chassis_of
from sqlalchemy import Uuid, bindparam, inspect, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import TextClause

pytestmark = [pytest.mark.integration, pytest.mark.database]


@pytest.fixture
async def raw(app: FastAPI) -> AsyncIterator[AsyncConnection]:
    """A connection of the service's own engine, in a transaction that is rolled back."""
    async with chassis_of(app).resources.database.engine.connect() as connection:
        transaction = await connection.begin()
        yield connection
        await transaction.rollback()


# Typed parameters, so each backend gets UUIDs in its own storage format.
INSERT_ITEM = text(
    "INSERT INTO items (id, owner, name, description, price_cents, status, category_id, version) "
    "VALUES (:id, :owner, :name, :description, :price_cents, :status, :category_id, :version)"
).bindparams(bindparam("id", type_=Uuid), bindparam("category_id", type_=Uuid))
INSERT_CATEGORY = text(
    "INSERT INTO categories (id, owner, name) VALUES (:id, :owner, :name)"
).bindparams(bindparam("id", type_=Uuid))
OWNER = "user:alice"
GOOD_ITEM = {
    "owner": OWNER,
    "name": "good",
    "description": "",
    "price_cents": 0,
    "status": "pending",
    "category_id": None,
    "version": 1,
}


def item_row(**changes: object) -> dict[str, object]:
    return {"id": uuid.uuid4(), **GOOD_ITEM, **changes}


async def count(raw: AsyncConnection, table: str) -> int:
    return int((await raw.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())  # noqa: S608


async def refused(raw: AsyncConnection, statement: TextClause, row: Mapping[str, object]) -> bool:
    """Whether the database refuses the row; the transaction stays usable either way."""
    savepoint = await raw.begin_nested()
    try:
        await raw.execute(statement, dict(row))
    except DBAPIError:  # IntegrityError; PostgreSQL says DataError for an over-long VARCHAR
        await savepoint.rollback()
        return True
    await savepoint.commit()
    return False


async def test_db3_a_good_row_is_accepted(raw: AsyncConnection) -> None:
    category_id = uuid.uuid4()
    await raw.execute(INSERT_CATEGORY, {"id": category_id, "owner": OWNER, "name": "Tools"})
    await raw.execute(INSERT_ITEM, item_row(category_id=category_id))
    created = (await raw.execute(text("SELECT created_at, updated_at FROM items"))).one()
    # The database sets the timestamps itself (DB-4).
    assert created.created_at is not None
    assert created.updated_at is not None


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"owner": None}, "NOT NULL owner (SEC-6: every item has an owner)"),
        ({"owner": ""}, "CHECK owner length"),
        ({"owner": "o" * 301}, "CHECK/VARCHAR owner length"),
        ({"name": None}, "NOT NULL name"),
        ({"name": ""}, "CHECK name length"),
        ({"name": " padded "}, "CHECK name trimmed"),
        ({"name": "x" * 101}, "CHECK/VARCHAR name length"),
        ({"description": "d" * 10_001}, "CHECK description length (sanitized HTML)"),
        ({"price_cents": -1}, "CHECK price range"),
        ({"price_cents": 100_000_001}, "CHECK price range"),
        ({"status": "archived"}, "CHECK status"),
        ({"version": 0}, "CHECK version"),
        ({"category_id": uuid.uuid4()}, "FOREIGN KEY category"),
    ],
)
async def test_db3_the_database_refuses_bad_items(
    raw: AsyncConnection, changes: dict[str, object], rule: str
) -> None:
    assert await refused(raw, INSERT_ITEM, item_row(**changes)), f"{rule} was not enforced"
    assert await count(raw, "items") == 0


@pytest.mark.parametrize(
    ("owner", "name", "rule"),
    [
        (None, "Tools", "NOT NULL owner"),
        ("", "Tools", "CHECK owner length"),
        (OWNER, None, "NOT NULL name"),
        (OWNER, "", "CHECK name length"),
        (OWNER, " x", "CHECK name trimmed"),
    ],
)
async def test_db3_the_database_refuses_bad_categories(
    raw: AsyncConnection, owner: str | None, name: str | None, rule: str
) -> None:
    row = {"id": uuid.uuid4(), "owner": owner, "name": name}
    assert await refused(raw, INSERT_CATEGORY, row), f"{rule} was not enforced"
    assert await count(raw, "categories") == 0


async def test_db3_sec6_names_are_unique_per_owner(raw: AsyncConnection) -> None:
    await raw.execute(INSERT_ITEM, item_row(name="twin"))
    await raw.execute(INSERT_ITEM, item_row(name="twin", owner="user:bob"))
    await raw.execute(INSERT_CATEGORY, {"id": uuid.uuid4(), "owner": OWNER, "name": "twin"})
    row = {"id": uuid.uuid4(), "owner": "user:bob", "name": "twin"}
    await raw.execute(INSERT_CATEGORY, row)
    assert await refused(raw, INSERT_CATEGORY, {**row, "id": uuid.uuid4()})
    with pytest.raises(IntegrityError):
        await raw.execute(INSERT_ITEM, item_row(name="twin"))


async def test_db3_a_category_with_items_cannot_be_deleted(raw: AsyncConnection) -> None:
    category_id = uuid.uuid4()
    await raw.execute(INSERT_CATEGORY, {"id": category_id, "owner": OWNER, "name": "Tools"})
    await raw.execute(INSERT_ITEM, item_row(category_id=category_id))
    delete = text("DELETE FROM categories WHERE id = :id").bindparams(bindparam("id", type_=Uuid))
    assert await refused(raw, delete, {"id": category_id}), "ON DELETE RESTRICT was not enforced"
    assert await count(raw, "categories") == 1


async def test_db3_sec6_an_item_is_filed_only_in_its_owners_category(raw: AsyncConnection) -> None:
    bobs = uuid.uuid4()
    await raw.execute(INSERT_CATEGORY, {"id": bobs, "owner": "user:bob", "name": "Bob's"})
    assert await refused(raw, INSERT_ITEM, item_row(category_id=bobs)), "item in another's category"
    await raw.execute(INSERT_ITEM, item_row(owner="user:bob", category_id=bobs))
    move = text("UPDATE items SET owner = :owner")
    assert await refused(raw, move, {"owner": OWNER}), "item moved away from its category's owner"
    # An operator who gives the category another owner moves its items with it.
    await raw.execute(text("UPDATE categories SET owner = :owner"), {"owner": OWNER})
    owners = (await raw.execute(text("SELECT owner FROM items"))).scalars().all()
    assert owners == [OWNER]


async def test_db4_the_items_foreign_key_is_indexed(raw: AsyncConnection) -> None:
    indexes = await raw.run_sync(
        lambda sync: [tuple(index["column_names"]) for index in inspect(sync).get_indexes("items")]
    )
    assert ("category_id",) in indexes
    assert ("owner", "id") in indexes  # one owner's page of items, in order (SEC-6)
