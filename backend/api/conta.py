"""What the page needs to sign people in."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from backend.api.deps import Services

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
