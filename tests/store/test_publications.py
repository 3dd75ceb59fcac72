"""The index's tables on SQLite and PostgreSQL: writing, coverage, candidates, sectors, pruning."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import anyio
import pytest

from backend.codes import now_brasilia
from backend.domain.matching import SectorRules, prepare, sector_keywords
from backend.domain.sectors import load_sectors
from backend.index.publications import index_rows, sector_signature
from backend.schemas import LICITACOES
from backend.store.publications import NATIONAL, PublicationStore, Slice
from backend.store.search_cache import SearchCache
from tests.records import pncp_record

SECTORS = load_sectors()
DAY = date(2026, 11, 20)
NOON = datetime(2026, 11, 20, 12, 0)


async def count(store: PublicationStore, ufs: list[str], modalidades: list[int], first: date, last: date) -> int:
    """Publications of the period, all UFs together."""
    return sum((await store.counts_by_uf(ufs, modalidades, first, last)).values())


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[PublicationStore]:
    cache = SearchCache.from_url(database_url)
    await cache.migrate()
    yield PublicationStore(cache.engine)
    await cache.close()


def rows(*records: dict) -> list:
    return index_rows(list(records), SECTORS)


async def test_a_newer_copy_replaces_a_row_and_an_older_one_does_not(store: PublicationStore) -> None:
    first = pncp_record("Licença de software de gestão", publicado=NOON, atualizado="2026-11-20T12:00:00")
    newer = first | {"situacaoCompraId": 2, "situacaoCompraNome": "Revogada",
                     "dataAtualizacaoGlobal": "2026-11-22T09:00:00"}
    await store.write(rows(first))
    await store.write(rows(newer))
    await store.write(rows(first))  # a stale page read late
    [(stored_json, _, _)] = await store.candidates("software", ["SP"], [6], DAY, DAY)
    stored = LICITACOES.validate_json(f"[{stored_json}]")[0]
    assert stored.situacao == "Revogada"
    assert await count(store, ["SP"], [6], DAY, DAY) == 1


async def test_candidates_are_the_publications_that_mention_the_sector(store: PublicationStore) -> None:
    software = pncp_record("Licenciamento de software de gestão", publicado=NOON)
    cadeiras = pncp_record("Aquisição de cadeiras e mesas", publicado=NOON)
    rj = pncp_record("Sistema de software para a saúde", uf="RJ", publicado=NOON)
    await store.write(rows(software, cadeiras, rj))
    assert len(await store.candidates("software", ["SP"], [6], DAY, DAY)) == 1
    assert len(await store.candidates("software", ["SP", "RJ"], [6], DAY, DAY)) == 2
    assert len(await store.candidates("software", ["SP"], [4], DAY, DAY)) == 0
    assert len(await store.candidates(None, ["SP"], [6], DAY, DAY)) == 2  # every row of the period
    assert await count(store, ["SP", "RJ"], [6], DAY, DAY) == 3


async def test_an_incomplete_read_never_undoes_a_complete_one(store: PublicationStore) -> None:
    slices = [Slice(6, DAY), Slice(6, DAY, "SP")]
    read_at = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
    await store.mark_read(slices, started_at=read_at, complete=True, records=7)
    await store.mark_read(slices, started_at=read_at + timedelta(hours=1), complete=False, records=0,
                          error="página 2: o PNCP limitou o número de consultas (HTTP 429)")
    states = {s.slice: s for s in await store.slice_states([6], DAY, DAY)}
    assert set(states) == set(slices)
    assert all(s.completo and s.lido_em == read_at for s in states.values())
    await store.mark_read([Slice(4, DAY)], started_at=read_at, complete=False, records=0, error="x")
    [partial] = [s for s in await store.slice_states([4], DAY, DAY)]
    assert not partial.completo and partial.lido_em is None


async def test_a_sector_whose_keywords_changed_is_matched_again_from_the_stored_rows(store: PublicationStore) -> None:
    zeppelin = pncp_record("Aquisição de zepelins para a frota aérea", publicado=NOON)
    await store.write(rows(zeppelin))
    assert await store.candidates("software", ["SP"], [6], DAY, DAY) == []
    sector = SECTORS["software"]
    lists = replace(sector.termos, palavras_chave=(*sector.termos.palavras_chave, "zepelim"))
    changed = replace(sector, termos=lists, rules=SectorRules.build(lists))

    async def keywords(stored: list[str]) -> list[tuple[list[str], list[str], str]]:
        found = await anyio.to_thread.run_sync(lambda: LICITACOES.validate_json("[" + ",".join(stored) + "]"))
        return [(sector_keywords(prepare(lic.objeto), changed.rules), [], "") for lic in found]

    assert await store.rematch_sector("software", sector_signature(changed), keywords) == 1
    assert [c.palavras for c in await store.candidates("software", ["SP"], [6], DAY, DAY)] == ['["zepelim"]']
    assert (await store.sector_signatures())["software"] == sector_signature(changed) != sector_signature(sector)


async def test_days_that_left_the_window_go_unless_a_search_read_them_lately(store: PublicationStore) -> None:
    old, kept, inside = DAY - timedelta(days=40), DAY - timedelta(days=41), DAY
    await store.write(rows(*(pncp_record(f"Software {d}", publicado=datetime.combine(d, NOON.time()))
                             for d in (old, kept, inside))))
    now = datetime.now(UTC)
    await store.mark_read([Slice(6, old, NATIONAL)], started_at=now - timedelta(days=2), complete=True, records=1)
    await store.mark_read([Slice(6, kept, "SP")], started_at=now - timedelta(hours=1), complete=True, records=1)
    removed = await store.prune(before=DAY - timedelta(days=29), read_before=now - timedelta(hours=24), now=now_brasilia())
    assert removed == 1
    assert await count(store, ["SP"], [6], old, old) == 0
    assert await count(store, ["SP"], [6], kept, kept) == 1 and await count(store, ["SP"], [6], inside, inside) == 1
    assert [s.slice for s in await store.slice_states([6], kept, old)] == [Slice(6, kept, "SP")]
    assert await store.candidates("software", ["SP"], [6], old, old) == []


async def test_an_older_copy_leaves_the_sector_matches_of_the_newer_one(store: PublicationStore) -> None:
    newer = pncp_record("Licença de software de gestão", publicado=NOON, atualizado="2026-11-22T09:00:00")
    older = newer | {"objetoCompra": "Aquisição de cadeiras", "dataAtualizacaoGlobal": "2026-11-20T12:00:00"}
    await store.write(rows(newer))
    await store.write(rows(older))  # a page read late: its row and its matches both stay the newer's
    assert len(await store.candidates("software", ["SP"], [6], DAY, DAY)) == 1


async def test_a_complete_read_removes_what_pncp_no_longer_lists(store: PublicationStore) -> None:
    kept, gone = (pncp_record(f"Software {n}", publicado=NOON) for n in (1, 2))
    other_uf = pncp_record("Software 3", uf="RJ", publicado=NOON)
    await store.write(rows(kept, gone, other_uf))
    removed = await store.keep_only(6, DAY, DAY, "SP", {kept["numeroControlePNCP"]})
    assert removed == 1
    assert await count(store, ["SP"], [6], DAY, DAY) == 1 and await count(store, ["RJ"], [6], DAY, DAY) == 1
    assert len(await store.candidates("software", ["SP", "RJ"], [6], DAY, DAY)) == 2


async def test_rematching_over_matches_a_write_already_made_does_not_fail(store: PublicationStore) -> None:
    await store.write(rows(pncp_record("Licença de software de gestão", publicado=NOON)))
    sector = SECTORS["software"]

    async def keywords(stored: list[str]) -> list[tuple[list[str], list[str], str]]:
        return [(["software"], [], "")] * len(stored)

    assert await store.rematch_sector("software", sector_signature(sector), keywords) == 1
    assert len(await store.candidates("software", ["SP"], [6], DAY, DAY)) == 1


async def test_a_day_outside_the_window_being_read_is_not_pruned_under_the_read(store: PublicationStore) -> None:
    old = DAY - timedelta(days=40)
    now = datetime.now(UTC)
    await store.mark_read([Slice(6, old, "SP")], started_at=now, complete=False, records=0)  # the read begins
    await store.write(rows(pncp_record("Software", publicado=datetime.combine(old, NOON.time()))))
    assert await store.prune(before=DAY - timedelta(days=29), read_before=now - timedelta(hours=24), now=now_brasilia()) == 0
    assert await count(store, ["SP"], [6], old, old) == 1


async def test_every_uf_at_once_counts_what_each_uf_counts(store: PublicationStore) -> None:
    from backend.codes import UFS

    await store.write(rows(*(pncp_record(f"Software {uf}", uf=uf, publicado=NOON) for uf in ("SP", "RJ", "AC"))))
    every = sorted(UFS)
    assert await count(store, every, [6], DAY, DAY) == 3 == sum([await count(store, [uf], [6], DAY, DAY) for uf in every])
    assert len(await store.candidates("software", every, [6], DAY, DAY)) == 3
    assert len(await store.candidates(None, every, [6], DAY, DAY)) == 3


def test_a_change_to_any_list_of_a_sector_changes_its_signature() -> None:
    sector = SECTORS["transporte"]
    signatures = {sector_signature(sector)}
    for name in ("palavras_chave", "genericas", "contexto", "ignorar", "exclusoes"):
        lists = replace(sector.termos, **{name: (*getattr(sector.termos, name), "zepelim")})
        signatures.add(sector_signature(replace(sector, termos=lists)))
    assert len(signatures) == 6
