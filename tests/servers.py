"""Real server processes for multi-process tests: uvicorn alone, or gunicorn through start.sh."""

from __future__ import annotations

import asyncio
import inspect
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def running_server(
    env: dict[str, str], log_path: Path, *, gunicorn: bool = False, uvicorn: list[str] | None = None,
    cwd: Path = ROOT,
) -> Iterator[Server]:
    """Starts the app on a free port with `env` on top of ours; waits until /v1/health answers.

    uvicorn serves `backend.main:app` from the repository root unless `uvicorn` gives other
    arguments (the app and options) and `cwd` another folder; `gunicorn` runs `./start.sh web`.
    """
    port = free_port()
    full_env = {**os.environ, **env, "PORT": str(port)}
    if gunicorn:
        command = ["./start.sh", "web"]
    else:
        command = [sys.executable, "-m", "uvicorn", *(uvicorn or ["backend.main:app", "--log-level", "warning"]),
                   "--host", "127.0.0.1", "--port", str(port)]
    log = log_path.open("wb")
    process = subprocess.Popen(command, cwd=cwd, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", process, log_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{server.url}/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None:
                raise AssertionError(f"server exited:\n{server.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"server did not answer:\n{server.log()}")
            time.sleep(0.1)
        try:
            yield server
        except BaseException:
            print(f"the server's log, last lines:\n{_last_lines(server.log(), 40)}")  # shown with the failure
            raise
    finally:
        stop(process, timeout=40)
        log.close()


def _last_lines(text: str, count: int) -> str:
    return "\n".join(text.splitlines()[-count:])


def stop(process: subprocess.Popen[bytes], *, timeout: float) -> None:
    """SIGTERM, as a deploy stops it; killed if it has not ended within `timeout` seconds."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"process {process.pid} did not stop within {timeout:g} s of SIGTERM: killed")
        process.kill()
        process.wait()


@contextmanager
def running_worker(env: dict[str, str], log_path: Path, *, cwd: Path = ROOT) -> Iterator[subprocess.Popen[bytes]]:
    """A separate worker, `arq backend.job_queue.WorkerSettings`, with `env` on top of ours (and its
    own metrics registry); stopped as ops stop it (SIGTERM, then its drain)."""
    worker_env = {k: v for k, v in {**os.environ, **env}.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "arq", "backend.job_queue.WorkerSettings"], cwd=cwd,
                                   env=worker_env, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            stop(process, timeout=90)


@contextmanager
def running_servers(envs: list[dict[str, str]], log_dir: Path, *, cwd: Path = ROOT) -> Iterator[list[Server]]:
    """Servers started at the same moment, each like `running_server`: their startups race for real."""
    managers = [running_server(env, log_dir / f"server-{i}.log", cwd=cwd) for i, env in enumerate(envs)]
    with ExitStack() as stack:
        with ThreadPoolExecutor(len(managers)) as pool:
            started = [pool.submit(manager.__enter__) for manager in managers]
        servers: list[Server] = []
        failure: BaseException | None = None
        for manager, future in zip(managers, started, strict=True):
            if (error := future.exception()) is not None:
                failure = failure or error
                continue
            servers.append(future.result())
            stack.push(manager.__exit__)  # stopped on the way out, like the servers that did start
        if failure is not None:
            raise failure
        yield servers


def server_env(tmp_path: Path, redis_url: str, **extra: str) -> dict[str, str]:
    """Environment for test servers sharing one database, one report folder and one Redis."""
    (tmp_path / "metrics").mkdir(parents=True, exist_ok=True)
    return {
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "PNCP_BASE_URL": "demo",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'smartlic.db'}",
        "STORAGE_DIR": str(tmp_path / "files"),
        "REDIS_URL": redis_url,
        "SEARCH_RATE_LIMIT": "off",  # one test client makes every search
        "INDEX_DAYS": "0",  # searches read PNCP live; the index's own tests turn it on
        "PNCP_RATE_LIMIT": "1000/second",  # a local double: pacing is tested on its own
        **extra,
    }


def wait_for(condition: Callable[[], T], timeout: float, what: str) -> T:
    """The first truthy value of `condition()`, polled every 0.1 s for at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


async def eventually(
    check: Callable[[], Any | Awaitable[Any]], timeout: float = 10.0, step: float = 0.05, what: str | None = None
) -> Any:
    """`wait_for` inside an event loop: the first truthy answer of `check()` (a value, or an
    awaitable of one), polled every `step` seconds for at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        assert time.monotonic() < deadline, (
            f"timed out waiting for {what}" if what else f"still {value!r} after {timeout}s")
        await asyncio.sleep(step)


def queue_healthy(server: Server) -> bool:
    try:
        return httpx.get(f"{server.url}/v1/health", timeout=2).json()["queue"] == "healthy"
    except httpx.HTTPError:
        return False


@dataclass
class Ended:
    """How a process that was expected to stop by itself ended: `returncode` None if it did not."""

    returncode: int | None
    out: str
    err: str


def run_until_exit(args: list[str], *, cwd: Path, env: dict[str, str], timeout: float) -> Ended:
    """Runs `args` until it exits; past `timeout` its whole process group is killed."""
    process = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        return Ended(None, out, err)
    return Ended(process.returncode, out, err)

