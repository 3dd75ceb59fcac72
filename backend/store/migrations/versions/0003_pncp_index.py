"""The local index of PNCP publications, what it covers, and where a search's data came from.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

- pncp_publicacao: one row per publication (numeroControlePNCP), normalised when written.
- pncp_publicacao_setor: which sectors' keywords a publication's objeto mentions (and which
  keywords), with the columns a search narrows by, so a search reads its candidates and nothing else.
- pncp_setor_versao: the signature of each sector's keywords those rows were computed with.
- pncp_fatia: the slices of PNCP read (modalidade x day, every UF or one), completely or not, and when.
- pncp_ingestao: the ingestion's own progress (key, value).
- search_cache gains fonte and atualizado_em (nullable: the previous release keeps writing rows).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    moment = sa.DateTime(timezone=True)
    op.create_table(
        "pncp_publicacao",
        sa.Column("codigo_pncp", sa.String(64), primary_key=True),
        sa.Column("dia", sa.Date, nullable=False),
        sa.Column("modalidade_id", sa.Integer, nullable=False),
        sa.Column("uf", sa.String(2), nullable=False),
        sa.Column("situacao_id", sa.Integer, nullable=False),
        sa.Column("data_encerramento", sa.DateTime),  # Brasília wall-clock time, as PNCP sends it
        sa.Column("valor_estimado", sa.Float),
        sa.Column("atualizado_pncp", sa.String(32), nullable=False),
        sa.Column("licitacao_json", sa.Text, nullable=False),
        sa.Column("escrito_em", moment, nullable=False),
    )
    op.create_index("ix_pncp_publicacao_dia_uf_modalidade", "pncp_publicacao", ["dia", "uf", "modalidade_id"])
    op.create_table(
        "pncp_publicacao_setor",
        sa.Column("setor_id", sa.String(64), primary_key=True),
        sa.Column("codigo_pncp", sa.String(64), primary_key=True),
        sa.Column("dia", sa.Date, nullable=False),
        sa.Column("uf", sa.String(2), nullable=False),
        sa.Column("modalidade_id", sa.Integer, nullable=False),
        sa.Column("palavras", sa.Text, nullable=False),  # the sector's keywords found, as a JSON list
    )
    op.create_index("ix_pncp_publicacao_setor_busca", "pncp_publicacao_setor", ["setor_id", "dia", "uf"])
    op.create_index("ix_pncp_publicacao_setor_codigo", "pncp_publicacao_setor", ["codigo_pncp"])
    op.create_table(
        "pncp_setor_versao",
        sa.Column("setor_id", sa.String(64), primary_key=True),
        sa.Column("assinatura", sa.String(64), nullable=False),
        sa.Column("atualizado_em", moment, nullable=False),
    )
    op.create_table(
        "pncp_fatia",
        sa.Column("modalidade_id", sa.Integer, primary_key=True),
        sa.Column("dia", sa.Date, primary_key=True),
        sa.Column("uf", sa.String(2), primary_key=True),  # "" : every UF at once
        sa.Column("completo", sa.Boolean, nullable=False),
        sa.Column("lido_em", moment),  # when its last complete read began
        sa.Column("tentado_em", moment, nullable=False),
        sa.Column("registros", sa.Integer, nullable=False),
        sa.Column("erro", sa.Text),
    )
    op.create_table(
        "pncp_ingestao",
        sa.Column("chave", sa.String(64), primary_key=True),
        sa.Column("valor", sa.Text, nullable=False),
        sa.Column("atualizado_em", moment, nullable=False),
    )
    with op.batch_alter_table("search_cache") as batch:
        batch.add_column(sa.Column("fonte", sa.String(8)))
        batch.add_column(sa.Column("atualizado_em", moment))


def downgrade() -> None:
    with op.batch_alter_table("search_cache") as batch:
        batch.drop_column("atualizado_em")
        batch.drop_column("fonte")
    op.drop_table("pncp_ingestao")
    op.drop_table("pncp_fatia")
    op.drop_table("pncp_setor_versao")
    op.drop_index("ix_pncp_publicacao_setor_codigo", table_name="pncp_publicacao_setor")
    op.drop_index("ix_pncp_publicacao_setor_busca", table_name="pncp_publicacao_setor")
    op.drop_table("pncp_publicacao_setor")
    op.drop_index("ix_pncp_publicacao_dia_uf_modalidade", table_name="pncp_publicacao")
    op.drop_table("pncp_publicacao")
