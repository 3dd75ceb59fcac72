"""Searches owned by their users, and the searches each user made a month.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07

- search_cache.owner: the user who made the search (Supabase's `sub`); searches made before
  accounts, and every search with AUTH_MODE=off, belong to the local user "local".
- search_cache.plano: the plan the search was made under (None: no plan, AUTH_MODE=off), which
  decides whether it gets a report.
- uso_mensal: each user's searches counted in a Brasília calendar month (`mes`: its first day),
  and the plan of the last one; the quota is checked and counted here in one statement.
- busca_contada: each counted search (once per search_id), the day and plan it counted under,
  for the operations views and to give a search back when it failed for the service's fault.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("search_cache") as batch:
        batch.add_column(sa.Column("owner", sa.String(64), nullable=False, server_default="local"))
        batch.add_column(sa.Column("plano", sa.String(32)))
    op.create_index("ix_search_cache_owner", "search_cache", ["owner", "created_at"])
    op.create_table(
        "uso_mensal",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("mes", sa.Date, primary_key=True),
        sa.Column("plano", sa.String(32), nullable=False),
        sa.Column("buscas", sa.Integer, nullable=False),
    )
    op.create_table(
        "busca_contada",
        sa.Column("search_id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("plano", sa.String(32), nullable=False),
        sa.Column("mes", sa.Date, nullable=False),
        sa.Column("dia", sa.Date, nullable=False, index=True),
        sa.Column("contada_em", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("busca_contada")
    op.drop_table("uso_mensal")
    op.drop_index("ix_search_cache_owner", table_name="search_cache")
    with op.batch_alter_table("search_cache") as batch:
        batch.drop_column("plano")
        batch.drop_column("owner")
