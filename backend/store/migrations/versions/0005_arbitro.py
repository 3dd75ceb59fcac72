"""What the sectors' rules leave undecided, and the AI arbiter's verdicts on it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07

- pncp_publicacao_setor.classificacao: "palavras" (the sector's terms matched) or "ia" (the
  arbiter put the publication in the sector); every row so far was a match of terms.
- pncp_duvida: the sectors whose rules found a publication worth a closer reading (a generic word
  alone, a term's words too far apart), with `chave`, the hash of its normalised objeto.
- arbitro_veredito: one per distinct normalised objeto the arbiter read (when, which model, what
  it cost); arbitro_veredito_setor: the sectors it put that objeto in.
- arbitro_gasto: the arbiter's tokens per Brasília day, for its daily budget.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("pncp_publicacao_setor") as batch:
        batch.add_column(sa.Column("classificacao", sa.String(8), nullable=False, server_default="palavras"))
    op.create_table(
        "pncp_duvida",
        sa.Column("setor_id", sa.String(64), primary_key=True),
        sa.Column("codigo_pncp", sa.String(64), primary_key=True),
        sa.Column("dia", sa.Date, nullable=False),
        sa.Column("uf", sa.String(2), nullable=False),
        sa.Column("modalidade_id", sa.Integer, nullable=False),
        sa.Column("palavras", sa.Text, nullable=False),
        sa.Column("chave", sa.String(32), nullable=False),
    )
    op.create_index("ix_pncp_duvida_chave", "pncp_duvida", ["chave"])
    op.create_index("ix_pncp_duvida_codigo", "pncp_duvida", ["codigo_pncp"])
    op.create_table(
        "arbitro_veredito",
        sa.Column("chave", sa.String(32), primary_key=True),
        sa.Column("modelo", sa.String(128), nullable=False),
        sa.Column("tokens", sa.Integer, nullable=False),
        sa.Column("decidido_em", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "arbitro_veredito_setor",
        sa.Column("chave", sa.String(32), primary_key=True),
        sa.Column("setor_id", sa.String(64), primary_key=True),
    )
    op.create_table(
        "arbitro_gasto",
        sa.Column("dia", sa.Date, primary_key=True),
        sa.Column("tokens", sa.Integer, nullable=False),
        sa.Column("chamadas", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("arbitro_gasto")
    op.drop_table("arbitro_veredito_setor")
    op.drop_table("arbitro_veredito")
    op.drop_index("ix_pncp_duvida_codigo", table_name="pncp_duvida")
    op.drop_index("ix_pncp_duvida_chave", table_name="pncp_duvida")
    op.drop_table("pncp_duvida")
    with op.batch_alter_table("pncp_publicacao_setor") as batch:
        batch.drop_column("classificacao")
