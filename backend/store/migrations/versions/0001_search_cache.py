"""search_cache, as the release before migrations created it at startup.

Revision ID: 0001
Revises:
Create Date: 2026-05-10

Written out by hand: this migration stays as it is while the code's table grows.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    moment = sa.DateTime(timezone=True)
    op.create_table(
        "search_cache",
        sa.Column("search_id", sa.String(36), primary_key=True),
        sa.Column("created_at", moment, nullable=False),
        sa.Column("updated_at", moment, nullable=False),
        sa.Column("expires_at", moment, nullable=False),
        sa.Column("request_json", sa.Text, nullable=False),
        sa.Column("setor_id", sa.String(64), nullable=False),
        sa.Column("total_raw", sa.Integer, nullable=False),
        sa.Column("total_filtrado", sa.Integer, nullable=False),
        sa.Column("licitacoes_json", sa.Text, nullable=False),
        sa.Column("ufs_com_falha_json", sa.Text, nullable=False),
        sa.Column("avisos_json", sa.Text, nullable=False),
        sa.Column("results_at", moment),
        sa.Column("llm_status", sa.String(16), nullable=False),
        sa.Column("resumo_json", sa.Text),
        sa.Column("resumo_at", moment),
        sa.Column("excel_status", sa.String(16), nullable=False),
        sa.Column("excel_url", sa.Text),
        sa.Column("excel_error", sa.Text),
        sa.Column("excel_at", moment),
        sa.Column("llm_owner", sa.String(16)),
        sa.Column("llm_lease_until", moment),
        sa.Column("excel_owner", sa.String(16)),
        sa.Column("excel_lease_until", moment),
        sa.Column("completed_at", moment),
        sa.Column("erro", sa.Text),
        sa.Column("erro_at", moment),
    )
    op.create_index("ix_search_cache_expires_at", "search_cache", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_search_cache_expires_at", table_name="search_cache")
    op.drop_table("search_cache")
