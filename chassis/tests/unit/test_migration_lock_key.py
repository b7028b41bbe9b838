"""DB-2: the key of `migrate`'s advisory lock (tests/process/test_migration_lock_process.py runs
the lock itself)."""

from __future__ import annotations

from goldenpath_chassis._core.migration_lock import lock_key


def test_db2_the_key_is_the_same_in_every_release() -> None:
    # Runs of two releases at once (a rollback during a deploy) must take the same lock.
    assert lock_key("public") == 3813664181139015301


def test_db2_services_in_separate_schemas_do_not_wait_for_one_another() -> None:
    assert lock_key("orders") != lock_key("billing")
    assert lock_key("orders") != lock_key("orders", "orders_alembic_version")
