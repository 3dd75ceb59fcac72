"""Dependencies read from the per-process state the lifespan built."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from backend.jobs.workers import EmbeddedWorker
from backend.services import Services as _ServicesT


def _services(request: Request) -> _ServicesT:
    return request.state.services


def _worker(request: Request) -> EmbeddedWorker | None:
    return request.state.worker


Services = Annotated[_ServicesT, Depends(_services)]
Worker = Annotated[EmbeddedWorker | None, Depends(_worker)]
"""This process's embedded worker, or None (EMBEDDED_WORKER=false)."""
