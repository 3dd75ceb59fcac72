"""The PNCP client over real HTTP against the local PNCP double."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from backend.codes import now_brasilia
from backend.pncp.client import (
    PNCPClient,
    PNCPInvalidResponse,
    PNCPRateLimited,
    PNCPRequestRejected,
    PNCPServerError,
    PNCPUnreachable,
    RetryPolicy,
    describe_failure,
)
from backend.pncp.pacing import PNCPPacer
from tests.conftest import free_port
from tests.fakes.pncp import (
    db_error_500,
    hang,
    json_body,
    maintenance_page,
    rate_limited,
    server_error,
)
from tests.records import pncp_record


@pytest.fixture
def period() -> tuple[date, date]:
    """The ten days up to today, Brasília's day when the test runs."""
    end = now_brasilia().date()
    return end - timedelta(days=10), end


def make_client(base_url: str, *, retries: int = 2, timeout: float = 2.0, concurrency: int = 4, max_pages: int = 40,
                max_wait: float = 0.05) -> PNCPClient:
    return PNCPClient.create(
        base_url, pacer=PNCPPacer.create(1000.0, None, burst=100), timeout=timeout,
        retry=RetryPolicy(retries, 0.01, max_wait), concurrency=concurrency, max_pages=max_pages,
    )


@pytest.fixture
async def client(fake_pncp):
    pncp = make_client(fake_pncp.base_url)
    yield pncp
    await pncp.aclose()


def sp_records(n: int) -> list[dict]:
    return [pncp_record(f"Aquisição de uniformes {i}", uf="SP", sequencial=i + 1) for i in range(n)]


async def test_reads_every_page(client, fake_pncp, period) -> None:
    fake_pncp.set_records(sp_records(120))
    [result] = await client.fetch_ufs(["SP"], [6], *period)
    assert not result.failed
    assert len(result.records) == 120 and result.pages == 3
    assert sorted(r.pagina for r in fake_pncp.requests) == [1, 2, 3]


async def test_204_is_an_empty_page_without_retry(client, fake_pncp, period) -> None:
    fake_pncp.set_records([])
    page = await client.fetch_page("AC", 6, *period, 1)
    assert page.records == [] and page.total_pages == 0
    assert [r.status for r in fake_pncp.requests] == [204]


@pytest.mark.parametrize(
    "failure",
    [rate_limited(), db_error_500(), server_error(503), maintenance_page(), json_body({"unexpected": True})],
    ids=["429-html", "500-plain-string", "503-json", "200-html", "200-wrong-json"],
)
async def test_transient_failure_is_retried(client, fake_pncp, failure, period) -> None:
    fake_pncp.set_records(sp_records(3))
    fake_pncp.script([failure], uf="SP", pagina=1)
    page = await client.fetch_page("SP", 6, *period, 1)
    assert len(page.records) == 3
    assert [r.status for r in fake_pncp.requests] == [failure.status, 200]


@pytest.mark.parametrize(
    ("failure", "error", "words"),
    [
        (rate_limited(), PNCPRateLimited, "HTTP 429"),
        (db_error_500(), PNCPServerError, "HTTP 500"),
        (maintenance_page(), PNCPInvalidResponse, "não é JSON"),
    ],
)
async def test_persistent_failure_raises_readable_error_after_all_attempts(
    client, fake_pncp, failure, error, words, period
):
    fake_pncp.script([failure] * 3, uf="SP")
    with pytest.raises(error) as raised:
        await client.fetch_page("SP", 6, *period, 1)
    assert words in raised.value.message
    assert len(fake_pncp.requests) == 3  # first attempt + 2 retries


async def test_rejected_request_is_not_retried(client, fake_pncp, period) -> None:
    fake_pncp.script([server_error(400, "tamanhoPagina inválido")], uf="SP")
    with pytest.raises(PNCPRequestRejected):
        await client.fetch_page("SP", 6, *period, 1)
    assert len(fake_pncp.requests) == 1


async def test_retry_after_is_honoured(fake_pncp, period) -> None:
    pncp = make_client(fake_pncp.base_url, max_wait=5.0)
    fake_pncp.set_records(sp_records(1))
    fake_pncp.script([rate_limited(retry_after=1)], uf="SP")
    try:
        await pncp.fetch_page("SP", 6, *period, 1)
    finally:
        await pncp.aclose()
    first, second = fake_pncp.requests
    assert second.started - first.started >= 0.95


def test_retry_after_is_capped_and_backoff_grows() -> None:
    policy = RetryPolicy(max_retries=5, base=1.0, max_wait=10.0)
    assert policy.wait(1, PNCPRateLimited("x", retry_after=3600)) == 10.0
    assert policy.wait(1, PNCPRateLimited("x", retry_after=2)) == 2
    waits = [policy.wait(n, PNCPServerError("x")) for n in (1, 2, 3, 4, 5)]
    assert 0.5 <= waits[0] <= 1 and 1 <= waits[1] <= 2 and 2 <= waits[2] <= 4 and 4 <= waits[3] <= 8
    assert 5 <= waits[4] <= 10


async def test_timeout_is_retried_then_reported(fake_pncp, period) -> None:
    pncp = make_client(fake_pncp.base_url, timeout=0.3, retries=1)
    fake_pncp.script([hang(5), hang(5)], uf="SP")
    try:
        with pytest.raises(PNCPUnreachable) as raised:
            await pncp.fetch_page("SP", 6, *period, 1)
    finally:
        await pncp.aclose()
    assert "não respondeu em" in raised.value.message
    assert len(fake_pncp.requests) == 2


async def test_connection_refused_is_unreachable(period) -> None:
    pncp = make_client(f"http://127.0.0.1:{free_port()}/api/consulta", retries=1)
    try:
        with pytest.raises(PNCPUnreachable) as raised:
            await pncp.fetch_page("SP", 6, *period, 1)
    finally:
        await pncp.aclose()
    assert "conectar" in raised.value.message


async def test_failing_uf_is_reported_while_others_come_back(client, fake_pncp, period) -> None:
    fake_pncp.set_records(sp_records(60) + [pncp_record("Aquisição de uniformes RJ", uf="RJ", sequencial=999)])
    fake_pncp.script([db_error_500()] * 3, uf="RJ")
    done = []

    async def on_done(result):
        done.append(result.uf)

    sp, rj = await client.fetch_ufs(["SP", "RJ"], [6], *period, on_uf_done=on_done)
    assert not sp.failed and len(sp.records) == 60
    assert rj.failed and rj.records == []
    assert sorted(done) == ["RJ", "SP"]
    message = describe_failure(rj.uf, rj.errors, partial=bool(rj.records), attempts=3)
    assert message.startswith("RJ: modalidade 6, página 1: o PNCP está com erro interno (HTTP 500)")
    assert "3 tentativas" in message and "sem resultados" in message


async def test_a_failed_later_page_keeps_partial_results(client, fake_pncp, period) -> None:
    fake_pncp.set_records(sp_records(120))
    fake_pncp.script([db_error_500()] * 3, uf="SP", pagina=2)
    [sp] = await client.fetch_ufs(["SP"], [6], *period)
    assert sp.failed and len(sp.records) == 70
    assert "resultados parciais" in describe_failure(sp.uf, sp.errors, partial=bool(sp.records), attempts=3)


async def test_concurrency_is_bounded(fake_pncp, period) -> None:
    fake_pncp.latency = 0.05
    pncp = make_client(fake_pncp.base_url, concurrency=3)
    try:
        results = await pncp.fetch_ufs(["SP", "RJ", "MG", "BA"], [4, 5, 6, 7], *period)
    finally:
        await pncp.aclose()
    assert all(not r.failed for r in results)
    assert fake_pncp.max_in_flight == 3
    assert len(fake_pncp.requests) >= 16


async def test_page_limit_truncates_and_says_so(fake_pncp, period) -> None:
    pncp = make_client(fake_pncp.base_url, max_pages=2)
    fake_pncp.set_records(sp_records(160))
    try:
        [sp] = await pncp.fetch_ufs(["SP"], [6], *period)
    finally:
        await pncp.aclose()
    assert len(sp.records) == 100 and sp.truncated == [6]


async def test_demo_mode_uses_the_same_client() -> None:
    pncp = make_client("demo")
    try:
        [sp] = await pncp.fetch_ufs(["SP"], [6], date(2026, 11, 2), date(2026, 11, 13))
    finally:
        await pncp.aclose()
    assert not sp.failed and sp.pages >= 1 and len(sp.records) > 10
    assert {r["unidadeOrgao"]["ufSigla"] for r in sp.records} == {"SP"}


async def test_the_first_uf_is_read_whole_before_the_next_one_starts(fake_pncp, period) -> None:
    """Its later pages pass the next UF's first page: the first UF's rows can be shown at once."""
    sp = [pncp_record(f"Aquisição de uniformes {i}", uf="SP", sequencial=i + 1) for i in range(150)]
    rj = [pncp_record(f"Aquisição de fardas {i}", uf="RJ", sequencial=i + 501) for i in range(150)]
    fake_pncp.set_records(sp + rj)
    pncp = make_client(fake_pncp.base_url, concurrency=1)
    done: list[str] = []

    async def on_done(result) -> None:
        done.append(result.uf)

    try:
        await pncp.fetch_ufs(["SP", "RJ"], [6], *period, on_uf_done=on_done)
    finally:
        await pncp.aclose()
    assert [r.uf for r in fake_pncp.requests] == ["SP"] * 3 + ["RJ"] * 3
    assert done == ["SP", "RJ"]
