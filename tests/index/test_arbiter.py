"""The AI arbiter over the OpenAI-compatible double, on SQLite and PostgreSQL: what the rules leave
in doubt is read in batches, verdicts reach the index and are reused, the daily budget holds, a
failure leaves the rules' answer, and users' jobs go first."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import openai
import pytest
from arq.connections import ArqRedis
from redis.asyncio import Redis

from backend import keys
from backend.adapters.queue_client import JobQueue
from backend.codes import now_brasilia
from backend.domain.matching import objeto_key, prepare
from backend.domain.sectors import load_sectors, read_boundaries
from backend.index.arbiter import Arbiter, Outcome
from backend.index.publications import index_rows
from backend.store.publications import PublicationStore
from backend.store.search_cache import SearchCache
from backend.store.verdicts import VerdictStore
from tests.clocks import MovableClock
from tests.fakes.openai_server import CLASSIFY_SCHEMA, FakeOpenAI, server_error, slow
from tests.records import pncp_record
from tests.servers import eventually

SECTORS = load_sectors()
DAY = date(2026, 11, 20)
NOON = datetime(2026, 11, 20, 12, 0)
START = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # noon in Brasília
PAPER = "material_escritorio"  # "papel" alone is a generic word of it: the rules doubt


def papel(n: int) -> str:
    return f"Fornecimento de papel para o almoxarifado do prédio {n}"


@dataclass
class Setup:
    publications: PublicationStore
    verdicts: VerdictStore
    llm: FakeOpenAI
    users_first: list[bool]
    clock: MovableClock
    make: Callable[..., Arbiter]


@pytest.fixture
def llm() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key="sk-test") as fake:
        fake.classifier = lambda objeto: [PAPER] if "papel" in objeto.lower() else []
        yield fake


@pytest.fixture
async def setup(database_url: str, llm: FakeOpenAI, redis_url: str) -> AsyncIterator[Setup]:
    cache = SearchCache.from_url(database_url)
    await cache.migrate()
    clock = MovableClock(START)
    publications = PublicationStore(cache.engine, clock)
    verdicts = VerdictStore(cache.engine, publications, clock)
    client = openai.AsyncOpenAI(api_key="sk-test", base_url=llm.base_url, max_retries=0)
    redis = Redis.from_url(redis_url)
    users_first: list[bool] = [False]

    async def users_waiting() -> bool:
        return users_first[0]

    def make(*, daily_tokens: int = 1_000_000, timeout: float = 5.0, batch: int = 20,
             waiting: Callable[[], object] | None = None) -> Arbiter:
        return Arbiter(verdicts=verdicts, sectors=SECTORS, boundaries=read_boundaries(), client=client,
                       model="gpt-test", timeout=timeout, daily_tokens=daily_tokens,
                       users_first=waiting or users_waiting, redis=redis, name="test", lease_seconds=5,
                       clock=clock, batch=batch)

    yield Setup(publications, verdicts, llm, users_first, clock, make)
    await client.close()
    await redis.aclose()
    await cache.close()


async def write(publications: PublicationStore, *objetos: str, first: int = 1) -> list[str]:
    records = [pncp_record(objeto, publicado=NOON, sequencial=first + n) for n, objeto in enumerate(objetos)]
    await publications.write(index_rows(records, SECTORS))
    return [record["numeroControlePNCP"] for record in records]


async def in_sector(publications: PublicationStore, setor: str) -> dict[str, str | None]:
    """codigo -> classificacao of the sector's publications of DAY."""
    rows = await publications.candidates(setor, ["SP"], [6], DAY, DAY)
    return {json.loads(row.licitacao_json)["codigo_pncp"]: row.classificacao for row in rows}


def classify_requests(llm: FakeOpenAI) -> list[list[str]]:
    """The objetos of each arbiter request, in order."""
    batches = []
    for request in llm.requests:
        if request.response_format and request.response_format["json_schema"]["name"] == CLASSIFY_SCHEMA:
            batches.append([line.split(". ", 1)[1] for line in request.user_prompt.splitlines()])
    return batches


def test_the_objetos_of_these_tests_are_in_doubt_for_the_rules() -> None:
    reading = SECTORS[PAPER].rules.read(prepare(papel(1)))
    assert reading.found == [] and reading.doubtful, reading


async def test_doubts_are_read_in_batches_and_reach_the_index_as_ia(setup: Setup) -> None:
    codes = await write(setup.publications, *(papel(n) for n in range(45)))
    assert await in_sector(setup.publications, PAPER) == {}
    arbiter = setup.make(batch=20)
    outcomes = [await arbiter.run_once() for _ in range(4)]
    assert outcomes == [Outcome.DECIDED] * 3 + [Outcome.IDLE]
    assert [len(batch) for batch in classify_requests(setup.llm)] == [20, 20, 5]
    assert sorted(text for batch in classify_requests(setup.llm) for text in batch) == sorted(papel(n) for n in range(45))
    assert await in_sector(setup.publications, PAPER) == dict.fromkeys(codes, "ia")
    budget = await arbiter.budget()
    assert budget.calls == 3 and budget.spent > 0


async def test_a_verdict_serves_every_publication_of_the_same_objeto(setup: Setup) -> None:
    [first] = await write(setup.publications, papel(1))
    assert await setup.make().run_once() is Outcome.DECIDED
    # The same text, shouted and without accents, published later by another buyer.
    [again] = await write(setup.publications, papel(1).upper().replace("É", "E"), first=50)
    assert objeto_key(prepare(papel(1))) == objeto_key(prepare(papel(1).upper().replace("É", "E")))
    assert await in_sector(setup.publications, PAPER) == {first: "ia", again: "ia"}
    assert len(setup.llm.requests) == 1
    assert await setup.make().run_once() is Outcome.IDLE  # a new process: nothing to ask again


async def test_the_daily_budget_stops_the_arbiter_until_the_next_brasilia_day(setup: Setup) -> None:
    await write(setup.publications, *(papel(n) for n in range(10)))
    arbiter = setup.make(daily_tokens=1_500, batch=4)  # room for one batch of four today
    assert await arbiter.run_once() is Outcome.DECIDED
    assert await arbiter.run_once() is Outcome.BUDGET
    assert len(setup.llm.requests) == 1
    spent = (await arbiter.budget()).spent
    assert 0 < spent <= 1_500 and (await arbiter.budget()).left == 1_500 - spent
    setup.clock.advance(timedelta(hours=12))  # 03:00 in Brasília: another day
    assert await arbiter.run_once() is Outcome.DECIDED
    assert len(setup.llm.requests) == 2


async def test_a_failure_or_a_timeout_leaves_the_rules_answer_and_asks_again_later(setup: Setup) -> None:
    [code] = await write(setup.publications, papel(1))
    setup.llm.script([server_error(500), slow(3.0)])
    arbiter = setup.make(timeout=0.5)
    assert await arbiter.run_once() is Outcome.FAILED
    assert await arbiter.run_once() is Outcome.FAILED  # the timeout
    assert await in_sector(setup.publications, PAPER) == {}  # the rules' answer stands
    assert await arbiter.run_once() is Outcome.DECIDED
    assert await in_sector(setup.publications, PAPER) == {code: "ia"}


async def test_a_verdict_of_no_sector_is_kept_too(setup: Setup) -> None:
    setup.llm.classifier = lambda objeto: []
    await write(setup.publications, papel(1))
    assert await setup.make().run_once() is Outcome.DECIDED
    assert await in_sector(setup.publications, PAPER) == {}
    counts = await setup.verdicts.counts()
    assert (counts.decided, counts.pending, counts.by_ai) == (1, 0, 0)
    assert await setup.make().run_once() is Outcome.IDLE


async def test_users_jobs_go_first(setup: Setup, redis_url: str) -> None:
    await write(setup.publications, papel(1))
    pool = ArqRedis.from_url(redis_url)
    queue = JobQueue(pool, "db")
    try:
        await pool.delete(keys.QUEUE)
        await pool.zadd(keys.QUEUE, {keys.llm_job("a-search"): 1})  # a user's summary, queued or running
        arbiter = setup.make(waiting=queue.users_jobs_waiting)
        assert await arbiter.run_once() is Outcome.USERS_FIRST
        assert setup.llm.requests == []
        await pool.zrem(keys.QUEUE, keys.llm_job("a-search"))
        await pool.zadd(keys.QUEUE, {"keep_index_fresh:123": 1})  # a cron tick does not count
        assert await arbiter.run_once() is Outcome.DECIDED
    finally:
        await pool.delete(keys.QUEUE)
        await pool.aclose()


async def test_a_search_over_the_index_shows_what_the_arbiter_put_in_the_sector(
    make_settings, client_for, fake_pncp, database_url, llm: FakeOpenAI,
) -> None:
    published = (now_brasilia() - timedelta(days=1)).replace(microsecond=0)
    doubtful = pncp_record(papel(1), publicado=published, sequencial=1)
    sure = pncp_record("Aquisição de papel sulfite A4 e canetas esferográficas", publicado=published, sequencial=2)
    nothing = pncp_record("Fornecimento de papel para a gráfica do prédio 2", publicado=published, sequencial=3)
    llm.classifier = lambda objeto: [PAPER] if "almoxarifado" in objeto else []
    fake_pncp.set_records([doubtful, sure, nothing])
    settings = make_settings(database_url=database_url, pncp_base_url=fake_pncp.base_url, embedded_worker=True,
                             index_days=2, index_modalidades="6", openai_api_key="sk-test",
                             openai_base_url=llm.base_url, ops_token="ops")
    body = {"ufs": ["SP"], "data_inicial": published.date().isoformat(), "data_final": published.date().isoformat(),
            "setor_id": PAPER, "somente_abertas": False}
    async with client_for(settings) as client:
        async def decided() -> dict | None:
            arbiter = (await client.get("/ops/data", headers={"Authorization": "Bearer ops"})).json()["arbiter"]
            return arbiter if arbiter["pending"] == 0 and arbiter["decided"] >= 2 else None

        arbiter = await eventually(decided, timeout=30, step=0.1, what="the arbiter's verdicts")
        answer = (await client.post("/v1/buscar", json=body)).json()
        metrics = (await client.get("/metrics")).text
        ops_page = (await client.get("/ops?token=ops")).text
    assert arbiter["status"] == "on" and arbiter["by_ai"] == 1 and arbiter["today"]["spent"] > 0
    found = {lic["codigo_pncp"]: lic for lic in answer["licitacoes"]}
    assert found[doubtful["numeroControlePNCP"]]["classificacao"] == "ia"
    assert found[doubtful["numeroControlePNCP"]]["palavras_encontradas"] == []
    assert found[sure["numeroControlePNCP"]]["classificacao"] == "palavras"
    assert nothing["numeroControlePNCP"] not in found  # the arbiter said no sector: the rules' answer stands
    assert [lic["classificacao"] for lic in answer["licitacoes"]] == ["palavras", "ia"]  # AI's rank below
    assert 'smartlic_arbiter_tokens_today{kind="spent"}' in metrics
    assert 'data-testid="arbiter"' in ops_page and "tokens gastos" in ops_page
