"""Business sectors a search can target: `sectors.yaml`, and each one's terms in `lexicons/<id>.yaml`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path

import yaml

from backend.domain.matching import SectorLists, SectorRules, SectorsRules

SECTORS_FILE = Path(__file__).with_name("sectors.yaml")
_LISTS = tuple(f.name for f in fields(SectorLists))


@dataclass(frozen=True, slots=True, eq=False)
class Sector:
    id: str
    nome: str
    descricao: str
    termos: SectorLists
    valor_minimo: float | None
    valor_maximo: float | None
    rules: SectorRules


def read_terms(path: Path) -> SectorLists:
    """A sector's term lists (`lexicons/<id>.yaml`)."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    unknown = set(raw) - set(_LISTS)
    if unknown:
        raise ValueError(f"{path.name}: unknown lists {sorted(unknown)}")
    return SectorLists(**{name: tuple(str(term) for term in raw.get(name) or ()) for name in _LISTS})


def load_sectors(path: Path = SECTORS_FILE) -> dict[str, Sector]:
    """Sectors by id, with their matchers compiled once."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    sectors: dict[str, Sector] = {}
    for entry in raw["setores"]:
        lists = read_terms(path.parent / "lexicons" / f"{entry['id']}.yaml")
        sector = Sector(
            id=entry["id"],
            nome=entry["nome"],
            descricao=entry["descricao"],
            termos=lists,
            valor_minimo=entry.get("valor_minimo"),
            valor_maximo=entry.get("valor_maximo"),
            rules=SectorRules.build(lists),
        )
        if sector.id in sectors:
            raise ValueError(f"duplicate sector id {sector.id!r} in {path.name}")
        sectors[sector.id] = sector
    return sectors


def read_boundaries(path: Path = SECTORS_FILE) -> tuple[str, ...]:
    """Where each kind of tender belongs (`fronteiras` of `sectors.yaml`), in Portuguese."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return tuple(str(line) for line in raw.get("fronteiras") or ())


@lru_cache(maxsize=8)
def _every_sector(sectors: tuple[Sector, ...]) -> SectorsRules:
    return SectorsRules.build({sector.id: sector.termos for sector in sectors})


def every_sector(sectors: Mapping[str, Sector]) -> SectorsRules:
    """All the sectors in one matcher (compiled once per set of sectors)."""
    return _every_sector(tuple(sectors.values()))
