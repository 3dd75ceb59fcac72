"""The web application: `create_app()` and the lifespan that owns the process's services.

`backend.main` builds the module-level `app` that uvicorn and gunicorn serve; tests build their own.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypedDict

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from backend import api
from backend.api.errors import UNEXPECTED, install_error_handlers
from backend.api.guards import install_guards
from backend.api.page import PageMount
from backend.api.progresso import document_events
from backend.codes import Clock, system_clock
from backend.config import Settings, load_settings
from backend.jobs.workers import EmbeddedWorker
from backend.reports import keep_settling_overdue
from backend.runtime.logs import configure_logging
from backend.services import Services, open_services


class AppState(TypedDict):
    """What the lifespan hands every request (`request.state`): built once per process."""

    services: Services
    worker: EmbeddedWorker | None
    """This process's embedded worker; None with EMBEDDED_WORKER=false."""


def create_app(settings: Settings | None = None, clock: Clock = system_clock) -> FastAPI:
    """A new app; settings come from the environment unless given, and the time from the
    system's clock unless given (tests give their own)."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[AppState]:
        async with open_services(settings, clock) as services:
            worker = EmbeddedWorker(services) if settings.embedded_worker else None
            if worker is not None:
                worker.start()
            overdue = asyncio.create_task(keep_settling_overdue(services), name="overdue-searches")
            try:
                yield AppState(services=services, worker=worker)
            finally:
                overdue.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await overdue
                if worker is not None:
                    await worker.stop()

    configure_logging(settings.log_format)
    app = FastAPI(
        title="SmartLic busca",
        summary="Licitações do PNCP filtradas pelo setor da sua empresa.",
        version="1.0.0",
        lifespan=lifespan,
        responses=UNEXPECTED,  # what any route answers when something unforeseen fails
    )
    install_error_handlers(app)
    install_guards(app, settings)
    app.include_router(api.router)
    app.include_router(api.metrics.router)  # /metrics, where Prometheus looks by default
    app.include_router(api.ops.router)  # /ops, for the people who run the service
    document_events(app)
    _serve_page(app, settings.frontend_dir)
    return app


def _serve_page(app: FastAPI, dist: Path) -> None:
    """The search page (built into `frontend/dist`) at `/`, same origin as the API."""
    if (dist / "index.html").is_file():
        app.router.routes.append(PageMount(dist))
        return

    @app.get("/", include_in_schema=False)
    async def page_not_built() -> HTMLResponse:
        return HTMLResponse(
            "<p>A página de busca não foi construída: rode <code>scripts/run.sh</code> "
            "(ou <code>npm ci && npm run build</code> em <code>frontend/</code>).</p>",
            status_code=503,
        )
