"""What ARQ hands every job of ours."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, TypedDict

from arq.connections import ArqRedis

if TYPE_CHECKING:
    from backend.services import Services


class JobContext(TypedDict, total=False):
    services: Services
    """The process's adapters: the web lifespan's, or those a separate worker opened at startup."""
    exit_stack: AsyncExitStack
    """Closes the services of a separate worker at shutdown."""
    job_id: str
    job_try: int
    """1 on the first attempt."""
    score: int
    """When ARQ let the job start (milliseconds since the epoch): queued, or its retry due."""
    redis: ArqRedis
