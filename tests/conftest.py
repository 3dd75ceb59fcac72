"""Shared fixtures: a private Redis, PostgreSQL, the PNCP double, and the app over asgi-lifespan.

Nothing here skips: a missing service fails the run, because CI must have every component.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from backend.app import create_app
from backend.codes import Clock, system_clock
from backend.config import Settings

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server of our own on a random port, for the whole session; or the one at
    TEST_REDIS_URL (emptied before each test that uses it), e.g. one kept outside a faked clock."""
    if TEST_REDIS_URL:
        yield TEST_REDIS_URL
        return
    port = free_port()
    proc = start_redis(port, tmp_path_factory.mktemp("redis"))
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(timeout=10)


def start_redis(port: int, workdir: Path) -> subprocess.Popen[bytes]:
    """A redis-server that keeps nothing on disk, answering on 127.0.0.1:`port`."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: run scripts/services.sh (the README's test command does).")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("redis-server did not start")
            time.sleep(0.05)


@pytest.fixture(autouse=True)
def _empty_redis(request: pytest.FixtureRequest) -> None:
    """Each test starts with an empty private Redis: no queued job or worker heartbeat of another."""
    if "redis_url" in request.fixturenames or "make_settings" in request.fixturenames:
        import redis

        client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
        client.flushdb()
        client.close()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """PostgreSQL at TEST_POSTGRES_URL (default 127.0.0.1:5432, database test)."""
    import asyncio

    import asyncpg

    async def probe() -> None:
        conn = await asyncpg.connect(POSTGRES_URL, timeout=5)
        await conn.close()

    from concurrent.futures import ThreadPoolExecutor

    try:  # in a thread of its own: the fixture may be requested from inside an event loop
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, probe()).result()
    except Exception as exc:  # noqa: BLE001 - report whatever stopped the connection
        pytest.fail(f"PostgreSQL not reachable at {POSTGRES_URL} ({exc}); run scripts/services.sh")
    return POSTGRES_URL


@pytest.fixture
def fresh_postgres_url(postgres_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database on the server of `postgres_url`, dropped after the test."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor
    from uuid import uuid4

    import asyncpg
    from sqlalchemy.engine import make_url

    server = make_url(postgres_url).set(username="postgres")
    name = f"smartlic_test_{uuid4().hex[:16]}"

    async def admin(statement: str) -> None:
        conn = await asyncpg.connect(
            user="postgres", password=server.password, host=server.host, port=server.port or 5432,
            database=server.database, timeout=5,
        )
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    def run(statement: str) -> None:  # in a thread of its own: the fixture may be requested from an event loop
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, admin(statement)).result()

    run(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def fake_pncp() -> Iterator[Any]:
    """The PNCP double over real HTTP on a free port (`tests/fakes/pncp.py`)."""
    from tests.fakes.pncp import FakePNCP

    with FakePNCP() as fake:
        yield fake


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty database: a SQLite file of its own, or a PostgreSQL database of its own."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'smartlic.db'}"
    return request.getfixturevalue("fresh_postgres_url")


@pytest.fixture
def make_settings(tmp_path: Path, redis_url: str) -> Callable[..., Settings]:
    """Settings for a test: private SQLite, private Redis, fast retries; override anything."""

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": f"sqlite:///{tmp_path / 'smartlic.db'}",
            "redis_url": redis_url,
            "pncp_base_url": "demo",
            "pncp_timeout": 2.0,
            "pncp_max_retries": 2,
            "pncp_backoff_base": 0.01,
            "pncp_backoff_max": 0.05,
            "storage_dir": tmp_path / "files",
            # In-process tests run stages 6-7 inline unless they start a worker themselves.
            "embedded_worker": False,
            # Every search of a test comes from one address; tests/test_guards.py turns it on.
            "search_rate_limit": "off",
            # Searches read PNCP live (the index's own tests turn it on), unpaced for a local double.
            "index_days": 0,
            "pncp_rate_limit": "1000/second",
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)

    return build


@pytest.fixture
def client_for() -> Callable[[Settings], Any]:
    """`async with client_for(settings) as client`: the app through its lifespan, over ASGI
    (`client_for(settings, clock)`: with the time a test gives it)."""
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def open_client(settings: Settings, clock: Clock = system_clock) -> AsyncIterator[httpx.AsyncClient]:
        app = create_app(settings, clock)
        # Starting and stopping include the embedded worker and the index's ingestion; on a
        # shared two-core machine under the whole suite that can pass asgi-lifespan's 5 s default.
        async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://smartlic.test") as client:
                yield client

    return open_client
