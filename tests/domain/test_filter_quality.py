"""How well each sector's keywords and exclusions classify a hand-labelled set of PNCP objetos.

The labels in tests/data/objetos_rotulados.yaml say which sectors a supplier would want each
text in; they are not tuned to the keywords. When a sector falls below the thresholds, fix its
keywords or exclusions in backend/sectors.yaml. Run with -s to see the table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import pytest
import yaml

from backend.codes import MODALIDADES, UFS
from backend.domain.filtering import Criteria, match_licitacao, normalize
from backend.domain.sectors import Sector, load_sectors
from backend.schemas import Licitacao

LABELLED_FILE = Path(__file__).parent / "data" / "objetos_rotulados.yaml"
MIN_ITEMS = 240
MIN_POSITIVES = 10
MIN_PRECISION = 0.9
MIN_RECALL = 0.9
REQUIRED_SECTORS = {
    "vestuario", "alimentos", "hardware_ti", "software", "mobiliario", "material_escritorio",
    "limpeza", "saude", "seguranca", "transporte", "manutencao_predial", "material_eletrico",
}

# Everything passes but the text: the quality measured is the keyword matching alone.
PERMISSIVE = Criteria(
    ufs=frozenset(UFS),
    modalidades=frozenset(MODALIDADES),
    data_inicial=date(2000, 1, 1),
    data_final=date(2100, 1, 1),
    now=datetime(2025, 1, 1),
    somente_abertas=False,
)


@dataclass
class Score:
    sector: str
    tp: int = 0
    fp: int = 0
    fn: int = 0
    false_positives: list[str] = field(default_factory=list)
    false_negatives: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def ok(self) -> bool:
        return (
            self.tp + self.fn >= MIN_POSITIVES
            and self.precision >= MIN_PRECISION
            and self.recall >= MIN_RECALL
        )


@pytest.fixture(scope="module")
def sectors() -> dict[str, Sector]:
    return load_sectors()


@pytest.fixture(scope="module")
def items() -> list[dict]:
    return yaml.safe_load(LABELLED_FILE.read_text(encoding="utf-8"))["itens"]


def _licitacao(index: int, objeto: str) -> Licitacao:
    return Licitacao(
        codigo_pncp=f"00000000000000-1-{index:06d}/2025",
        objeto=objeto,
        orgao="Município de Teste",
        uf="SP",
        modalidade="Pregão - Eletrônico",
        modalidade_id=6,
        situacao="Divulgada no PNCP",
        situacao_id=1,
        link="https://pncp.gov.br/",
    )


def score_sectors(sectors: dict[str, Sector], items: list[dict]) -> list[Score]:
    licitacoes = [_licitacao(i, item["objeto"]) for i, item in enumerate(items)]
    scores = []
    for sector_id, sector in sectors.items():
        score = Score(sector_id)
        for item, licitacao in zip(items, licitacoes, strict=True):
            predicted = match_licitacao(licitacao, sector.rules, PERMISSIVE) is not None
            labelled = sector_id in item["setores"]
            if predicted and labelled:
                score.tp += 1
            elif predicted:
                score.fp += 1
                score.false_positives.append(item["objeto"])
            elif labelled:
                score.fn += 1
                score.false_negatives.append(item["objeto"])
        scores.append(score)
    return scores


def format_table(scores: list[Score]) -> str:
    lines = [f"{'setor':<20} {'tp':>4} {'fp':>4} {'fn':>4} {'precisão':>9} {'recall':>7}"]
    for s in scores:
        flag = "" if s.ok else "  <-- abaixo do mínimo"
        lines.append(
            f"{s.sector:<20} {s.tp:>4} {s.fp:>4} {s.fn:>4} {s.precision:>9.2f} {s.recall:>7.2f}{flag}"
        )
    for s in scores:
        lines += [f"  FP {s.sector}: {text}" for text in s.false_positives]
        lines += [f"  FN {s.sector}: {text}" for text in s.false_negatives]
    return "\n".join(lines)


def test_labelled_set_is_large_and_well_formed(items: list[dict]) -> None:
    assert len(items) >= MIN_ITEMS, f"only {len(items)} labelled items, want {MIN_ITEMS}"
    for item in items:
        assert isinstance(item["objeto"], str) and item["objeto"].strip(), item
        assert isinstance(item["setores"], list), item
        assert len(set(item["setores"])) == len(item["setores"]), item
    texts = [normalize(item["objeto"]) for item in items]
    duplicates = {t for t in texts if texts.count(t) > 1}
    assert not duplicates, f"duplicated objetos: {duplicates}"
    assert any(not item["setores"] for item in items), "the set needs texts of no sector"


def test_labels_name_existing_sectors(sectors: dict[str, Sector], items: list[dict]) -> None:
    unknown = {s for item in items for s in item["setores"]} - set(sectors)
    assert not unknown, f"labels name unknown sectors: {sorted(unknown)}"


def test_sector_definitions(sectors: dict[str, Sector]) -> None:
    assert REQUIRED_SECTORS <= set(sectors), f"missing: {sorted(REQUIRED_SECTORS - set(sectors))}"
    for sector in sectors.values():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", sector.id), sector.id
        assert sector.nome.strip() and len(sector.descricao) >= 40, sector.id
        assert sector.valor_minimo is not None and sector.valor_maximo is not None, sector.id
        assert 0 < sector.valor_minimo < sector.valor_maximo, sector.id
        keywords = [normalize(k.rstrip("*")) for k in sector.palavras_chave]
        exclusions = [normalize(k.rstrip("*")) for k in sector.exclusoes]
        assert len(keywords) >= 10, f"{sector.id}: too few keywords"
        assert len(set(keywords)) == len(keywords), f"{sector.id}: duplicated keywords"
        assert len(set(exclusions)) == len(exclusions), f"{sector.id}: duplicated exclusions"
        assert not set(keywords) & set(exclusions), f"{sector.id}: a term is keyword and exclusion"


def test_each_sector_classifies_the_labelled_set_well(
    sectors: dict[str, Sector], items: list[dict]
) -> None:
    scores = score_sectors(sectors, items)
    table = format_table(scores)
    print(f"\n{len(items)} objetos rotulados\n{table}")
    few = [s.sector for s in scores if s.tp + s.fn < MIN_POSITIVES]
    weak = [s.sector for s in scores if s.precision < MIN_PRECISION or s.recall < MIN_RECALL]
    assert not few and not weak, (
        f"fewer than {MIN_POSITIVES} positive examples: {few}; "
        f"precision or recall below {MIN_PRECISION}/{MIN_RECALL}: {weak}\n{table}"
    )
