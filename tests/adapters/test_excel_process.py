"""Reports built in child processes: same workbook, pools replaced, a dead child survived."""

from __future__ import annotations

import asyncio
import io
import os
import signal
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest
from openpyxl import load_workbook

from backend.adapters.excel_process import ExcelBuilder
from backend.domain.summary import gerar_resumo_fallback
from tests.domain.test_excel import demo_licitacoes, licitacao
from tests.servers import eventually


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rows_of(data: bytes) -> list[tuple]:
    workbook = load_workbook(io.BytesIO(data), read_only=True)
    return list(workbook["Licitações"].iter_rows(values_only=True))


async def test_a_payload_of_dicts_gives_the_same_rows_as_the_objects() -> None:
    items = demo_licitacoes(30)
    builder = ExcelBuilder()
    try:
        from_objects = await builder.build(items, parametros={"Setor": "Vestuário"}, resumo=None,
                                           sector_name="Vestuário")
        from_payload = await builder.build([item.model_dump(mode="json") for item in items],
                                           parametros={"Setor": "Vestuário"}, resumo=None, sector_name="Vestuário")
    finally:
        await builder.aclose()
    assert rows_of(from_objects) == rows_of(from_payload)
    assert [row[0] for row in rows_of(from_payload)[1:1 + len(items)]] == [item.codigo_pncp for item in items]
    # Without a summary the "Resumo" sheet carries the one computed from the data.
    resumo_cells = [cell for row in load_workbook(io.BytesIO(from_payload), read_only=True)["Resumo"].iter_rows(
        values_only=True) for cell in row]
    assert gerar_resumo_fallback(items, "Vestuário").resumo_executivo in resumo_cells


async def test_pools_are_replaced_without_losing_a_report() -> None:
    builder = ExcelBuilder(reports_per_pool=2)
    try:
        for n in range(7):  # four pools in turn
            data = await builder.build([licitacao(n + 1)], parametros={}, resumo=None, sector_name="Setor")
            assert rows_of(data)[1][0] == licitacao(n + 1).codigo_pncp
    finally:
        await builder.aclose()


async def test_a_child_killed_mid_report_fails_that_report_only() -> None:
    builder = ExcelBuilder()
    try:
        await builder.build([licitacao()], parametros={}, resumo=None, sector_name="Setor")  # starts the child
        (child,) = builder._executor._processes.values()  # the child to kill
        idle = cpu_seconds(child.pid)
        building = builder.build(demo_licitacoes(20_000), parametros={}, resumo=None, sector_name="Setor")
        task = asyncio.ensure_future(building)
        # Its CPU time growing: it is building the report (about 3 s of work for 20,000 rows).
        await eventually(lambda: cpu_seconds(child.pid) - idle >= 0.2, timeout=30, what="the child to start the report")
        os.kill(child.pid, signal.SIGKILL)
        with pytest.raises(BrokenProcessPool):
            await task
        data = await builder.build([licitacao(2)], parametros={}, resumo=None, sector_name="Setor")
        assert rows_of(data)[1][0] == licitacao(2).codigo_pncp
    finally:
        await builder.aclose()
