"""A separate worker, started as ops start it (`arq backend.job_queue.WorkerSettings`), is woken
when a job is queued, like an embedded one: with polls 60 s apart, only the wake-up can start a
job within the seconds these tests allow. Real processes, a real Redis, nothing mocked."""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from redis.asyncio import Redis

from backend import keys
from backend.adapters import live_workers
from backend.codes import now_brasilia
from backend.jobs import history
from backend.services import Services, open_services
from tests.conftest import free_port, start_redis
from tests.servers import ROOT, eventually, server_env, stop

POLL_DELAY = 60  # seconds between the worker's polls: far more than any wait below
DEADLINE = 10.0  # seconds a queued job may take to start
ARQ_COMMAND = [str(Path(sys.executable).parent / "arq"), "backend.job_queue.WorkerSettings"]  # the ops contract


@dataclass
class SeparateWorker:
    process: subprocess.Popen[bytes]
    log_path: Path
    metrics_port: int

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        """SIGTERM, as ops stop it; the exit status."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)


@contextmanager
def separate_worker(tmp_path: Path, redis_url: str, **extra: str) -> Iterator[SeparateWorker]:
    """`arq backend.job_queue.WorkerSettings` on the tests' database, with polls `POLL_DELAY` apart."""
    metrics_port = free_port()
    env = {**os.environ, **server_env(tmp_path, redis_url), "WORKER_POLL_DELAY": str(POLL_DELAY),
           "WORKER_METRICS_PORT": str(metrics_port),
           # ARQ's drain on SIGTERM counts the jobs its poll has not yet seen end: with polls a
           # minute apart it lasts the whole drain time, finished jobs or not.
           "WORKER_DRAIN_SECONDS": "1", **extra}
    env.pop("PROMETHEUS_MULTIPROC_DIR")  # its own process, its own registry
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):  # a developer's key never reaches a test
        env.pop(name, None)
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(ARQ_COMMAND, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        worker = SeparateWorker(process, log_path, metrics_port)
        try:
            yield worker
        finally:
            if process.poll() is None:
                stop(process, timeout=30)


@pytest.fixture
async def raw_redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def saved_search(services: Services) -> UUID:
    """A search whose results are stored and whose report is still processing."""
    sid = uuid4()
    today = now_brasilia().date()
    request = {"ufs": ["SP"], "data_inicial": str(today - timedelta(days=10)), "data_final": str(today),
               "setor_id": "vestuario"}
    await services.store.save_results(sid, request=request, setor_id="vestuario", total_raw=0, licitacoes=[],
                                      ufs_com_falha=[], avisos=[])
    return sid


async def subscribers(redis: Redis) -> int:
    """Processes listening for wake-ups."""
    return int(dict(await redis.pubsub_numsub(keys.JOBS_WAKEUP)).get(keys.JOBS_WAKEUP.encode(), 0))


async def ready(worker: SeparateWorker, redis: Redis, services: Services) -> None:
    """The worker announced itself live, made its first poll, and its wake-up listener subscribed."""
    async def announced() -> bool:
        assert worker.process.poll() is None, worker.log()
        return (await live_workers.census(redis, services.database_id)).same_database > 0

    await eventually(announced, timeout=30, what="the worker to announce itself live")
    # ARQ writes its health key in its poll step: the first poll is behind us, the next one 60 s ahead.
    await eventually(lambda: redis.exists(keys.WORKER_HEALTH), what="the worker's first poll")
    await eventually(lambda: subscribers(redis), what="the wake-up listener to subscribe")


async def started(redis: Redis, job_id: str) -> dict[str, Any] | None:
    """The job's attempt in the job history (written when it ends; it says when it started)."""
    for entry in await history.latest_attempts(redis, count=history.HISTORY_SIZE):
        if entry["job_id"] == job_id:
            return entry
    return None


def clean_exit(worker: SeparateWorker) -> None:
    assert worker.stop() == 0, worker.log()
    log = worker.log()
    for sign in ("Traceback", "Task was destroyed but it is pending", "exception was never retrieved",
                 "wake-up listener failed"):
        assert sign not in log, log


async def test_a_separate_worker_starts_a_queued_job_at_once_not_at_its_next_poll(
        tmp_path, redis_url, make_settings, raw_redis) -> None:
    async with open_services(make_settings()) as services:  # the worker's database and Redis
        sids = [await saved_search(services) for _ in range(22)]
        with separate_worker(tmp_path, redis_url) as worker:
            await ready(worker, raw_redis, services)

            # Queued without a wake-up (ARQ's own enqueue): it waits for the poll, 60 s away.
            unannounced = keys.excel_job(str(sids[0]))
            assert await services.queue.pool.enqueue_job("excel_generation_job", str(sids[0]), [], {"excel": False},
                                                         _job_id=unannounced)
            await asyncio.sleep(2.0)  # a window in which nothing may happen
            assert await started(raw_redis, unannounced) is None
            assert await raw_redis.zscore(keys.QUEUE, unannounced) is not None

            # Queued through the service's queue, which publishes the wake-up: both start now.
            announced = keys.excel_job(str(sids[1]))
            assert await services.queue.enqueue_job("excel_generation_job", str(sids[1]), [], {"excel": False},
                                                    job_id=announced)
            await eventually(lambda: started(raw_redis, announced), timeout=DEADLINE, what="the announced job")
            await eventually(lambda: started(raw_redis, unannounced), timeout=DEADLINE, what="the waiting job")
            assert (await services.store.get_outcome(sids[1])).excel_status == "skipped"

            # Pickup, one job at a time: from the moment it is queued to the start of its attempt.
            pickups = []
            for sid in sids[2:]:
                job_id = keys.excel_job(str(sid))
                queued_at = time.time()
                assert await services.queue.enqueue_job("excel_generation_job", str(sid), [], {"excel": False},
                                                        job_id=job_id)
                entry = await eventually(lambda job_id=job_id: started(raw_redis, job_id), timeout=DEADLINE, step=0.01,
                                         what=f"job {job_id}")
                pickups.append(entry["started_at"] - queued_at)
            cuts = statistics.quantiles(pickups, n=20)
            print(f"\npickup of {len(pickups)} jobs by a separate worker, polls {POLL_DELAY} s apart: "
                  f"p50 {statistics.median(pickups) * 1000:.1f} ms, p95 {cuts[18] * 1000:.1f} ms, "
                  f"max {max(pickups) * 1000:.1f} ms")
            scraped = httpx.get(f"http://127.0.0.1:{worker.metrics_port}/metrics").text
            print("\n".join(line for line in scraped.splitlines() if line.startswith("smartlic_job_pickup_seconds")))
            assert max(pickups) < DEADLINE

            clean_exit(worker)
        assert (await live_workers.census(raw_redis, services.database_id)).same_database == 0
        assert await subscribers(raw_redis) == 0


async def test_a_separate_worker_listens_again_after_redis_restarts(tmp_path, make_settings) -> None:
    port = free_port()
    redis_url = f"redis://127.0.0.1:{port}/0"
    redis_server = start_redis(port, tmp_path)
    settings = make_settings(redis_url=redis_url)
    try:
        async with open_services(settings) as services:
            sid = await saved_search(services)
            with separate_worker(tmp_path, redis_url, WORKER_HEALTH_INTERVAL="1") as worker:
                client = Redis.from_url(redis_url)
                try:
                    await ready(worker, client, services)
                finally:
                    await client.aclose()

                redis_server.terminate()  # every connection of the worker breaks; its next poll is a minute away
                redis_server.wait(timeout=10)
                redis_server = start_redis(port, tmp_path)  # empty: nothing survives but the worker's listener

                client = Redis.from_url(redis_url)
                try:
                    await eventually(lambda: subscribers(client), what="the wake-up listener to subscribe again")
                    async with open_services(settings) as after:  # fresh connections to the new Redis
                        job_id = keys.excel_job(str(sid))
                        assert await after.queue.enqueue_job("excel_generation_job", str(sid), [], {"excel": False},
                                                             job_id=job_id)
                        await eventually(lambda: started(client, job_id), timeout=DEADLINE, what="the job")
                    assert (await services.store.get_outcome(sid)).excel_status == "skipped"
                finally:
                    await client.aclose()
                clean_exit(worker)
    finally:
        redis_server.terminate()
        redis_server.wait(timeout=10)


async def test_the_wake_up_of_a_separate_worker_goes_through_one_poll_step_and_ends_with_it(
        monkeypatch, redis_url, tmp_path, make_settings, raw_redis) -> None:
    """The worker ARQ's command builds, run here as `Worker.run()` runs it, to see its tasks."""
    for name, value in {"REDIS_URL": redis_url, "DATABASE_URL": f"sqlite:///{tmp_path / 'smartlic.db'}",
                        "STORAGE_DIR": str(tmp_path / "files"), "PNCP_BASE_URL": "demo", "INDEX_DAYS": "0",
                        "WORKER_POLL_DELAY": str(POLL_DELAY)}.items():
        monkeypatch.setenv(name, value)
    from arq.worker import create_worker

    from backend.jobs.workers import JobWakeUp, separate_worker_settings

    async with open_services(make_settings()) as services:
        sid = await saved_search(services)
        worker = create_worker(separate_worker_settings(), handle_signals=False)
        worker.main_task = asyncio.create_task(worker.main())
        try:
            await eventually(lambda: subscribers(raw_redis), what="the wake-up listener to subscribe")
            # ARQ's own loop polls through the wake-up's step too: one lock for both.
            assert isinstance(worker._poll_iteration.__self__, JobWakeUp)
            job_id = keys.excel_job(str(sid))
            assert await services.queue.enqueue_job("excel_generation_job", str(sid), [], {"excel": False},
                                                    job_id=job_id)
            await eventually(lambda: started(raw_redis, job_id), timeout=DEADLINE, what="the job")
        finally:
            await asyncio.wait_for(worker.close(), timeout=10)  # as `Worker.run()` ends: cancel, then shut down
        assert worker.main_task.done()
        left = [t.get_name() for t in asyncio.all_tasks()
                if not t.done() and t.get_name().startswith(("arq", "worker"))]
        assert left == []
        assert await subscribers(raw_redis) == 0
