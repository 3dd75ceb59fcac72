"""Accounts: what the page needs to sign people in, the user's plan and quota, their searches."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from backend.api.deps import CurrentUser, Services
from backend.api.errors import INVALID, UNAUTHENTICATED
from backend.codes import today_brasilia
from backend.domain.plans import Quota
from backend.schemas import ExcelStatus, LlmStatus, Modo
from backend.search_pipeline import plan_for

router = APIRouter(tags=["conta"])


class Configuracao(BaseModel):
    auth: Literal["supabase", "off"] = Field(description="supabase: the page signs people in; off: no sign-in.")
    supabase_url: str | None = Field(description="The Supabase project the page signs in with.")
    supabase_anon_key: str | None = Field(description="Its public (anon) key.")


@router.get("/config", response_model=Configuracao)
async def config(services: Services) -> Configuracao:
    settings = services.settings
    signing_in = settings.auth_on
    return Configuracao(auth=settings.auth, supabase_url=settings.supabase_url if signing_in else None,
                        supabase_anon_key=settings.supabase_anon_key if signing_in else None)


class Plano(BaseModel):
    id: str
    nome: str


class Conta(BaseModel):
    """The signed-in user, their plan and this month's searches (Brasília's calendar month)."""

    user_id: str
    email: str | None
    plano: Plano | None = Field(description="None with AUTH_MODE=off: no plan, no limits.")
    buscas_mes: int | None = Field(description="Searches the plan allows a month (None: no limit).")
    usadas: int = Field(description="Searches counted this month.")
    restantes: int | None = Field(description="Searches left this month (None: no limit).")
    renova_em: date | None = Field(description="When the searches renew: the first day of next month.")
    excel: bool = Field(description="Whether the plan's searches get the Excel report.")


class BuscaListada(BaseModel):
    search_id: UUID
    created_at: datetime
    setor_id: str
    ufs: list[str]
    modo: Modo
    data_inicial: date | None
    data_final: date | None
    total_filtrado: int
    llm_status: LlmStatus
    excel_status: ExcelStatus


class MinhasBuscas(BaseModel):
    buscas: list[BuscaListada] = Field(description="Newest first.")
    pagina: int
    total: int = Field(description="The user's searches still kept (their plan's `historico_dias`).")


PER_PAGE = 20


@router.get("/conta", response_model=Conta, responses={**UNAUTHENTICATED})
async def conta(services: Services, user: CurrentUser) -> Conta:
    plan = plan_for(services, user)
    if plan is None:
        return Conta(user_id=user.id, email=user.email, plano=None, buscas_mes=None, usadas=0, restantes=None,
                     renova_em=None, excel=True)
    today = today_brasilia(services.clock)
    quota = Quota.on(today, plan, await services.usage.used(user.id, today))
    return Conta(user_id=user.id, email=user.email, plano=Plano(id=plan.id, nome=plan.nome),
                 buscas_mes=plan.buscas_mes, usadas=quota.usadas, restantes=quota.restantes,
                 renova_em=quota.renova_em, excel=plan.excel)


@router.get("/buscas", response_model=MinhasBuscas, responses={**UNAUTHENTICATED, **INVALID})
async def minhas_buscas(
    services: Services, user: CurrentUser,
    pagina: Annotated[int, Query(ge=1, le=10_000, description=f"{PER_PAGE} searches a page, from 1.")] = 1,
) -> MinhasBuscas:
    """The user's searches, newest first."""
    listed, total = await services.store.owned(user.id, offset=(pagina - 1) * PER_PAGE, limit=PER_PAGE)
    return MinhasBuscas(pagina=pagina, total=total, buscas=[
        BuscaListada(
            search_id=s.search_id, created_at=s.created_at, setor_id=s.setor_id, ufs=s.request.get("ufs", []),
            modo=s.request.get("modo", "publicacao"), data_inicial=s.request.get("data_inicial"),
            data_final=s.request.get("data_final"), total_filtrado=s.total_filtrado, llm_status=s.llm_status,
            excel_status=s.excel_status,
        )
        for s in listed
    ])
