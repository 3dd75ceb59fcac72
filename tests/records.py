"""PNCP wire records made to order, for tests that need exact data."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from backend.codes import MODALIDADES, UFS, now_brasilia

_sequence = itertools.count(1)


def pncp_record(
    objeto: str,
    *,
    uf: str = "SP",
    valor: float | None = 150_000.0,
    modalidade: int = 6,
    publicado: datetime | None = None,
    encerramento: datetime | None | str = "auto",
    situacao: int = 1,
    link: str | None = "https://compras.example.gov.br/edital/1",
    cnpj: str = "11222333000181",
    municipio: str = "Campinas",
    sequencial: int | None = None,
    atualizado: str = "2026-11-20T10:00:00",
) -> dict[str, Any]:
    """A record shaped like `GET /v1/contratacoes/publicacao` returns it."""
    seq = sequencial if sequencial is not None else next(_sequence)
    publicado = publicado or (now_brasilia() - timedelta(days=2)).replace(microsecond=0)
    if encerramento == "auto":
        encerramento = publicado + timedelta(days=15)
    fmt = "%Y-%m-%dT%H:%M:%S"
    return {
        "numeroControlePNCP": f"{cnpj}-1-{seq:06d}/{publicado.year}",
        "anoCompra": publicado.year,
        "sequencialCompra": seq,
        "numeroCompra": str(90000 + seq),
        "processo": f"{seq}/{publicado.year}",
        "objetoCompra": objeto,
        "informacaoComplementar": None,
        "modalidadeId": modalidade,
        "modalidadeNome": MODALIDADES[modalidade],
        "situacaoCompraId": situacao,
        "situacaoCompraNome": {1: "Divulgada no PNCP", 2: "Revogada", 3: "Anulada", 4: "Suspensa"}[situacao],
        "dataPublicacaoPncp": publicado.strftime(fmt),
        "dataInclusao": publicado.strftime(fmt),
        "dataAtualizacao": atualizado,
        "dataAtualizacaoGlobal": atualizado,
        "dataAberturaProposta": publicado.strftime(fmt) if encerramento else None,
        "dataEncerramentoProposta": encerramento.strftime(fmt) if isinstance(encerramento, datetime) else None,
        "valorTotalEstimado": 0.0 if valor is None else valor,
        "valorTotalHomologado": None,
        "linkSistemaOrigem": link,
        "srp": False,
        "orgaoEntidade": {
            "cnpj": cnpj, "razaoSocial": f"MUNICIPIO DE {municipio.upper()}", "poderId": "E", "esferaId": "M",
        },
        "unidadeOrgao": {
            "ufSigla": uf,
            "ufNome": UFS[uf],
            "municipioNome": municipio,
            "codigoIbge": "3509502",
            "codigoUnidade": "1",
            "nomeUnidade": f"PREFEITURA DE {municipio.upper()}",
        },
    }
