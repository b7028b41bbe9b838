"""Migrations (DB-2): a service's `migrations/env.py` runs `run_migrations`; tools upgrade."""

from ._core.migrations import downgrade, run_migrations, upgrade

__all__ = ["downgrade", "run_migrations", "upgrade"]
