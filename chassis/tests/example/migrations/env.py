"""The example service's Alembic environment, as a generated service's."""

from goldenpath_chassis.migrations import run_migrations

from tests.example.service import SERVICE

run_migrations(SERVICE.metadata, SERVICE.load_settings)
