"""PNCP wire records -> rows of the index: normalised once, with their sector matches.

Pure: data in, data out. The sectors' keywords are tested here, when a record is written, so a
search reads only the rows that mention its sector; a signature of each sector's keywords tells
when those matches must be computed again (`sectors.yaml` changed).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from backend.domain.filtering import normalize, sector_keywords
from backend.domain.sectors import Sector
from backend.pncp.records import normalize_records
from backend.store.publications import IndexedPublication


def sector_signature(sector: Sector) -> str:
    """Changes exactly when what decides a match changes: the keywords and the exclusions."""
    spec = json.dumps([sorted(sector.palavras_chave), sorted(sector.exclusoes)], ensure_ascii=False)
    return hashlib.sha256(spec.encode()).hexdigest()[:32]


def index_rows(records: Iterable[dict[str, Any]], sectors: Mapping[str, Sector],
               *, day: date | None = None) -> list[IndexedPublication]:
    """The records as index rows (deduplicated, the latest update winning). A record without a
    publication date is filed under `day`, the day its slice was read for, or left out."""
    rows: list[IndexedPublication] = []
    updated: dict[str, str] = {}  # the latest update of each: the copy normalize_records keeps
    for record in records:
        codigo = str(record.get("numeroControlePNCP"))
        updated[codigo] = max(updated.get(codigo, ""), _updated(record))
    for licitacao in normalize_records(records):
        published = licitacao.data_publicacao.date() if licitacao.data_publicacao else day
        if published is None:
            continue
        rows.append(IndexedPublication(
            codigo_pncp=licitacao.codigo_pncp,
            dia=published,
            modalidade_id=licitacao.modalidade_id,
            uf=licitacao.uf[:2],
            situacao_id=licitacao.situacao_id,
            data_encerramento=licitacao.data_encerramento,
            valor_estimado=licitacao.valor_estimado,
            atualizado_pncp=updated.get(licitacao.codigo_pncp, ""),
            licitacao_json=licitacao.model_dump_json(),
            setores=sectors_of(licitacao.objeto, sectors),
        ))
    return rows


def sectors_of(objeto: str, sectors: Mapping[str, Sector]) -> dict[str, list[str]]:
    """Sector id -> its keywords in the objeto, for the sectors it belongs to."""
    text = normalize(objeto)
    found = ((sid, sector_keywords(text, sector.rules)) for sid, sector in sectors.items())
    return {sid: words for sid, words in found if words}


def _updated(record: dict[str, Any]) -> str:
    return str(record.get("dataAtualizacaoGlobal") or record.get("dataAtualizacao") or "")[:32]
