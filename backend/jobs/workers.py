"""The processes that run the jobs: an ARQ worker embedded in each web process, or separate
`arq backend.job_queue.WorkerSettings` processes. Both run the jobs of `backend.jobs.tasks` with the
same options, heartbeat into `backend.adapters.live_workers` with the database they read, and are
woken by a message when a job is queued (`JobWakeUp`)."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from types import MethodType
from typing import Any

from arq.worker import Worker
from redis.exceptions import RedisError

from backend import keys
from backend.adapters import live_workers
from backend.adapters.live_workers import WorkerLoad
from backend.adapters.queue_client import get_arq_pool
from backend.config import load_settings
from backend.jobs import attempts
from backend.jobs.context import JobContext
from backend.jobs.options import job_timeout, worker_options
from backend.runtime import metrics
from backend.runtime.logs import configure_logging
from backend.services import Services, open_services
from backend.store.schema import stop_on_schema_error

logger = logging.getLogger(__name__)


def separate_worker_settings() -> type:
    """The settings class ARQ's command builds a separate worker from, read from the environment."""
    settings = load_settings()
    options = worker_options(settings)
    options.update(
        redis_settings=None,
        redis_pool=get_arq_pool(settings),
        on_startup=_separate_worker_startup,
        on_shutdown=_separate_worker_shutdown,
        # On SIGTERM: stop taking jobs, let running ones finish, then hand the rest back.
        job_completion_wait=int(settings.worker_drain_seconds),
        job_timeout=job_timeout(settings),
    )
    return type("WorkerSettings", (), options)


async def _separate_worker_startup(ctx: JobContext) -> None:
    stack = AsyncExitStack()
    ctx["exit_stack"] = stack
    settings = load_settings()
    configure_logging(settings.log_format)
    with stop_on_schema_error():  # one line and exit status 2, not arq's traceback
        services = ctx["services"] = await stack.enter_async_context(open_services(settings))
    if settings.worker_metrics_port is not None:  # a separate service has no web process to scrape
        metrics.serve_on(settings.worker_metrics_port)
    announcer = asyncio.create_task(_announce_separate_worker(services), name="worker-announcer")
    stack.push_async_callback(_quietly, live_workers.leave(services.redis, services.database_id))
    stack.push_async_callback(_quietly, announcer)
    stack.callback(announcer.cancel)
    worker = _worker_starting(ctx)
    if worker is None:  # not started by ARQ's `Worker.main()`: the polls still find every job
        logger.warning("no ARQ worker around this startup: queued jobs wait for the next poll")
    elif not worker.burst:  # (a burst worker ends once the queue is empty: nothing to wake)
        wakeup = JobWakeUp.install(worker)
        # No wake-up once ARQ's loop has ended (SIGTERM), even if the shutdown hook never runs.
        this_task = asyncio.current_task()
        if this_task is not None:
            this_task.add_done_callback(lambda _: wakeup.cancel())
        stack.push_async_callback(wakeup.stop)


def _worker_starting(ctx: JobContext) -> Worker | None:
    """The ARQ worker whose startup hook is running with `ctx`.

    ARQ's command builds a plain `Worker` and hands its startup hook nothing but `ctx`, the dict
    the worker keeps as `worker.ctx`; it awaits the hook from `Worker.main()`. So the worker is
    the `self` of a frame up this call stack that holds that very dict. ARQ is pinned, and
    `tests/jobs/test_separate_worker_wakeup.py` runs the real command.
    """
    frame = inspect.currentframe()
    try:
        while frame is not None:
            candidate = frame.f_locals.get("self")
            if isinstance(candidate, Worker) and candidate.ctx is ctx:
                return candidate
            frame = frame.f_back
        return None
    finally:
        del frame  # no reference cycle through this frame


async def _announce_separate_worker(services: Services) -> None:
    """A separate worker's heartbeat: alive, on this database, with the load of the attempts it runs."""
    settings = services.settings
    while True:
        state = WorkerLoad(mode="separate", running=True, jobs_in_flight=attempts.running(),
                           max_jobs=settings.worker_max_jobs, restarts=0)
        try:
            await live_workers.heartbeat(services.redis, services.database_id, state, settings.worker_health_interval)
        except (RedisError, OSError) as exc:
            logger.info("could not announce this worker: %s", exc)
        await asyncio.sleep(settings.worker_health_interval)


async def _separate_worker_shutdown(ctx: JobContext) -> None:
    stack: AsyncExitStack | None = ctx.get("exit_stack")
    if stack is not None:
        await stack.aclose()


class JobWakeUp:
    """Runs a worker's poll step as soon as a job is queued: a message on `keys.JOBS_WAKEUP`, which
    `JobQueue.enqueue_job` publishes, instead of waiting for the next poll.

    A job then starts about a millisecond after it is queued instead of up to `poll_delay`
    later, and the poll, which costs CPU on every tick, is only the safety net for what sends no
    message (a retry's deferred start, a job handed back by a stopped worker, a lost message).
    The wake-up runs ARQ's own poll step (`_poll_iteration`), one at a time with ARQ's loop: both
    go through `poll()`. ARQ is pinned and the tests of `tests/jobs` cover it.

    The embedded workers are `WakeableWorker`s; a separate worker, a plain `Worker` built by
    ARQ's command, gets one from its startup hook (`JobWakeUp.install`).
    """

    def __init__(self, worker: Worker, arq_poll: Callable[[], Awaitable[None]]) -> None:
        self._worker = worker
        self._arq_poll = arq_poll  # ARQ's own `Worker._poll_iteration`, bound to `worker`
        self._lock = asyncio.Lock()
        self._listener: asyncio.Task[None] | None = None
        self._stopped = False

    @classmethod
    def install(cls, worker: Worker) -> JobWakeUp:
        """Gives a plain ARQ worker the wake-up: its loop's poll step now goes through `poll()`."""
        # ARQ's method as its class has it (a worker started again, `arq --watch`, has ours on it).
        wakeup = cls(worker, MethodType(type(worker)._poll_iteration, worker))
        worker._poll_iteration = wakeup.poll  # type: ignore[method-assign]
        return wakeup

    async def poll(self) -> None:
        """ARQ's poll step, never two at once. The first comes after the worker's startup (it is
        ready): it starts listening for queued jobs."""
        if self._listener is None and not self._stopped:
            self._listener = asyncio.create_task(self._listen(), name="arq-wakeup")
        async with self._lock:
            await self._arq_poll()

    def cancel(self) -> None:
        """No wake-up from now on (callable from a callback); `stop()` also waits for the listener."""
        self._stopped = True
        if self._listener is not None:
            self._listener.cancel()

    async def poll_step_over(self) -> None:
        """Returns when no poll step is under way: the next one sees what its caller changed."""
        async with self._lock:
            pass

    async def stop(self) -> None:
        self.cancel()
        if self._listener is not None:
            await _quietly(self._listener)

    def _may_poll(self) -> bool:
        return not self._stopped and self._worker.allow_pick_jobs  # (False while draining)

    async def _listen(self) -> None:
        while not self._stopped:
            if self._worker._pool is None:  # arq closed its pool: the worker is stopping
                return
            try:
                async with self._worker.pool.pubsub() as pubsub:
                    await pubsub.subscribe(keys.JOBS_WAKEUP)
                    if self._may_poll():  # a job queued while not subscribed woke nobody
                        await self.poll()
                    # Not `while True`: redis-py's read of a pubsub message can lose a cancel (its
                    # `asyncio.timeout(0)` takes a pending cancel for its own, python/cpython#134471),
                    # so `cancel()` also ends the loop by its flag.
                    while not self._stopped:
                        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                        if message is not None and self._may_poll():
                            await self.poll()
            except (RedisError, OSError) as exc:  # the poll carries on meanwhile
                logger.debug("wake-up listener: %r; subscribing again", exc)
            except Exception:
                logger.exception("wake-up listener failed; subscribing again")
            await asyncio.sleep(1.0)


class WakeableWorker(Worker):
    """ARQ's worker, woken by `JobWakeUp` when a job is queued, and announced among the live
    workers with its heartbeat: an embedded worker."""

    def __init__(self, *, database_id: str, describe: Callable[[], WorkerLoad], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._wakeup = JobWakeUp(self, super()._poll_iteration)
        self._database_id = database_id
        self._describe = describe

    async def record_health(self) -> None:
        """ARQ's heartbeat, plus this worker's entry among the live workers: its database and load."""
        last = self._last_health_check
        await super().record_health()
        if self._last_health_check != last:
            await live_workers.heartbeat(self.pool, self._database_id, self._describe(), self.health_check_interval)

    async def _poll_iteration(self) -> None:
        await self._wakeup.poll()

    async def poll_step_over(self) -> None:
        await self._wakeup.poll_step_over()

    async def main(self) -> None:
        try:
            await super().main()
        finally:
            await self._wakeup.stop()


class EmbeddedWorker:
    """An ARQ worker inside a web process, supervised: restarted with backoff when Redis fails,
    drained on shutdown (running jobs get a grace period; the rest go back to the queue).

    `clock` (monotonic seconds) and `sleep` are the supervisor's time: how long a worker ran,
    and the wait before the next one. Tests pass their own to see the backoff without waiting it.
    """

    def __init__(self, services: Services, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        self._services = services
        self._clock = clock
        self._sleep = sleep
        self._settings = services.settings
        self._worker: WakeableWorker | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._connected = False  # the current worker reached Redis and is polling
        self.restarts = 0

    @property
    def state(self) -> WorkerLoad:
        worker = self._worker
        return WorkerLoad(
            mode="embedded",
            running=self._connected and self._task is not None and not self._task.done(),
            jobs_in_flight=worker.job_counter if worker else 0,
            max_jobs=self._settings.worker_max_jobs,
            restarts=self.restarts,
        )

    def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name="embedded-arq-worker")

    def _new_worker(self) -> WakeableWorker:
        return WakeableWorker(
            database_id=self._services.database_id,
            describe=lambda: self.state,
            **worker_options(self._settings),
            redis_pool=get_arq_pool(self._settings),
            ctx={"services": self._services},
            on_startup=self._connected_to_redis,
            handle_signals=False,
            job_timeout=job_timeout(self._settings),
        )

    async def _connected_to_redis(self, _ctx: JobContext) -> None:
        self._connected = True

    async def _supervise(self) -> None:
        backoff = 1.0
        while not self._stopping:
            worker = self._worker = self._new_worker()
            started = self._clock()
            try:
                await worker.main()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis down or gone: the web process keeps serving, inline
                if not self._stopping:  # (stop() closing the worker ends main() with an error too)
                    logger.warning("embedded worker stopped (%r); restarting in %.0fs", exc, backoff)
            self._connected = False
            await _quietly(worker.pool.aclose())
            if self._stopping:
                return
            if self._clock() - started > 60:
                backoff = 1.0
            await self._sleep(backoff)
            backoff = min(backoff * 2, 30.0)
            self.restarts += 1

    async def stop(self) -> None:
        """Stops taking jobs, lets running ones finish within the drain time, hands back the rest."""
        self._stopping = True
        worker, task = self._worker, self._task
        if worker is None or task is None:
            return
        worker.allow_pick_jobs = False
        drain = self._settings.worker_drain_seconds
        deadline = asyncio.get_running_loop().time() + drain
        # A poll step under way may have read the queue before that, and starts what it read: once
        # it is over, every job this worker will run is among its tasks. (It can wait for a free
        # slot, that is for a job to end: the drain's time bounds that wait too.)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(worker.poll_step_over(), timeout=drain)
        running = [t for t in worker.tasks.values() if not t.done()]
        if running:
            logger.info("draining %d job(s) for up to %.0fs", len(running), drain)
            await asyncio.wait(running, timeout=max(deadline - asyncio.get_running_loop().time(), 0.0))
        # Jobs still running are cancelled; ARQ puts a cancelled job back in the queue. Closing its
        # pool is what ends ARQ's loop: a cancel can be lost in one of its Redis reads (see _listen).
        await _quietly(live_workers.leave(worker.pool, self._services.database_id))
        await _quietly(worker.close())
        task.cancel()
        await _quietly(task)
        logger.info("embedded worker stopped")


async def _quietly(awaitable: Awaitable[Any]) -> None:
    try:
        await awaitable
    except (Exception, asyncio.CancelledError) as exc:  # shutting down: nothing left to tell
        logger.debug("ignored while stopping: %r", exc)

