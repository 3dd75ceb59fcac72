"""The live workers: which ones there are, their load, and which database each of them reads.

Every worker, embedded or separate, refreshes its entry with its heartbeat and removes it when
it stops. Two things are kept, written together:
- a sorted set of `"<database id> <worker name>"` scored by the moment the entry lapses: one
  read tells a web process whether some live worker shares its database (jobs it queues will
  be run, and their results land where it reads them) and whether one reads another (a
  misconfigured `DATABASE_URL`, reported by /v1/health and /ops);
- one expiring key per worker with its mode and load, for the operations page.

An entry lives three heartbeats, so a busy event loop that delays one does not make a worker
look dead (ARQ's own health key lives one heartbeat plus a second, and any worker that stops
deletes it for all of them).
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from typing import Any, TypedDict

from redis.asyncio import Redis

from backend import keys

HEARTBEATS_TO_LAPSE = 3


class WorkerLoad(TypedDict):
    """What a worker says of itself with each heartbeat."""

    mode: str  # "embedded" (in a web process) or "separate"
    running: bool
    jobs_in_flight: int
    max_jobs: int
    restarts: int


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"  # a forked process has its own pid


def _member(database_id: str) -> str:
    return f"{database_id} {worker_name()}"


async def heartbeat(redis: Redis, database_id: str, state: WorkerLoad, interval: float) -> None:
    """This worker is alive, reads `database_id`, and carries the load in `state`."""
    ttl = interval * HEARTBEATS_TO_LAPSE
    now = time.time()
    entry = {**state, "name": worker_name(), "database_id": database_id, "seen_at": now}
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zadd(keys.LIVE_WORKERS, {_member(database_id): now + ttl})
        pipe.zremrangebyscore(keys.LIVE_WORKERS, "-inf", now)
        pipe.pexpire(keys.LIVE_WORKERS, int(ttl * 1000))
        pipe.psetex(f"{keys.WORKER_PREFIX}{worker_name()}", int(ttl * 1000), json.dumps(entry))
        await pipe.execute()


async def leave(redis: Redis, database_id: str) -> None:
    """This worker stopped: it takes no more jobs."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zrem(keys.LIVE_WORKERS, _member(database_id))
        pipe.delete(f"{keys.WORKER_PREFIX}{worker_name()}")
        await pipe.execute()


@dataclass(frozen=True, slots=True)
class Census:
    """Live workers seen from one database."""

    same_database: int
    other_databases: int


async def census(redis: Redis, database_id: str) -> Census:
    """How many live workers read `database_id`, and how many read another database."""
    members = await redis.zrangebyscore(keys.LIVE_WORKERS, time.time(), "+inf")
    databases = [(m.decode() if isinstance(m, bytes) else m).split(" ", 1)[0] for m in members]
    same = sum(1 for d in databases if d == database_id)
    return Census(same_database=same, other_databases=len(databases) - same)


async def entries(redis: Redis) -> list[dict[str, Any]]:
    """Each live worker's mode, load and database, for the operations page."""
    names = [name async for name in redis.scan_iter(match=f"{keys.WORKER_PREFIX}*", count=100)]
    values = await redis.mget(names) if names else []
    return sorted((json.loads(v) for v in values if v), key=lambda w: w["name"])
