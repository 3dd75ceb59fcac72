"""The operations page: queue depth, live workers and their load, the latest job attempts, the
recent failures in words, the PNCP index's ingestion, the AI arbiter's budget and verdicts, the
accounts (searches by plan, users at their limit, 401s by reason) and the cluster's PNCP budget. Behind
OPS_TOKEN (`Authorization: Bearer ...` or `?token=`); without OPS_TOKEN the page does not exist."""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import asdict
from datetime import datetime
from html import escape
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query
from fastapi.responses import HTMLResponse

from backend.adapters import live_workers, refusals
from backend.api.deps import Services
from backend.codes import BRASILIA, today_brasilia
from backend.index.status import index_health
from backend.jobs import history
from backend.store.publications import NATIONAL

router = APIRouter(tags=["operações"], include_in_schema=False)
logger = logging.getLogger(__name__)


def _allowed(services: Services, authorization: str | None, token: str | None) -> None:
    expected = services.settings.ops_token
    if expected is None:
        raise HTTPException(status_code=404, detail="Página de operações desativada (defina OPS_TOKEN).")
    given = token or (authorization or "").removeprefix("Bearer ").strip()
    if not given or not secrets.compare_digest(given.encode(), expected.get_secret_value().encode()):
        raise HTTPException(status_code=401, detail="Token de operações ausente ou inválido.",
                            headers={"WWW-Authenticate": "Bearer"})


async def _snapshot(services: Services) -> dict[str, Any]:
    attempts = await history.latest_attempts(services.redis, 50)
    pacer = await services.pncp.pacer.snapshot()
    return {
        "index": await _index_snapshot(services),
        "arbiter": await _arbiter_snapshot(services),
        "accounts": await _accounts_snapshot(services),
        "pncp_pacer": asdict(pacer),
        "queue_depth": await services.queue.queue_depth(),
        "database_id": services.database_id,
        "workers": await live_workers.entries(services.redis),
        "jobs": attempts,
        "failures": [a for a in attempts if a["outcome"] != "succeeded" and a.get("error")][:20],
    }


async def _index_snapshot(services: Services) -> dict[str, Any] | None:
    settings = services.settings
    try:
        index = await index_health(services.publications, index_days=settings.index_days,
                                   modalidades=settings.indexed_modalidades,
                                   refresh_seconds=settings.index_refresh_seconds, clock=services.clock)
        last_pass = await services.publications.last_pass()
        lists = await services.open_tenders.read_states(settings.indexed_modalidades)
    except Exception:  # the database failing: the rest of the page still helps
        logger.exception("ops: the index's state could not be read")
        return None
    abertas = [{"modalidade": s.modalidade_id, "completo": s.completo, "registros": s.registros,
                "lido_em": s.lido_em.isoformat() if s.lido_em else None}
               for s in sorted(lists, key=lambda s: s.modalidade_id) if s.uf == NATIONAL]
    return {**asdict(index), "refreshed_at": index.refreshed_at.isoformat() if index.refreshed_at else None,
            "last_pass": last_pass, "abertas": abertas}


async def _arbiter_snapshot(services: Services) -> dict[str, Any] | None:
    """The AI arbiter: on or off, today's tokens (spent, left, requests), its verdicts."""
    arbiter = services.arbiter
    try:
        counts = await services.verdicts.counts()
        budget = await arbiter.budget() if arbiter is not None else None
    except Exception:  # the database failing: the rest of the page still helps
        logger.exception("ops: the arbiter's state could not be read")
        return None
    return {
        "status": "on" if arbiter is not None else "off",
        "running_here": arbiter is not None and arbiter.task.running,
        "daily_tokens": arbiter.daily_tokens if arbiter is not None else 0,
        "today": asdict(budget) if budget is not None else None,
        **asdict(counts),
    }


async def _accounts_snapshot(services: Services) -> dict[str, Any] | None:
    """Sign-in's mode, searches counted by plan today and this month (Brasília), users with no
    search left, and today's 401s by reason."""
    if not services.settings.auth_on:
        return {"auth": "off"}  # nothing is counted
    today = today_brasilia(services.clock)
    try:
        usage = await services.usage.today(today, services.plans)
    except Exception:  # the database failing: the rest of the page still helps
        logger.exception("ops: the searches by plan could not be read")
        return None
    try:
        refused = await refusals.on(services.redis, today)
    except Exception:
        refused = None
    return {"auth": services.settings.auth, "dia": today.isoformat(), "buscas_hoje": usage.hoje,
            "buscas_mes": usage.mes, "usuarios_no_limite": usage.no_limite, "recusados_401_hoje": refused}


@router.get("/ops/data")
async def ops_data(
    services: Services,
    authorization: Annotated[str | None, Header()] = None,
    token: Annotated[str | None, Query()] = None,
) -> dict[str, Any]:
    _allowed(services, authorization, token)
    return await _snapshot(services)


@router.get("/ops", response_class=HTMLResponse)
async def ops_page(
    services: Services,
    authorization: Annotated[str | None, Header()] = None,
    token: Annotated[str | None, Query()] = None,
) -> HTMLResponse:
    _allowed(services, authorization, token)
    data = await _snapshot(services)
    return HTMLResponse(_render(data), headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, BRASILIA).strftime("%d/%m %H:%M:%S")


def _table(headers: list[str], rows: list[list[Any]], empty: str) -> str:
    if not rows:
        return f"<p>{escape(empty)}</p>"
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _database(worker_database: str | None, ours: str) -> str:
    if worker_database == ours:
        return "este"
    return f"OUTRO ({worker_database}): DATABASE_URL diferente do serviço web; não recebe os jobs deste"


def _render(data: dict[str, Any]) -> str:
    now = time.time()
    workers = [[w["name"], w.get("mode", "?"), "sim" if w.get("running") else "não",
                f'{w.get("jobs_in_flight", 0)} / {w.get("max_jobs", "?")}', w.get("restarts", 0),
                _database(w.get("database_id"), data["database_id"]), f'{now - w["seen_at"]:.0f} s']
               for w in data["workers"]]
    jobs = [[_when(j["started_at"]), j["job_id"], j["attempt"], j["outcome"], j.get("result") or "",
             f'{j["seconds"]:.2f} s', j["worker"]] for j in data["jobs"]]
    failures = [[_when(j["started_at"]), j["job_id"], j["attempt"], j["outcome"], j.get("error") or ""]
                for j in data["failures"]]
    depth = data["queue_depth"]
    return f"""<!doctype html>
<html lang="pt-BR"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">
<title>SmartLic · operações</title>
<style>body{{font:14px system-ui,sans-serif;margin:2rem;color:#1f2933}}
table{{border-collapse:collapse;margin:.5rem 0 1.5rem}}
th,td{{border:1px solid #cbd2d9;padding:.3rem .6rem;text-align:left}}th{{background:#f0f4f8}}</style></head>
<body><h1>Operações</h1>
<p data-testid="queue-depth">Fila: {escape("indisponível" if depth is None else f"{depth} job(s) aguardando")}</p>
<h2>Workers vivos</h2>
{_table(["worker", "modo", "rodando", "jobs em andamento", "reinícios", "banco de dados", "visto há"], workers,
        "Nenhum worker vivo.")}
<h2>Índice do PNCP</h2>
{_index(data["index"])}
<h2>Árbitro de IA</h2>
{_arbiter(data["arbiter"])}
<h2>Contas</h2>
{_accounts(data["accounts"])}
<p data-testid="pncp-pacer">{escape(_pacer(data["pncp_pacer"]))}</p>
<h2>Últimos jobs</h2>
{_table(["início", "job", "tentativa", "resultado", "saída", "duração", "worker"], jobs, "Nenhum job ainda.")}
<h2>Falhas recentes</h2>
{_table(["início", "job", "tentativa", "resultado", "mensagem"], failures, "Nenhuma falha recente.")}
</body></html>"""


def _accounts(accounts: dict[str, Any] | None) -> str:
    if accounts is None:
        return '<p data-testid="accounts">Contas: o banco de dados não respondeu.</p>'
    if accounts["auth"] == "off":
        return '<p data-testid="accounts">Sem login (AUTH_MODE=off): nenhuma busca é contada.</p>'
    plans = sorted(set(accounts["buscas_hoje"]) | set(accounts["buscas_mes"]))
    rows = [[plan, accounts["buscas_hoje"].get(plan, 0), accounts["buscas_mes"].get(plan, 0)] for plan in plans]
    refused = accounts["recusados_401_hoje"]
    refused_text = ("indisponível (Redis)" if refused is None
                    else ", ".join(f"{reason}: {n}" for reason, n in refused.items()) or "nenhuma")
    return (f'<div data-testid="accounts">{_table(["plano", "buscas hoje", "buscas no mês"], rows, "Nenhuma busca.")}'
            f'<p>Usuários sem buscas restantes no mês: {accounts["usuarios_no_limite"]}. '
            f'Recusas 401 hoje: {escape(refused_text)}.</p></div>')


def _index(index: dict[str, Any] | None) -> str:
    if index is None:
        return '<p data-testid="index">Estado do índice indisponível (banco de dados).</p>'
    if index["status"] == "off":
        return '<p data-testid="index">Desligado (INDEX_DAYS=0): toda busca lê o PNCP.</p>'
    state = {"ready": "pronto", "warming": "carregando"}[index["status"]]
    refreshed = index["refreshed_at"] or "hoje ainda não lido"
    lines = [f'<p data-testid="index">{escape(state)}: {index["days_ready"]} de {index["days"]} dias completos, '
             f'{index["slices_ready"]} de {index["slices_total"]} fatias, {index["records"]} publicações; '
             f'hoje lido em {escape(refreshed)}.</p>']
    if index.get("abertas"):
        lists = "; ".join(
            f'modalidade {a["modalidade"]}: {a["registros"]} em {escape(a["lido_em"] or "leitura incompleta")}'
            for a in index["abertas"])
        lines.append(f'<p data-testid="index-abertas">Abertas agora (listas do PNCP): {lists}.</p>')
    last = index.get("last_pass")
    if last:
        lines.append(
            f'<p data-testid="index-last-pass">Última passada ({escape(str(last["worker"]))}, '
            f'{escape(str(last["started_at"]))}): {last["reads"]} fatias lidas, {last["failed"]} incompletas, '
            f'{last["changed"]} alterações, {last["removed"]} removidas, {last["seconds"]} s.</p>')
    return "\n".join(lines)


def _arbiter(arbiter: dict[str, Any] | None) -> str:
    if arbiter is None:
        return '<p data-testid="arbiter">Estado do árbitro indisponível (banco de dados).</p>'
    verdicts = (f'{arbiter["decided"]} objetos decididos, {arbiter["pending"]} em dúvida aguardando, '
                f'{arbiter["by_ai"]} publicações incluídas pela IA')
    if arbiter["status"] == "off":
        return (f'<p data-testid="arbiter">Desligado (sem OPENAI_API_KEY, LLM_CLASSIFY_DAILY_TOKENS=0 ou '
                f'INDEX_DAYS=0): só as regras decidem. {verdicts}.</p>')
    today = arbiter["today"]
    return (f'<p data-testid="arbiter">Ligado: hoje ({escape(today["day"])}) {today["spent"]} de '
            f'{arbiter["daily_tokens"]} tokens gastos, {today["left"]} restantes, {today["calls"]} chamadas; '
            f'{verdicts}.</p>')


def _pacer(pacer: dict[str, Any]) -> str:
    where = "compartilhado pelo cluster (Redis)" if pacer["shared"] else "só deste processo (sem Redis)"
    text = f"Orçamento do PNCP: {pacer['requests_per_second']:g} consultas/s, {where}"
    if pacer["paused_until"]:
        text += f"; pausado até {_when(pacer['paused_until'])} (HTTP 429)"
    if pacer["slowed_until"]:
        text += f"; reduzido até {_when(pacer['slowed_until'])}"
    return text + "."
