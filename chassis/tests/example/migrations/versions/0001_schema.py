"""The example service's whole schema, from its models (a test fixture, not a pattern).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op

from tests.example.service import SERVICE

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    SERVICE.metadata.create_all(op.get_bind())


def downgrade() -> None:
    SERVICE.metadata.drop_all(op.get_bind())
