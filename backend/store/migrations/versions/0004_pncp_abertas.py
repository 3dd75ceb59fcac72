"""What PNCP lists as open for proposals (`/v1/contratacoes/proposta`), and when it was read.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

- pncp_aberta: the licitações one read of `/proposta` listed (for every UF, leitura "", or for
  one UF), with the columns an "abertas" search narrows by; their content is in pncp_publicacao.
- pncp_aberta_leitura: those reads (modalidade x every UF or one), completely or not, and when.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    moment = sa.DateTime(timezone=True)
    op.create_table(
        "pncp_aberta",
        sa.Column("leitura", sa.String(2), primary_key=True),  # "" : the read of every UF at once
        sa.Column("codigo_pncp", sa.String(64), primary_key=True),
        sa.Column("modalidade_id", sa.Integer, nullable=False),
        sa.Column("uf", sa.String(2), nullable=False),
        sa.Column("data_encerramento", sa.DateTime, nullable=False),  # Brasília wall-clock time
    )
    op.create_index("ix_pncp_aberta_busca", "pncp_aberta", ["modalidade_id", "leitura", "uf", "data_encerramento"])
    op.create_index("ix_pncp_aberta_codigo", "pncp_aberta", ["codigo_pncp"])
    op.create_table(
        "pncp_aberta_leitura",
        sa.Column("modalidade_id", sa.Integer, primary_key=True),
        sa.Column("uf", sa.String(2), primary_key=True),  # "" : every UF at once
        sa.Column("completo", sa.Boolean, nullable=False),
        sa.Column("lido_em", moment),  # when its last complete read began
        sa.Column("tentado_em", moment, nullable=False),
        sa.Column("registros", sa.Integer, nullable=False),
        sa.Column("erro", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("pncp_aberta_leitura")
    op.drop_index("ix_pncp_aberta_codigo", table_name="pncp_aberta")
    op.drop_index("ix_pncp_aberta_busca", table_name="pncp_aberta")
    op.drop_table("pncp_aberta")
