"""smartlic_database: one row, the identity of this database.

Revision ID: 0002
Revises: 0001
Create Date: 2026-05-10

Workers advertise the id so the web process can tell when a worker reads another database,
without showing any URL or password.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import uuid4

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table(
        "smartlic_database",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    # Made when the migration runs, so every database gets its own.
    op.bulk_insert(table, [{"id": str(uuid4()), "created_at": datetime.now(UTC)}])


def downgrade() -> None:
    op.drop_table("smartlic_database")
