"""How well each sector's rules classify the labelled objetos (`tests/relevance.py`).

A sector falling below the precision or recall it reached (`levels.yaml`) fails the test: fix its
terms in backend/domain/lexicons/<id>.yaml. `python -m bench.relevance` prints the whole table.
"""

from __future__ import annotations

import re

import pytest

from backend.domain.matching import NOT_IN, prepare
from backend.domain.sectors import Sector, every_sector, load_sectors
from backend.domain.words import normalize
from tests.relevance import CLASSES, PARTS, Labelled, Score, load, read_levels, score

REQUIRED_SECTORS = {
    "vestuario", "alimentos", "hardware_ti", "software", "mobiliario", "material_escritorio",
    "limpeza", "saude", "seguranca", "transporte", "manutencao_predial", "material_eletrico",
}


@pytest.fixture(scope="module")
def sectors() -> dict[str, Sector]:
    return load_sectors()


@pytest.fixture(scope="module")
def parts() -> dict[str, list[Labelled]]:
    return {part: load(part) for part in PARTS}


def classify(sectors: dict[str, Sector]):
    def sectors_of(objeto: str) -> list[str]:
        text = prepare(objeto)
        return [sid for sid, sector in sectors.items() if sector.rules.read(text).found]
    return sectors_of


def _identity(term: str) -> tuple[str, bool]:
    """A term as the matching sees it: its words, and whether it is a phrase in quotes."""
    term = term.strip()
    return normalize(term), len(term) > 2 and term[0] == term[-1] == '"'


def test_the_labelled_set_is_large_varied_and_well_formed(parts: dict[str, list[Labelled]]) -> None:
    items = [item for part in parts.values() for item in part]
    assert len(items) >= 2_000 and len(parts["held_out"]) >= 500
    texts = [normalize(item.objeto) for item in items]
    assert len(set(texts)) == len(texts), "an objeto is labelled twice (or in both parts)"
    for item in items:
        assert item.objeto.strip() and item.classe in (*CLASSES, "-"), item
        assert not item.setores & item.limitrofe, item
    for part, labelled in parts.items():
        positives = {sector: sum(sector in i.setores for i in labelled) for sector in REQUIRED_SECTORS}
        assert min(positives.values()) >= 40, (part, positives)
        classes = {i.classe for i in labelled}
        assert set(CLASSES) <= classes, (part, classes)
        assert sum(not i.setores for i in labelled) >= len(labelled) // 10, f"{part}: too few of no sector"


def test_labels_name_existing_sectors(sectors: dict[str, Sector], parts: dict[str, list[Labelled]]) -> None:
    named = {s for part in parts.values() for i in part for s in i.setores | i.limitrofe}
    assert named <= set(sectors), sorted(named - set(sectors))


def test_sector_definitions(sectors: dict[str, Sector]) -> None:
    assert REQUIRED_SECTORS <= set(sectors), f"missing: {sorted(REQUIRED_SECTORS - set(sectors))}"
    for sector in sectors.values():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", sector.id), sector.id
        assert sector.nome.strip() and len(sector.descricao) >= 40, sector.id
        assert sector.valor_minimo is not None and sector.valor_maximo is not None, sector.id
        assert 0 < sector.valor_minimo < sector.valor_maximo, sector.id
        terms = sector.termos
        keywords = [_identity(k) for k in terms.palavras_chave]
        assert len(keywords) >= 10, f"{sector.id}: too few keywords"
        assert len(set(keywords)) == len(keywords), f"{sector.id}: a keyword is listed twice"
        lists = [set(map(_identity, listed)) for listed in
                 (terms.palavras_chave, terms.genericas, terms.contexto, terms.exclusoes)]
        for i, one in enumerate(lists):
            for other in lists[i + 1:]:
                assert not one & other, f"{sector.id}: {sorted(one & other)} in two lists"


@pytest.mark.parametrize("part", PARTS)
def test_no_sector_falls_below_the_level_it_reached(sectors: dict[str, Sector],
                                                   parts: dict[str, list[Labelled]], part: str) -> None:
    scores: dict[str, Score] = score(parts[part], sectors, classify(sectors))
    levels = read_levels()[part]
    table = "\n".join(f"{sector:<20} P {s.precision:.3f} (>= {levels[sector]['precisao']:.2f})  "
                      f"R {s.recall:.3f} (>= {levels[sector]['recall']:.2f})" for sector, s in scores.items())
    print(f"\n{part}: {len(parts[part])} objetos\n{table}")
    fallen = [sector for sector, s in scores.items()
              if s.precision < levels[sector]["precisao"] or s.recall < levels[sector]["recall"]]
    assert not fallen, f"{part}: below the level reached: {fallen}\n{table}"


def test_every_sector_at_once_reads_each_objeto_as_each_sector_alone(sectors: dict[str, Sector],
                                                                     parts: dict[str, list[Labelled]]) -> None:
    """The index reads publications with all the sectors in one matcher; searches that read the
    text read it one sector at a time. Both must say the same, terms in the same order."""
    together = every_sector(sectors)
    for item in (item for part in parts.values() for item in part):
        text = prepare(item.objeto)
        readings = together.read(text)
        for sid, sector in sectors.items():
            assert readings.get(sid, NOT_IN) == sector.rules.read(text), (sid, item.objeto)


# One objeto for each kind of mistake plain keywords made on real PNCP records: (objeto, the
# sectors it belongs to, sectors it must not be in).
FAILURE_CLASSES = [
    # the item named without the sector's word
    ("Aquisição de fios cirúrgicos de seda e de nylon para o centro cirúrgico", {"saude"}, set()),
    ("Insumos de Laboratório VII", {"saude"}, set()),
    ("Aquisição de colposcópio binocular com vídeo", {"saude"}, set()),
    ("Aquisição de peças e acessórios para carroceria da frota de articulados", {"transporte"}, set()),
    # word forms, synonyms, words apart or in another order
    ("Aquisição de equipamentos de ultrassonografia diagnóstica para a policlínica", {"saude"}, set()),
    ("Aquisição de material odontológico e laboratorial", {"saude"}, set()),
    ("Locação de viaturas para a Guarda Municipal", {"transporte"}, set()),
    ("Saco plástico para lixo de 100 litros, preto, reforçado", {"limpeza"}, set()),
    ("Toalha de papel interfolhada e papel higiênico", {"limpeza"}, set()),
    ("Contratação de transporte de carga rodoviário de cestas básicas", {"transporte"}, set()),
    # generic words in passing
    ("Aquisição de carro de curativos em aço inox para o hospital", {"saude"}, {"transporte"}),
    ("Fornecimento de água mineral em galões de 20 litros, incluindo o frete", {"alimentos"}, {"transporte"}),
    ("Aquisição de gel lubrificante estéril para procedimentos", {"saude"}, {"transporte"}),
    ("Serviço de limpeza e conservação de ônibus e veículos da frota", set(), {"transporte"}),
    ("Fornecimento de cartão vale-refeição para os servidores", set(), {"alimentos"}),
    ("Aquisição de cilindros de oxigênio e acetileno para solda", set(), {"saude"}),
    # exclusions too broad or too narrow
    ("Locação de veículos com seguro total e quilometragem livre", {"transporte"}, set()),
    ("Contratação de plano privado de assistência à saúde para os servidores", set(), {"saude"}),
    # typos and bare titles
    ("AQUISIÇÃO DE MEDICMENTOS PARA A FARMÁCIA BÁSICA", {"saude"}, set()),
    ("Aquisição de materiais odonrológicos para as UBS", {"saude"}, set()),
    ("Medicamentos do Sistema Nervoso Central - Grupo 4", {"saude"}, set()),
]


@pytest.mark.parametrize(("objeto", "wanted", "unwanted"), FAILURE_CLASSES)
def test_each_kind_of_keyword_mistake_is_read_right(sectors: dict[str, Sector], objeto: str, wanted: set[str],
                                                    unwanted: set[str]) -> None:
    found = set(classify(sectors)(objeto))
    assert wanted <= found and not unwanted & found, found
