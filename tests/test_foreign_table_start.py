"""A `search_cache` table that SmartLic's migrations did not make stops every entry point, each a real
process, with one line naming the table and how its columns differ, exit status 2 and no traceback;
the table is left as it was."""

from __future__ import annotations

import os
import sqlite3
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from backend.store.schema import ERROR_PREFIX, SchemaError, stop_on_schema_error
from tests.conftest import free_port
from tests.servers import ROOT, run_until_exit, server_env

FOREIGN_TABLE = [
    "CREATE TABLE search_cache (id INTEGER PRIMARY KEY, owner TEXT, payload TEXT)",
    "INSERT INTO search_cache (id, owner, payload) VALUES (1, 'another app', 'x')",
]
REFUSAL = (f"{ERROR_PREFIX}table search_cache exists in this database but SmartLic's migrations did not make it "
           "(unexpected columns: id, owner, payload; missing columns: avisos_json, ")
REFUSAL_END = "not starting, the table is left untouched: point DATABASE_URL at another database or rename that table"


def command(entry_point: str) -> tuple[list[str], Path]:
    """The command of an entry point operators use, and the folder it runs from."""
    uvicorn = [sys.executable, "-m", "uvicorn"]
    return {
        "uvicorn main:app": ([*uvicorn, "main:app", "--port", str(free_port())], ROOT / "backend"),
        "uvicorn backend.main:app": ([*uvicorn, "backend.main:app", "--port", str(free_port())], ROOT),
        "./start.sh web": (["./start.sh", "web"], ROOT),
        "./start.sh worker": (["./start.sh", "worker"], ROOT),
        "arq backend.job_queue.WorkerSettings": ([sys.executable, "-m", "arq", "backend.job_queue.WorkerSettings"],
                                                 ROOT),
    }[entry_point]


# Each entry point, and what else it may print: the lines of its normal start before the migration.
STARTUP_LINES: dict[str, list[str]] = {
    "uvicorn main:app": [],
    "uvicorn backend.main:app": [],
    "./start.sh web": ["[INFO] Starting gunicorn "],
    "./start.sh worker": ["Starting worker for ", "redis_version="],
    "arq backend.job_queue.WorkerSettings": ["Starting worker for ", "redis_version="],
}


def foreign_database(folder: Path) -> Path:
    path = folder / "smartlic.db"
    with sqlite3.connect(path) as db:
        for statement in FOREIGN_TABLE:
            db.execute(statement)
    return path


def dump(path: Path) -> list[str]:
    """The whole database as SQL: tables, columns and rows."""
    with sqlite3.connect(path) as db:
        return list(db.iterdump())


def refused_start(name: str, folder: Path, redis_url: str, timeout: float = 90) -> str | None:
    """Starts the entry point `name` on a database holding a foreign search_cache; None when it stopped as it
    should (exit status 2, the refusal once on stderr, nothing else but its startup lines, the database
    unchanged), else what went wrong."""
    database = foreign_database(folder)
    before = dump(database)
    args, cwd = command(name)
    env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           **server_env(folder, redis_url), "PORT": str(free_port())}
    ended = run_until_exit(args, cwd=cwd, env=env, timeout=timeout)
    out, err = ended.out, ended.err
    if ended.returncode is None:
        return f"{name}: still running after {timeout}s\nstdout: {out}\nstderr: {err}"
    refusals = [line for line in err.splitlines() if line.startswith(REFUSAL) and line.endswith(REFUSAL_END)]
    others = [line for line in out.splitlines() + err.splitlines() if line not in refusals]
    unexpected = [line for line in others if not any(start in line for start in STARTUP_LINES[name])]
    if ended.returncode != 2 or len(refusals) != 1 or unexpected or "Traceback" in out + err:
        return f"{name}: exit status {ended.returncode}\nstdout: {out}\nstderr: {err}"
    if dump(database) != before:
        return f"{name}: the database changed:\n{dump(database)}"
    return None


def test_a_foreign_search_cache_stops_every_entry_point_with_one_line(tmp_path: Path, redis_url: str) -> None:
    def run(name: str) -> str | None:
        folder = tmp_path / name.replace(" ", "-").replace("/", "").replace(":", "-")
        folder.mkdir()
        return refused_start(name, folder, redis_url)

    with ThreadPoolExecutor(len(STARTUP_LINES)) as pool:  # at once: each spends its time importing the service
        failures = [failure for failure in pool.map(run, STARTUP_LINES) if failure is not None]
    assert failures == []


def test_stop_on_schema_error_says_it_in_one_line_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped, stop_on_schema_error():
        raise SchemaError("table search_cache exists in this database but ...")
    assert stopped.value.code == 2
    assert stopped.value.__suppress_context__  # nothing would print the SchemaError's traceback
    assert capsys.readouterr().err == f"{ERROR_PREFIX}table search_cache exists in this database but ...\n"


def test_stop_on_schema_error_lets_other_errors_through(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConnectionRefusedError), stop_on_schema_error():
        raise ConnectionRefusedError("the database is not answering")  # its traceback says more than a line
    assert capsys.readouterr().err == ""
