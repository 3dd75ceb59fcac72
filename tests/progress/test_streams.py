"""Progress streams that cost nothing while they wait: one news subscription per process wakes
the streams of a search with news; a quiet stream makes no call at all. Real Redis, real SQLite,
the streams as the progress route runs them (`follow`, `wait_for_search`)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import redis.asyncio as aioredis
import sqlalchemy as sa

from backend.progress import events
from backend.progress.events import StoredEvent, parse_event_id
from backend.progress.follow import follow, wait_for_search
from backend.services import Services, open_services
from backend.store.search_cache import SearchCache
from tests.conftest import free_port, start_redis
from tests.servers import eventually

QUIET_SECONDS = 3.0  # "several seconds" of a search with nothing to say


async def saved_search(services: Services) -> UUID:
    """A search answered, its summary and report still to come (no job runs in these tests)."""
    sid = uuid4()
    await services.store.save_results(sid, request={"ufs": ["SP"], "setor_id": "vestuario"}, setor_id="vestuario",
                                      total_raw=3, licitacoes=[], ufs_com_falha=[], avisos=[])
    return sid


def story(count: int) -> list[Any]:
    """`count` events of a search as it runs, then its end."""
    return [events.connecting_event("Vestuário", ["SP"]),
            *(events.fetching_event("SP", n, count, n) for n in range(1, count + 1)),
            events.results_ready_event(0), events.complete_event()]


class Calls:
    """Database statements and Redis commands, counted where they arrive (the engine and the server)."""

    def __init__(self, store: SearchCache, redis: aioredis.Redis) -> None:
        self.statements = 0
        self._redis = redis
        sa.event.listen(store.engine.sync_engine, "before_cursor_execute", self._count)

    def _count(self, *_: Any) -> None:
        self.statements += 1

    async def redis_commands(self) -> int:
        """Commands Redis ran so far, not counting the INFO that asks."""
        stats = await self._redis.info("commandstats")
        return sum(v["calls"] for k, v in stats.items() if k != "cmdstat_info")


async def take(stream: AsyncIterator[StoredEvent], into: list[StoredEvent]) -> None:
    async for stored in stream:
        into.append(stored)


@asynccontextmanager
async def following(services: Services, sid: UUID, count: int, cursor: tuple[int, int] = (0, 0),
                    **options: Any) -> AsyncIterator[list[list[StoredEvent]]]:
    """`count` streams of `sid` running in tasks; yields what each has received so far."""
    received: list[list[StoredEvent]] = [[] for _ in range(count)]
    tasks = [asyncio.create_task(take(follow(services.progress, services.store, sid, cursor,
                                             max_seconds=options.pop("max_seconds", 60), **options), into))
             for into in received]
    try:
        yield received
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)
    finally:
        for task in tasks:
            task.cancel()


def stages(received: list[StoredEvent]) -> list[str]:
    return [stored.event.stage for stored in received]


async def test_a_stream_waiting_on_a_quiet_search_makes_no_call(make_settings, redis_url: str) -> None:
    async with open_services(make_settings()) as services:
        sid = await saved_search(services)
        first, *rest = story(2)
        await services.progress.emit(str(sid), first)
        counted = Calls(services.store, aioredis.Redis.from_url(redis_url))
        async with following(services, sid, 20) as received:
            await eventually(lambda: all(stages(r) == ["connecting"] for r in received) or None, timeout=10,
                             step=0.05, what="every stream's first event")
            await eventually(lambda: services.progress.hub.live or None, timeout=10, step=0.05, what="the hub")
            statements, commands = counted.statements, await counted.redis_commands()
            await asyncio.sleep(QUIET_SECONDS)  # nothing happens: nothing may be asked
            assert (counted.statements - statements, await counted.redis_commands() - commands) == (0, 0)
            await services.progress.emit_many(str(sid), rest)
        assert all(stages(r) == ["connecting", "fetching", "fetching", "results_ready", "complete"] for r in received)


async def test_a_stream_waiting_for_its_search_wakes_on_its_first_event(make_settings, redis_url: str) -> None:
    async with open_services(make_settings()) as services:
        sid = uuid4()
        counted = Calls(services.store, aioredis.Redis.from_url(redis_url))
        waiting = asyncio.create_task(wait_for_search(services.progress, services.store, sid, 30))
        await eventually(lambda: services.progress.hub.live or None, timeout=10, step=0.05, what="the hub")
        await asyncio.sleep(0.2)  # its first look is over
        statements, commands = counted.statements, await counted.redis_commands()
        await asyncio.sleep(QUIET_SECONDS)
        assert (counted.statements - statements, await counted.redis_commands() - commands) == (0, 0)
        assert not waiting.done()
        # As a search starts: its row is stored, then its first event wakes whoever waits for it.
        assert await services.store.begin(sid, request={"ufs": ["SP"]}, setor_id="vestuario")
        await services.progress.emit(str(sid), events.connecting_event("Vestuário", ["SP"]))
        assert (await asyncio.wait_for(waiting, timeout=5)).search_id == sid
        assert await wait_for_search(services.progress, services.store, uuid4(), 0.3) is None


async def test_500_streams_in_one_process_get_every_event_once_in_order(make_settings) -> None:
    async with open_services(make_settings()) as services:
        sid = await saved_search(services)
        written = story(30)
        ids = [await services.progress.emit(str(sid), written[0])]
        async with following(services, sid, 500) as received:
            await eventually(lambda: all(r for r in received) and services.progress.hub.live or None,
                             timeout=10, step=0.05, what="the streams to wait")
            for start in range(1, len(written), 4):  # as a search writes them: a few at a time
                ids += await services.progress.emit_many(str(sid), written[start:start + 4])
                await asyncio.sleep(0.01)
        expected = [parse_event_id(i) for i in ids]
        assert all([stored.id for stored in r] == expected for r in received)
        assert all(stages(r)[-1] == "complete" and len(r) == len(written) for r in received)


async def test_a_reconnect_replays_only_what_it_missed(make_settings) -> None:
    async with open_services(make_settings()) as services:
        sid = await saved_search(services)
        written = story(5)
        ids = await services.progress.emit_many(str(sid), written[:4])
        async with following(services, sid, 1, cursor=parse_event_id(ids[1])) as received:
            ids += await services.progress.emit_many(str(sid), written[4:])
    assert [stored.id for stored in received[0]] == [parse_event_id(i) for i in ids[2:]]


def test_a_stage_sent_from_the_stored_search_then_live_is_passed_over(make_settings) -> None:
    """A stream opening between a search's results being saved and their event being appended
    sends `results_ready` from the stored row; the live one, after it, is passed over once. A stream
    that kept finding it again would hold its process's event loop: that process would stop
    answering anyone, so the scenario runs on a loop of its own, watched from here."""
    sent: list[list[str]] = []
    thread = threading.Thread(target=lambda: sent.append(asyncio.run(_sent_then_live(make_settings()))), daemon=True)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive(), "the stream's loop never gave way again"
    assert sent == [["results_ready", "llm_ready", "excel_ready", "complete"]], sent


async def _sent_then_live(settings: Any) -> list[str]:
    async with open_services(settings) as services:
        sid = await saved_search(services)  # its results saved; their live event not appended yet
        async with following(services, sid, 1) as received:
            await eventually(lambda: stages(received[0]) == ["results_ready"] or None, timeout=10, step=0.05,
                             what="results_ready from the stored search")
            await asyncio.sleep(0.01)  # the live event's id comes after the stored one's
            await services.progress.emit(str(sid), events.results_ready_event(0))
            await asyncio.sleep(0.3)  # the stream passes over it, and waits again
            await services.store.save_resumo(sid, events_resumo())
            await services.progress.emit(str(sid), events.llm_ready_event(events_resumo()))
            await services.store.save_excel(sid, status="ready", url="https://example.test/r.xlsx")
            await services.progress.emit(str(sid), events.excel_event("ready", "https://example.test/r.xlsx", None))
            await services.progress.emit(str(sid), events.complete_event())
        return stages(received[0])


async def test_streams_outlive_a_redis_restart_and_none_waits_past_its_cap(make_settings, tmp_path: Path) -> None:
    port = free_port()
    server = start_redis(port, tmp_path)
    try:
        async with open_services(make_settings(redis_url=f"redis://127.0.0.1:{port}/0")) as services:
            ended, capped = await asyncio.gather(
                _restart_while_waiting(services, lambda: _restart(server, port, tmp_path)),
                _capped_stream(services),
            )
            server = ended
        assert capped
    finally:
        server.terminate()
        server.wait()


async def _restart_while_waiting(services: Services, restart: Callable[[], Any]) -> Any:
    sid = await saved_search(services)
    await services.progress.emit(str(sid), events.connecting_event("Vestuário", ["SP"]))
    hub = services.progress.hub
    async with following(services, sid, 50) as received:
        await eventually(lambda: all(r for r in received) and hub.live or None, timeout=10, step=0.05,
                         what="the streams to wait")
        server = await asyncio.to_thread(restart)  # its streams are gone with it: nothing was kept
        await eventually(lambda: hub.subscriptions == 2 and hub.live or None, timeout=20, step=0.1,
                         what="the hub to subscribe again")
        await services.store.save_resumo(sid, events_resumo())
        await services.store.save_excel(sid, status="skipped")
        await services.progress.emit(str(sid), events.complete_event())
    assert all(stages(r)[0] == "connecting" and stages(r)[-1] == "complete" for r in received)
    assert all(len(set(stages(r))) == len(r) for r in received)  # each stage once
    return server


async def _capped_stream(services: Services) -> bool:
    """A stream of a search that never ends stops at its cap, Redis restarting or not."""
    sid = uuid4()
    assert await services.store.begin(sid, request={"ufs": ["SP"]}, setor_id="vestuario")  # searching, silent
    started = asyncio.get_running_loop().time()
    async with following(services, sid, 1, max_seconds=6) as received:
        pass
    return received == [[]] and asyncio.get_running_loop().time() - started < 30


def _restart(server: Any, port: int, workdir: Path) -> Any:
    server.terminate()
    server.wait(timeout=10)
    return start_redis(port, workdir)


def events_resumo() -> Any:
    from backend.schemas import ResumoLicitacoes

    return ResumoLicitacoes(resumo_executivo="Nada encontrado.", total_oportunidades=0, valor_total=0.0, destaques=[])
