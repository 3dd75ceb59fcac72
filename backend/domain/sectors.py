"""Business sectors a search can target, read from `sectors.yaml`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from backend.domain.filtering import SectorRules, TermMatcher

SECTORS_FILE = Path(__file__).with_name("sectors.yaml")


@dataclass(frozen=True, slots=True)
class Sector:
    id: str
    nome: str
    descricao: str
    palavras_chave: tuple[str, ...]
    exclusoes: tuple[str, ...]
    valor_minimo: float | None
    valor_maximo: float | None
    rules: SectorRules


def load_sectors(path: Path = SECTORS_FILE) -> dict[str, Sector]:
    """Sectors by id, with their matchers compiled once."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    sectors: dict[str, Sector] = {}
    for entry in raw["setores"]:
        keywords = tuple(entry["palavras_chave"])
        exclusions = tuple(entry.get("exclusoes") or ())
        sector = Sector(
            id=entry["id"],
            nome=entry["nome"],
            descricao=entry["descricao"],
            palavras_chave=keywords,
            exclusoes=exclusions,
            valor_minimo=entry.get("valor_minimo"),
            valor_maximo=entry.get("valor_maximo"),
            rules=SectorRules(keywords=TermMatcher.build(keywords), exclusions=TermMatcher.build(exclusions)),
        )
        if sector.id in sectors:
            raise ValueError(f"duplicate sector id {sector.id!r} in {path.name}")
        sectors[sector.id] = sector
    return sectors
