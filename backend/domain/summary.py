"""The summary of a search computed from its data alone: the facts (counts, totals, what closes
soon) that the LLM's summary also takes its numbers from, and `gerar_resumo_fallback`, which never
fails. Pure: data in, data out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from backend.codes import now_brasilia
from backend.domain.formatting import formatar_data, formatar_moeda
from backend.schemas import Licitacao, ResumoLicitacoes

OBJETO_MAX_CHARS = 160
MAX_DESTAQUES = 5
URGENCIA = timedelta(days=3)


# ------------------------------------------------------------------------------------------
# Formatting
# ------------------------------------------------------------------------------------------


def _data_hora(momento: datetime) -> str:
    """dd/mm/aaaa às HH:MM, for running text."""
    return momento.strftime("%d/%m/%Y às %H:%M")


def truncar(texto: str, limite: int = OBJETO_MAX_CHARS) -> str:
    """Whitespace collapsed; cut at a word boundary with an ellipsis when longer than `limite`."""
    texto = " ".join(texto.split())
    if len(texto) <= limite:
        return texto
    corte = texto[: limite - 1]
    espaco = corte.rfind(" ")
    if espaco >= limite // 2:
        corte = corte[:espaco]
    return corte.rstrip(" ,;:.-") + "…"


def _plural(n: int, singular: str, plural: str) -> str:
    return singular if n == 1 else plural


def local(lic: Licitacao) -> str:
    return f"{lic.uf} - {lic.municipio}" if lic.municipio else lic.uf


# ------------------------------------------------------------------------------------------
# Facts computed from the data (shared by the prompt, the LLM result and the fallback)
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fatos:
    total: int
    valor_total: float
    com_valor: int
    sigilosos: int
    por_uf: list[tuple[str, int]]  # most opportunities first, ties by UF
    proximas: list[Licitacao]  # still open (closing at or after now), nearest first
    urgentes: list[Licitacao]  # closing within URGENCIA of now, nearest first
    maiores: list[Licitacao]  # known values, largest first

    @property
    def ufs(self) -> list[str]:
        return [uf for uf, _ in self.por_uf]


def fatos_de(licitacoes: Sequence[Licitacao], now: datetime) -> Fatos:
    valores = [lic.valor_estimado for lic in licitacoes if lic.valor_estimado is not None]
    contagem = Counter(lic.uf for lic in licitacoes if lic.uf)
    por_uf = sorted(contagem.items(), key=lambda item: (-item[1], item[0]))
    proximas = sorted(
        (lic for lic in licitacoes if lic.data_encerramento is not None and lic.data_encerramento >= now),
        key=lambda lic: lic.data_encerramento,  # type: ignore[arg-type, return-value]
    )
    limite = now + URGENCIA
    urgentes = [lic for lic in proximas if lic.data_encerramento <= limite]  # type: ignore[operator]
    maiores = sorted(
        (lic for lic in licitacoes if lic.valor_estimado is not None),
        key=lambda lic: -lic.valor_estimado,  # type: ignore[operator]
    )
    return Fatos(
        total=len(licitacoes),
        valor_total=round(sum(valores), 2),
        com_valor=len(valores),
        sigilosos=len(licitacoes) - len(valores),
        por_uf=por_uf,
        proximas=proximas,
        urgentes=urgentes,
        maiores=maiores,
    )


def ufs_texto(por_uf: list[tuple[str, int]], limite: int = 5) -> str:
    partes = [f"{uf} ({n})" for uf, n in por_uf[:limite]]
    resto = len(por_uf) - limite
    if resto > 0:
        partes.append(f"mais {resto} {_plural(resto, 'UF', 'UFs')}")
    return ", ".join(partes)


def alerta_de_urgencia(fatos: Fatos) -> str | None:
    if not fatos.urgentes:
        return None
    n = len(fatos.urgentes)
    primeira = fatos.urgentes[0]
    quando = _data_hora(primeira.data_encerramento)  # type: ignore[arg-type]
    qual = f'"{truncar(primeira.objeto, 90)}" ({primeira.orgao}, {primeira.uf})'
    if n == 1:
        return f"Atenção: 1 licitação encerra propostas nos próximos 3 dias: {qual}, em {quando}."
    return (
        f"Atenção: {n} licitações encerram propostas nos próximos 3 dias. A mais próxima, {qual}, encerra em {quando}."
    )


# ------------------------------------------------------------------------------------------
# Fallback: pure, from the data
# ------------------------------------------------------------------------------------------


def gerar_resumo_fallback(
    licitacoes: Sequence[Licitacao], sector_name: str, *, now: datetime | None = None
) -> ResumoLicitacoes:
    """A summary computed from the data alone, in Portuguese. Never fails; `origem="fallback"`.

    `now` is naive Brasília time (default `now_brasilia()`), like the dates of a `Licitacao`.
    """
    now = now or now_brasilia()
    fatos = fatos_de(licitacoes, now)
    if fatos.total == 0:
        return ResumoLicitacoes(
            resumo_executivo=(
                f"Nenhuma licitação encontrada para o setor {sector_name} com os filtros escolhidos. "
                "Amplie o período de publicação ou as UFs da busca para encontrar mais oportunidades."
            ),
            total_oportunidades=0,
            valor_total=0.0,
            destaques=[],
            alerta_urgencia=None,
            origem="fallback",
        )

    n = fatos.total
    n_ufs = len(fatos.por_uf)
    frases = [
        f"Encontramos {n} {_plural(n, 'licitação', 'licitações')} no setor {sector_name}, "
        f"em {n_ufs} {_plural(n_ufs, 'UF', 'UFs')}" + (f" ({', '.join(fatos.ufs)})" if 0 < n_ufs <= 3 else "") + "."
    ]
    if fatos.com_valor == 0:
        frases.append("O valor estimado é sigiloso." if n == 1 else "Todas têm valor estimado sigiloso.")
    else:
        frase = f"O valor estimado conhecido soma {formatar_moeda(fatos.valor_total)}"
        if fatos.sigilosos:
            frase += (
                f", sem contar {fatos.sigilosos} "
                f"{_plural(fatos.sigilosos, 'licitação', 'licitações')} com valor sigiloso"
            )
        frases.append(frase + ".")
    if fatos.proximas:
        frases.append(
            f"A próxima a encerrar propostas fecha em {_data_hora(fatos.proximas[0].data_encerramento)}."  # type: ignore[arg-type]
        )

    destaques: list[str] = []
    for posicao, lic in enumerate(fatos.maiores[:2]):
        rotulo = "Maior valor" if posicao == 0 else "Segundo maior valor"
        destaques.append(
            f"{rotulo}: {formatar_moeda(lic.valor_estimado)} - "  # type: ignore[arg-type]
            f"{truncar(lic.objeto, 100)} ({lic.orgao}, {lic.uf})."
        )
    for lic in fatos.proximas[:2]:
        destaques.append(
            f"Encerra em {formatar_data(lic.data_encerramento)}: "  # type: ignore[arg-type]
            f"{truncar(lic.objeto, 100)} ({lic.orgao}, {lic.uf})."
        )
    if fatos.por_uf:
        destaques.append(f"UFs com mais oportunidades: {ufs_texto(fatos.por_uf, 3)}.")

    return ResumoLicitacoes(
        resumo_executivo=" ".join(frases),
        total_oportunidades=n,
        valor_total=fatos.valor_total,
        destaques=destaques[:MAX_DESTAQUES],
        alerta_urgencia=alerta_de_urgencia(fatos),
        origem="fallback",
    )
