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


def alive(pid: int) -> bool:
    """The process exists and has not exited (a zombie has)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


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
    built_by = []  # the child process of the pool that built each report
    try:
        for n in range(7):  # four pools in turn
            data = await builder.build([licitacao(n + 1)], parametros={}, resumo=None, sector_name="Setor")
            assert rows_of(data)[1][0] == licitacao(n + 1).codigo_pncp
            (child,) = builder.child_pids  # one process per pool here
            built_by.append(child)
    finally:
        await builder.aclose()
    # Two reports per pool, then a new pool with a new process: four processes, in turn.
    pools = list(dict.fromkeys(built_by))
    assert len(pools) == 4 and built_by == [pools[n // 2] for n in range(7)], built_by
    # The replaced pools' processes end (what bounds the memory openpyxl leaves behind), and
    # aclose ends the last one.
    await eventually(lambda: not any(alive(pid) for pid in pools), timeout=10, what="the pools' processes to end")


async def test_a_child_killed_mid_report_fails_that_report_only() -> None:
    builder = ExcelBuilder()
    try:
        await builder.build([licitacao()], parametros={}, resumo=None, sector_name="Setor")  # starts the child
        (child,) = builder.child_pids  # the child to kill
        idle = cpu_seconds(child)
        building = builder.build(demo_licitacoes(20_000), parametros={}, resumo=None, sector_name="Setor")
        task = asyncio.ensure_future(building)
        # Its CPU time growing: it is building the report (about 3 s of work for 20,000 rows).
        await eventually(lambda: cpu_seconds(child) - idle >= 0.2, timeout=30, what="the child to start the report")
        os.kill(child, signal.SIGKILL)
        with pytest.raises(BrokenProcessPool):
            await task
        data = await builder.build([licitacao(2)], parametros={}, resumo=None, sector_name="Setor")
        assert rows_of(data)[1][0] == licitacao(2).codigo_pncp
        (replacement,) = builder.child_pids
        assert replacement != child  # built by a new process
    finally:
        await builder.aclose()
