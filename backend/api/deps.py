"""Dependencies read from the per-process state the lifespan built."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request

from backend.adapters.auth import LOCAL_USER, AuthError, KeysUnavailable, User
from backend.jobs.workers import EmbeddedWorker
from backend.services import Services as _ServicesT


def _services(request: Request) -> _ServicesT:
    return request.state.services


def _worker(request: Request) -> EmbeddedWorker | None:
    return request.state.worker


Services = Annotated[_ServicesT, Depends(_services)]
Worker = Annotated[EmbeddedWorker | None, Depends(_worker)]
"""This process's embedded worker, or None (EMBEDDED_WORKER=false)."""


_BEARER = "bearer "


async def _verified(services: _ServicesT, token: str | None) -> User:
    if services.tokens is None:
        return LOCAL_USER
    if not token:
        raise AuthError("no_token", "Entre na sua conta para usar o SmartLic.")
    try:
        return await services.tokens.verify(token)  # AuthError: a 401 (backend.api.errors)
    except KeysUnavailable:
        raise HTTPException(status_code=503, detail="Não foi possível verificar o seu acesso agora; "
                                                    "tente de novo em instantes.") from None


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    return header[len(_BEARER):].strip() if header[:len(_BEARER)].lower() == _BEARER else None


async def _user(request: Request) -> User:
    return await _verified(request.state.services, _bearer(request))


async def _stream_user(request: Request,
                       access_token: Annotated[str | None, Query(description=(
                           "The access token, for EventSource, which cannot send headers (never logged)."))] = None,
                       ) -> User:
    return await _verified(request.state.services, _bearer(request) or access_token)


CurrentUser = Annotated[User, Depends(_user)]
"""Who is asking: the access token's user (AUTH_MODE=supabase), else the local user."""
StreamUser = Annotated[User, Depends(_stream_user)]
"""The same, also from `?access_token=` (the progress stream)."""
