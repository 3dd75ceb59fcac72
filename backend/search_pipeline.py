"""One search, stage by stage: validate, fetch, normalise, filter, rank, persist, summary, Excel.

The pipeline decides; the adapters it is handed (`Services`) do the I/O.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any
from uuid import UUID, uuid4

import anyio
import orjson

from backend import keys, reports
from backend.codes import now_brasilia
from backend.domain.filtering import (
    Criteria,
    TermMatcher,
    filter_and_rank,
    match_known,
    mentions_sector,
    rank,
    split_terms,
)
from backend.domain.sectors import Sector
from backend.domain.summary import gerar_resumo_fallback
from backend.index.search import UFRead
from backend.pncp.client import UFResult, describe_failure
from backend.pncp.records import normalize_records
from backend.progress import events
from backend.runtime import metrics
from backend.runtime.logs import log_context
from backend.schemas import LICITACOES, BuscaRequest, BuscaResponse, FalhaUF, Fonte, Licitacao
from backend.services import Services

logger = logging.getLogger(__name__)


class SearchRejected(Exception):
    """The request is well formed but cannot be searched (e.g. an unknown sector)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.message = message


class SearchFailed(Exception):
    """The search itself could not be done; `message` is for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(slots=True)
class SearchContext:
    """State of one search as it moves through the stages."""

    search_id: UUID
    request: BuscaRequest
    sector: Sector
    timings_ms: dict[str, float] = field(default_factory=dict)
    results_json: bytes = b"[]"  # the licitações found, written once: stored, queued and answered as such

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            seconds = time.perf_counter() - started
            self.timings_ms[name] = round(seconds * 1000, 1)
            metrics.STAGE_SECONDS.labels(name).observe(seconds)


def criteria_for(request: BuscaRequest, sector: Sector) -> Criteria:
    """The request's filters; the sector's value range applies when the user gives none."""
    own_range = request.valor_minimo is not None or request.valor_maximo is not None
    return Criteria(
        ufs=frozenset(request.ufs),
        modalidades=frozenset(request.modalidades_efetivas),
        data_inicial=request.data_inicial,
        data_final=request.data_final,
        now=now_brasilia(),
        valor_minimo=request.valor_minimo if own_range else sector.valor_minimo,
        valor_maximo=request.valor_maximo if own_range else sector.valor_maximo,
        somente_abertas=request.somente_abertas,
        terms=TermMatcher.build(split_terms(request.termos_busca)),
    )


@dataclass(slots=True)
class Found:
    """Stage 2's outcome, however it was read: the records still to filter and what went wrong."""

    total_raw: int
    failures: list[FalhaUF]
    notes: list[str]
    fonte: Fonte
    atualizado_em: datetime | None
    records: list[dict[str, Any]] = field(default_factory=list)  # live: PNCP's wire records
    candidates: list[Licitacao] = field(default_factory=list)  # index: normalised, mentioning the sector
    keywords: list[list[str]] | None = None  # index: the sector's keywords in each candidate, when known


def _truncation_note(uf: str, modalidades: list[int], max_pages: int) -> str:
    return (f"{uf}: havia mais de {max_pages * 50} publicações por modalidade "
            f"({', '.join(map(str, modalidades))}); refine o período para ver todas.")


def select_licitacoes(records: list[dict[str, Any]], sector: Sector, criteria: Criteria) -> list[Licitacao]:
    """Stages 3-5 over live records: normalise and dedupe, keep what fits the sector and the criteria, rank."""
    licitacoes = normalize_records(records, objeto_may_match=partial(mentions_sector, rules=sector.rules))
    return filter_and_rank(licitacoes, sector.rules, criteria)


def _select(found: Found, sector: Sector, criteria: Criteria) -> tuple[list[Licitacao], bytes]:
    """Stages 3-5 (the index's candidates are normalised already, their sector keywords found),
    and the licitações kept, written as JSON."""
    if found.records:
        kept = select_licitacoes(found.records, sector, criteria)
    elif found.keywords is None:  # the sector's keywords changed since they were indexed
        kept = filter_and_rank(found.candidates, sector.rules, criteria)
    else:
        known = zip(found.candidates, found.keywords, strict=True)
        kept = rank([lic for lic in (match_known(c, words, criteria) for c, words in known) if lic is not None])
    return kept, LICITACOES.dump_json(kept)


async def run_search(request: BuscaRequest, services: Services) -> BuscaResponse:
    """The whole search, inline: stages 1-7, with progress events; returns the final answer."""
    sector = services.sectors.get(request.setor_id)
    if sector is None:
        raise SearchRejected("setor_id", f"setor desconhecido: {request.setor_id!r}. Consulte GET /v1/setores.")
    days = (request.data_final - request.data_inicial).days + 1
    size, limit = len(request.ufs) * days, services.settings.max_uf_days
    if size > limit:
        raise SearchRejected(
            "ufs", f"busca grande demais: {len(request.ufs)} UFs x {days} dias = {size}, e o limite é {limit}. "
            "Escolha menos UFs ou um período menor.",
        )
    ctx = SearchContext(search_id=request.search_id or uuid4(), request=request, sector=sector)
    with log_context(search_id=str(ctx.search_id)):
        return await _run(ctx, services)


async def _run(ctx: SearchContext, services: Services) -> BuscaResponse:
    await services.progress.emit(str(ctx.search_id), events.connecting_event(ctx.sector.nome, ctx.request.ufs))
    started = time.perf_counter()
    try:
        answer = await _find_licitacoes(ctx, services)
    except SearchFailed as failure:
        await _record_failure(ctx, services, failure.message)
        raise
    except Exception:
        await _record_failure(ctx, services, "Erro interno ao fazer a busca. Tente novamente em instantes.")
        raise
    await _produce_reports(ctx, services, answer)
    logger.info("search answered (%s)", answer.processamento, extra={
        "duration_s": round(time.perf_counter() - started, 3), "total_filtrado": answer.total_filtrado,
        "processamento": answer.processamento,
    })
    return answer


async def _record_failure(ctx: SearchContext, services: Services, message: str) -> None:
    """Tells the user why, on every process; a failure to record it must not hide the first one."""
    try:
        await services.store.save_failure(
            ctx.search_id, request=ctx.request.model_dump(mode="json"), setor_id=ctx.sector.id, erro=message
        )
    except Exception:
        logger.exception("search %s: could not record its failure", ctx.search_id)
    await services.progress.emit(str(ctx.search_id), events.error_event(message))


async def _find_licitacoes(ctx: SearchContext, services: Services) -> BuscaResponse:
    """Stages 1-5 and persistence: the answer the user could see at once."""
    request, sector = ctx.request, ctx.sector
    emit = partial(services.progress.emit, str(ctx.search_id))
    done = 0

    async def uf_read(uf: str, items: int) -> None:
        nonlocal done
        done += 1
        await emit(events.fetching_event(uf, done, len(request.ufs), items))

    with ctx.stage("fetch"):
        found = await (_from_index if services.index is not None else _from_pncp)(ctx, services, uf_read)
    if len(found.failures) == len(request.ufs) and not found.total_raw:
        raise SearchFailed(
            "O PNCP não respondeu para nenhuma das UFs escolhidas. Tente novamente em alguns minutos. "
            + " ".join(f.mensagem for f in found.failures)
        )

    await emit(events.filtering_event(found.total_raw, sector.nome))
    with ctx.stage("filter"):
        # Pure CPU over possibly tens of thousands of records: off the event loop.
        criteria = criteria_for(request, sector)
        matched, ctx.results_json = await anyio.to_thread.run_sync(_select, found, sector, criteria)
    found.records.clear()  # PNCP's records weigh ~5 KB each; only the matches go on (peak memory)
    with ctx.stage("persist"):
        await services.store.save_results(
            ctx.search_id,
            request=request.model_dump(mode="json"),
            setor_id=sector.id,
            total_raw=found.total_raw,
            licitacoes=matched,
            ufs_com_falha=found.failures,
            avisos=found.notes,
            fonte=found.fonte,
            atualizado_em=found.atualizado_em,
            licitacoes_json=ctx.results_json,
        )
    await emit(events.results_ready_event(len(matched)))
    logger.info(
        "search %s: %d raw (%s), %d kept, %d UFs failed, timings %s",
        ctx.search_id, found.total_raw, found.fonte, len(matched), len(found.failures), ctx.timings_ms,
    )
    return BuscaResponse(
        search_id=ctx.search_id,
        licitacoes=matched,
        total_raw=found.total_raw,
        total_filtrado=len(matched),
        ufs_com_falha=found.failures,
        avisos=found.notes,
        llm_status="processing",
        excel_status="processing",
        tempos_ms=ctx.timings_ms,
        fonte=found.fonte,
        atualizado_em=found.atualizado_em,
    ).with_licitacoes_json(ctx.results_json)


async def _from_index(ctx: SearchContext, services: Services, uf_read: UFRead) -> Found:
    """Covered slices from the index; missing ones read from PNCP once, into the index, first."""
    assert services.index is not None
    request = ctx.request
    gathered = await services.index.gather(
        request.ufs, request.modalidades_efetivas, request.data_inicial, request.data_final, ctx.sector, uf_read)
    attempts = services.pncp.attempts
    failures = [FalhaUF(uf=uf, mensagem=describe_failure(uf, errors, partial=gathered.partial[uf], attempts=attempts))
                for uf, errors in gathered.errors.items()]
    notes = [_truncation_note(uf, modalidades, services.pncp.max_pages)
             for uf, modalidades in gathered.truncated.items()]
    return Found(total_raw=gathered.total_raw, failures=failures, notes=notes, fonte=gathered.fonte,
                 atualizado_em=gathered.atualizado_em, candidates=gathered.candidates, keywords=gathered.keywords)


async def _from_pncp(ctx: SearchContext, services: Services, uf_read: UFRead) -> Found:
    """Every slice read live (INDEX_DAYS=0)."""
    request = ctx.request
    started = datetime.now(UTC)

    async def uf_done(result: UFResult) -> None:
        await uf_read(result.uf, len(result.records))

    results = await services.pncp.fetch_ufs(
        request.ufs, request.modalidades_efetivas, request.data_inicial, request.data_final, on_uf_done=uf_done
    )
    attempts = services.pncp.attempts
    failures = [FalhaUF(uf=r.uf, mensagem=describe_failure(r.uf, r.errors, partial=bool(r.records),
                                                           attempts=attempts)) for r in results if r.failed]
    notes = [_truncation_note(r.uf, r.truncated, services.pncp.max_pages) for r in results if r.truncated]
    records = [record for r in results for record in r.records]
    for result in results:
        result.records.clear()
    return Found(total_raw=len(records), failures=failures, notes=notes, fonte="pncp", atualizado_em=started,
                 records=records)


async def _produce_reports(ctx: SearchContext, services: Services, answer: BuscaResponse) -> None:
    """Stages 6-7: background jobs when a worker is there, else inline.

    Only the summary's job is queued here; each of its attempts queues the report's, so the
    report carries the LLM's summary. Each output is claimed before it is produced, so a job and
    the inline path never both produce it. A failure here never loses the results already
    stored and answered.
    """
    queued = False
    if await services.queue.is_queue_available():
        with ctx.stage("enqueue"):
            queued = await _enqueue_summary(ctx, services, answer)
        if not queued:
            metrics.INLINE_FALLBACKS.labels("enqueue_failed").inc()
    else:
        metrics.INLINE_FALLBACKS.labels("queue_unavailable").inc()
    metrics.SEARCHES.labels("fila" if queued else "inline").inc()
    if queued:
        answer.processamento = "fila"
        # Ready at once from the data; the LLM's arrives over SSE as llm_ready.
        answer.resumo = gerar_resumo_fallback(answer.licitacoes, ctx.sector.nome)
        answer.tempos_ms = ctx.timings_ms
        return
    with ctx.stage("resumo"):
        resumo = await reports.produce_summary(services, ctx.search_id, answer.licitacoes, ctx.sector.nome,
                                               reports.INLINE)
    if resumo is not None:  # (None: a job holds it; its summary comes over SSE)
        answer.resumo, answer.llm_status = resumo, "ready"
    parametros = reports.report_parameters(ctx.request, ctx.sector)
    with ctx.stage("excel"):
        outcome = await reports.produce_report(services, ctx.search_id, answer.licitacoes, parametros,
                                               answer.resumo, ctx.sector.nome, reports.INLINE)
    if outcome is not None:
        answer.excel_status, answer.excel_url, answer.excel_error = outcome.status, outcome.url, outcome.error
    try:  # sent by the producers already, unless the database failed them: the stream must end
        await reports.finish_if_settled(services, ctx.search_id)
    except Exception:
        logger.exception("search %s: could not announce completion", ctx.search_id)
        await services.progress.emit(str(ctx.search_id), events.complete_event())
    answer.tempos_ms = ctx.timings_ms


async def _enqueue_summary(ctx: SearchContext, services: Services, answer: BuscaResponse) -> bool:
    sid = str(ctx.search_id)
    payload = orjson.Fragment(ctx.results_json)  # the licitações as stored: a list of dicts to the job
    return await services.queue.enqueue_job("llm_summary_job", sid, payload, ctx.sector.nome, job_id=keys.llm_job(sid))
