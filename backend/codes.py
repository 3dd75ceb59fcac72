"""Fixed code tables of PNCP and IBGE, the search's limits, and Brasília time.

The page gets these tables from here: `backend/page_codes.py` writes them into
`frontend/src/codes.generated.ts` (a test fails while that file is stale).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

BRASILIA = ZoneInfo("America/Sao_Paulo")

UFS: dict[str, str] = {
    "AC": "Acre", "AL": "Alagoas", "AP": "Amapá", "AM": "Amazonas", "BA": "Bahia",
    "CE": "Ceará", "DF": "Distrito Federal", "ES": "Espírito Santo", "GO": "Goiás",
    "MA": "Maranhão", "MT": "Mato Grosso", "MS": "Mato Grosso do Sul", "MG": "Minas Gerais",
    "PA": "Pará", "PB": "Paraíba", "PR": "Paraná", "PE": "Pernambuco", "PI": "Piauí",
    "RJ": "Rio de Janeiro", "RN": "Rio Grande do Norte", "RS": "Rio Grande do Sul",
    "RO": "Rondônia", "RR": "Roraima", "SC": "Santa Catarina", "SP": "São Paulo",
    "SE": "Sergipe", "TO": "Tocantins",
}

# The five regions of IBGE and their UFs (every UF in exactly one); the page's picker shortcuts.
REGIOES: dict[str, tuple[str, ...]] = {
    "Norte": ("AC", "AP", "AM", "PA", "RO", "RR", "TO"),
    "Nordeste": ("AL", "BA", "CE", "MA", "PB", "PE", "PI", "RN", "SE"),
    "Centro-Oeste": ("DF", "GO", "MT", "MS"),
    "Sudeste": ("ES", "MG", "RJ", "SP"),
    "Sul": ("PR", "RS", "SC"),
}

MODALIDADES: dict[int, str] = {
    1: "Leilão - Eletrônico",
    2: "Diálogo Competitivo",
    3: "Concurso",
    4: "Concorrência - Eletrônica",
    5: "Concorrência - Presencial",
    6: "Pregão - Eletrônico",
    7: "Pregão - Presencial",
    8: "Dispensa",
    9: "Inexigibilidade",
    10: "Manifestação de Interesse",
    11: "Pré-qualificação",
    12: "Credenciamento",
    13: "Leilão - Presencial",
}

# Competitive modalidades a supplier bids in; searched when the request names none.
DEFAULT_MODALIDADES: tuple[int, ...] = (4, 5, 6, 7)

# At most this many days between data_inicial and data_final of one search.
MAX_WINDOW_DAYS = 365

SITUACAO_DIVULGADA = 1  # 2 Revogada, 3 Anulada, 4 Suspensa: no longer open to proposals


Clock = Callable[[], datetime]
"""What time it is, as an aware UTC datetime: the system's (`system_clock`), or one a test gives
the service (`create_app(settings, clock=...)`), so that every date it derives moves with it."""


def system_clock() -> datetime:
    return datetime.now(UTC)


def now_brasilia(clock: Clock = system_clock) -> datetime:
    """Brasília wall-clock time without offset, comparable with PNCP's dates."""
    return clock().astimezone(BRASILIA).replace(tzinfo=None)


def today_brasilia(clock: Clock = system_clock) -> date:
    """Brasília's calendar day: PNCP publishes by it, whatever the machine's time zone."""
    return now_brasilia(clock).date()


def latest_publication_day(clock: Clock = system_clock) -> date:
    """The last day a search may name: tomorrow in Brasília (a client a few hours ahead of
    Brasília, on UTC, already says tomorrow); nothing is published on it yet."""
    return today_brasilia(clock) + timedelta(days=1)
