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

from backend.domain.matching import MATCHING_VERSION, SectorsRules, objeto_key, prepare
from backend.domain.sectors import Sector, every_sector
from backend.pncp.records import normalize_records
from backend.store.publications import IndexedPublication


def sector_signature(sector: Sector) -> str:
    """Changes exactly when what decides a match changes: the sector's lists and the way they are
    matched."""
    lists = sector.termos
    spec = json.dumps([MATCHING_VERSION, sorted(lists.palavras_chave), sorted(lists.genericas),
                       sorted(lists.contexto), sorted(lists.ignorar), sorted(lists.exclusoes)],
                      ensure_ascii=False)
    return hashlib.sha256(spec.encode()).hexdigest()[:32]


def index_rows(records: Iterable[dict[str, Any]], sectors: Mapping[str, Sector],
               *, day: date | None = None) -> list[IndexedPublication]:
    """The records as index rows (deduplicated, the latest update winning). A record without a
    publication date is filed under `day`, the day its slice was read for, or left out."""
    rows: list[IndexedPublication] = []
    rules = every_sector(sectors)
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
            **sectors_of(licitacao.objeto, rules),
        ))
    return rows


def sectors_of(objeto: str, rules: SectorsRules) -> dict[str, Any]:
    """What the index keeps of the sectors' reading of an objeto: `setores`, sector id -> its
    terms found, for the sectors it belongs to; `duvidas`, sector id -> why its rules doubt, for
    the sectors that leave it to the arbiter; `chave`, what the arbiter's verdict is kept by."""
    text = prepare(objeto)
    readings = rules.read(text)
    return {
        "setores": {sid: reading.found for sid, reading in readings.items() if reading.found},
        "duvidas": {sid: reading.doubtful for sid, reading in readings.items() if reading.doubtful},
        "chave": objeto_key(text),
    }


def _updated(record: dict[str, Any]) -> str:
    return str(record.get("dataAtualizacaoGlobal") or record.get("dataAtualizacao") or "")[:32]
