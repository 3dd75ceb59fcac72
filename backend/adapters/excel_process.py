"""Excel reports built in child processes, so no web process's event loop waits on openpyxl.

A 5,000-row report is about a second of pure-Python work that holds the GIL: in a thread it
still makes every request of its process wait its turn; in a child process it costs the
event loop only the hand-over (pickling happens on the executor's feeder thread).

    builder = ExcelBuilder(processes=1)          # one per process (web or separate worker)
    data = await builder.build(licitacoes, parametros=..., resumo=None, sector_name="Alimentos")
    await builder.aclose()

Children come from a forkserver that has this module (openpyxl, pydantic, the schemas) loaded,
so a new child starts in milliseconds. The pool is replaced after `REPORTS_PER_POOL` reports,
which bounds whatever memory openpyxl leaves behind (the old one ends once its reports are done;
`ProcessPoolExecutor(max_tasks_per_child=...)` would do it per child but can hang on Python
3.11 when a child retires). A child that dies breaks only the report it was building: the next
report gets a new pool.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from typing import Any

from backend.codes import now_brasilia
from backend.domain.excel import create_excel
from backend.domain.summary import gerar_resumo_fallback
from backend.schemas import LICITACOES, Licitacao, ResumoLicitacoes

logger = logging.getLogger(__name__)

REPORTS_PER_POOL = 50


def build_report(
    licitacoes: Sequence[Licitacao | Mapping[str, Any]],
    parametros: Mapping[str, str],
    resumo: ResumoLicitacoes | None,
    sector_name: str,
    gerado_em: datetime,
) -> bytes:
    """The report's bytes (runs in the child). Job payloads arrive as dicts and are validated
    here; without a summary, the "Resumo" sheet gets the one computed from the data."""
    items = LICITACOES.validate_python(licitacoes)
    return create_excel(
        items,
        parametros=parametros,
        resumo=resumo or gerar_resumo_fallback(items, sector_name),
        gerado_em=gerado_em,
    )


def _context() -> multiprocessing.context.BaseContext:
    context = multiprocessing.get_context("forkserver")
    # Takes effect when the process's forkserver starts (on the first report), once per process.
    context.set_forkserver_preload([__name__])
    return context


class ExcelBuilder:
    """A small pool of report-building processes, started on the first report."""

    def __init__(self, processes: int = 1, reports_per_pool: int = REPORTS_PER_POOL) -> None:
        self._processes = processes
        self._reports_per_pool = reports_per_pool
        self._executor: ProcessPoolExecutor | None = None
        self._submitted = 0

    @property
    def child_pids(self) -> frozenset[int]:
        """The process ids of the current pool's children (empty before the first report and
        after a child died): a new pool shows as new ids."""
        executor = self._executor
        if executor is None:
            return frozenset()
        processes = list((executor._processes or {}).values())  # one C call: the pool's thread may change it
        return frozenset(process.pid for process in processes)

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is not None and self._submitted >= self._reports_per_pool:
            self._executor.shutdown(wait=False)  # its processes end after the reports they hold
            self._executor = None
        if self._executor is None:
            self._executor = ProcessPoolExecutor(max_workers=self._processes, mp_context=_context())
            self._submitted = 0
        self._submitted += 1
        return self._executor

    async def build(
        self,
        licitacoes: Sequence[Licitacao | Mapping[str, Any]],
        *,
        parametros: Mapping[str, str],
        resumo: ResumoLicitacoes | None,
        sector_name: str,
        now: datetime | None = None,
    ) -> bytes:
        """The workbook as of `now` (Brasília time; by default the system's). Raises whatever
        the build raised in the child, or `BrokenProcessPool` if it died."""
        pool = self._pool()
        try:
            # Submitted from a thread: the first report of a process starts the forkserver and
            # waits for it (half a second of imports) inside `submit`.
            future = await asyncio.to_thread(
                pool.submit, build_report, list(licitacoes), dict(parametros), resumo, sector_name,
                now or now_brasilia()
            )
            return await asyncio.wrap_future(future)
        except BrokenProcessPool:
            logger.warning("an Excel process died; the next report starts a new one")
            if self._executor is pool:
                self._executor = None
                pool.shutdown(wait=False, cancel_futures=True)
            raise

    async def aclose(self) -> None:
        """Cancels reports not started, lets a running one finish, and ends the processes."""
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)
