"""Excel storage: local files behind signed links, Supabase Storage through the real client, the download route."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import UUID, uuid4

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from backend.adapters.storage import (
    SIGNING_KEY_FILE,
    XLSX_CONTENT_TYPE,
    FileGone,
    LinkRejected,
    LocalStorage,
    StorageError,
    SupabaseStorage,
    open_storage,
    signing_key_for,
)
from backend.api import arquivos
from tests.fakes.supabase_storage import (
    FakeSupabaseStorage,
    duplicate,
    gateway_error,
    server_error,
    slow,
    storage_error,
)

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "excel-reports"
KEY = "sb-service-role-SECRET-0123456789abcdef"
XLSX = b"PK\x03\x04" + bytes(range(256)) * 40 + b"\r\n--boundary\r\n\r\n"  # binary, CRLFs included


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def link_parts(url: str) -> tuple[str, str, str]:
    parts = urlsplit(url)
    q = query(url)
    return parts.path.rsplit("/", 1)[-1], q["expira"], q["token"]


# ------------------------------------------------------------------------------------------
# LocalStorage
# ------------------------------------------------------------------------------------------


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def local(tmp_path: Path, clock: Clock) -> LocalStorage:
    directory = tmp_path / "files"
    return LocalStorage(directory, signing_key_for(directory, None), 3600, clock=clock)


async def test_local_upload_writes_file_and_answers_relative_signed_url(local: LocalStorage, clock: Clock) -> None:
    search_id = uuid4()
    url = await local.upload_excel(XLSX, search_id)

    parts = urlsplit(url)
    assert not parts.scheme and not parts.netloc
    assert parts.path == f"/v1/arquivos/{search_id}.xlsx"
    assert query(url)["expira"] == str(int(clock.now) + 3600)
    assert (local.directory / f"{search_id}.xlsx").read_bytes() == XLSX
    assert sorted(p.name for p in local.directory.iterdir()) == sorted([SIGNING_KEY_FILE, f"{search_id}.xlsx"])
    assert local.name == "local"

    path = local.verify(*link_parts(url))
    assert path == local.directory / f"{search_id}.xlsx"
    assert path.read_bytes() == XLSX


async def test_local_upload_overwrites_a_retried_job(local: LocalStorage) -> None:
    search_id = uuid4()
    await local.upload_excel(b"first", search_id)
    url = await local.upload_excel(b"second", search_id)
    assert local.verify(*link_parts(url)).read_bytes() == b"second"
    assert [p.name for p in local.directory.iterdir() if p.name.endswith(".tmp")] == []


async def test_local_tampered_links_are_rejected(local: LocalStorage) -> None:
    a, b = uuid4(), uuid4()
    name, expira, token = link_parts(await local.upload_excel(XLSX, a))
    await local.upload_excel(XLSX, b)

    flipped = ("A" if token[0] != "A" else "B") + token[1:]
    for bad in [
        (name, expira, flipped),
        (name, expira, token[:-1]),
        (name, expira, ""),
        (name, expira, token + "="),
        (name, str(int(expira) + 86400), token),  # extended validity, same token
        (f"{b}.xlsx", expira, token),  # token of another file
        (name, "", token),
        (name, "-1", token),
        (name, "1e10", token),
        (name, expira, "é" * 43),
    ]:
        with pytest.raises(LinkRejected) as info:
            local.verify(*bad)
        assert info.value.message.startswith("Link inválido")


async def test_local_expired_link_is_rejected(local: LocalStorage, clock: Clock) -> None:
    url = await local.upload_excel(XLSX, uuid4())
    clock.now += 3600
    assert local.verify(*link_parts(url)).is_file()  # valid up to and including the expiry second
    clock.now += 1
    with pytest.raises(LinkRejected, match="expirou"):
        local.verify(*link_parts(url))


@pytest.mark.parametrize(
    "name",
    [
        "../secret.xlsx",
        "../../etc/passwd",
        "/etc/passwd",
        "..%2F..%2Fetc%2Fpasswd.xlsx",
        "..\\x.xlsx",
        SIGNING_KEY_FILE,
        "{id}.xlsx/../" + SIGNING_KEY_FILE,
        "../files/{id}.xlsx",
        "{id}.xls",
        "{id}.xlsx.tmp",
        ".{id}.xlsx.abc.tmp",
        "{id}.csv",
        "{id}",
        "{id}.xlsx\n",
        "{id}.xlsx\x00",
        "{ID}.xlsx",
        "{hex}.xlsx",
        "",
    ],
)
async def test_local_names_other_than_uuid_xlsx_are_rejected_even_when_signed(
    local: LocalStorage, name: str
) -> None:
    search_id = uuid4()
    await local.upload_excel(XLSX, search_id)
    name = name.format(id=search_id, ID=str(search_id).upper(), hex=search_id.hex)
    expira = str(int(time.time()) + 3600)
    token = local._token(name, int(expira))  # a genuine signature for the bad name
    with pytest.raises(LinkRejected, match="não é uma planilha"):
        local.verify(name, expira, token)


async def test_local_missing_file_is_gone_not_rejected(local: LocalStorage) -> None:
    url = await local.upload_excel(XLSX, uuid4())
    name, expira, token = link_parts(url)
    (local.directory / name).unlink()
    with pytest.raises(FileGone) as info:
        local.verify(name, expira, token)
    assert not isinstance(info.value, LinkRejected)
    assert "não está mais disponível" in info.value.message


async def test_local_check(tmp_path: Path) -> None:
    good = LocalStorage(tmp_path / "new" / "dir", b"k" * 32, 60)
    await good.check()
    assert (tmp_path / "new" / "dir").is_dir()

    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    bad = LocalStorage(blocker, b"k" * 32, 60)
    with pytest.raises(StorageError, match="não pode ser usada"):
        await bad.check()
    with pytest.raises(StorageError, match="Não foi possível salvar a planilha"):
        await bad.upload_excel(XLSX, uuid4())


def test_signing_key_is_created_once_and_shared(tmp_path: Path) -> None:
    directory = tmp_path / "files"
    first = signing_key_for(directory, None)
    second = signing_key_for(directory, None)
    assert first == second and len(first) == 32
    key_file = directory / SIGNING_KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert [p.name for p in directory.iterdir()] == [SIGNING_KEY_FILE]  # no temp file left behind

    web1 = LocalStorage(directory, first, 600)
    web2 = LocalStorage(directory, signing_key_for(directory, None), 600)
    other = LocalStorage(directory, signing_key_for(tmp_path / "elsewhere", None), 600)
    (directory / "00000000-0000-4000-8000-000000000001.xlsx").write_bytes(XLSX)
    url = web1.signed_url("00000000-0000-4000-8000-000000000001.xlsx")
    assert web2.verify(*link_parts(url)).read_bytes() == XLSX
    with pytest.raises(LinkRejected):
        other.verify(*link_parts(url))


def test_configured_signing_key_wins_and_creates_no_file(tmp_path: Path) -> None:
    assert signing_key_for(tmp_path / "files", "  a-configured-key-of-32-characters!  ") == (
        b"a-configured-key-of-32-characters!"
    )
    assert not (tmp_path / "files" / SIGNING_KEY_FILE).exists()
    assert signing_key_for(tmp_path / "files", "") == signing_key_for(tmp_path / "files", None)  # blank: unset
    with pytest.raises(StorageError, match="curta demais"):
        signing_key_for(tmp_path / "files", "short")


def test_corrupt_key_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / SIGNING_KEY_FILE).write_text("not a key")
    os.utime(tmp_path / SIGNING_KEY_FILE, (time.time() - 60, time.time() - 60))  # not being written right now
    with pytest.raises(StorageError, match="corrompido"):
        signing_key_for(tmp_path, None)


def test_concurrent_key_creation_from_threads_ends_with_one_key(tmp_path: Path) -> None:
    def create(directory: Path, barrier: threading.Barrier) -> bytes:
        barrier.wait()
        return signing_key_for(directory, None)

    for round_ in range(5):
        directory = tmp_path / f"round{round_}"
        barrier = threading.Barrier(16)
        with ThreadPoolExecutor(16) as pool:
            keys = list(pool.map(create, [directory] * 16, [barrier] * 16))
        assert len(set(keys)) == 1
        assert bytes.fromhex((directory / SIGNING_KEY_FILE).read_text()) == keys[0]
        assert [p.name for p in directory.iterdir()] == [SIGNING_KEY_FILE]


def test_concurrent_key_creation_from_processes_ends_with_one_key(tmp_path: Path) -> None:
    directory = tmp_path / "files"
    # A barrier across processes: each one, imported, says so and blocks reading a pipe; closing
    # the pipe's write end, once all have said so, releases them together.
    go_read, go_write = os.pipe()
    code = (
        "import os, sys; from pathlib import Path; from backend.adapters.storage import signing_key_for\n"
        "print('ready', flush=True)\n"
        "os.read(int(sys.argv[2]), 1)  # returns (empty) when the test closes the write end\n"
        "print(signing_key_for(Path(sys.argv[1]), None).hex())\n"
    )
    procs: list[subprocess.Popen[str]] = []
    try:
        for _ in range(8):
            procs.append(subprocess.Popen(
                [sys.executable, "-c", code, str(directory), str(go_read)], pass_fds=(go_read,),
                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            ))
        for proc in procs:
            assert proc.stdout is not None
            assert (line := proc.stdout.readline()) == "ready\n", f"a process did not get ready: {line!r}"
    finally:
        os.close(go_read)
        os.close(go_write)  # go
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        outputs.append(out.strip())
    assert len(set(outputs)) == 1
    assert (directory / SIGNING_KEY_FILE).read_text() == outputs[0]


async def test_open_storage_chooses_by_configuration(tmp_path: Path, fake: FakeSupabaseStorage) -> None:
    local = await open_storage(directory=tmp_path / "files", ttl_seconds=60)
    assert isinstance(local, LocalStorage) and local.name == "local"
    remote = await open_storage(
        directory=tmp_path / "files", ttl_seconds=60, supabase_url=fake.url, supabase_service_role_key=KEY,
        bucket=BUCKET, timeout=2,
    )
    try:
        assert isinstance(remote, SupabaseStorage) and remote.name == "supabase"
    finally:
        await remote.aclose()
    forced = await open_storage(
        backend="local", directory=tmp_path / "files", ttl_seconds=60, supabase_url=fake.url,
        supabase_service_role_key=KEY,
    )
    assert isinstance(forced, LocalStorage)
    with pytest.raises(StorageError, match="chave de serviço"):
        await open_storage(backend="supabase", directory=tmp_path, ttl_seconds=60, supabase_url=fake.url)


# ------------------------------------------------------------------------------------------
# SupabaseStorage against the double, through the real supabase client
# ------------------------------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeSupabaseStorage]:
    with FakeSupabaseStorage(key=KEY, buckets=[BUCKET]) as double:
        yield double


@pytest.fixture
async def supa(fake: FakeSupabaseStorage) -> AsyncIterator[SupabaseStorage]:
    storage = await SupabaseStorage.create(fake.url, KEY, BUCKET, 600, timeout=1.0)
    yield storage
    await storage.aclose()


def assert_no_key(error: BaseException) -> None:
    for text in (str(error), repr(error), getattr(error, "message", ""), getattr(error, "detail", "") or ""):
        assert KEY not in text


async def test_supabase_upload_sign_download(fake: FakeSupabaseStorage, supa: SupabaseStorage) -> None:
    search_id = uuid4()
    url = await supa.upload_excel(XLSX, search_id)

    assert url.startswith(f"{fake.url}/storage/v1/object/sign/{BUCKET}/excel/{search_id}.xlsx?")
    assert query(url)["token"]
    assert supa.name == "supabase"
    async with httpx.AsyncClient() as client:  # the browser: no key
        response = await client.get(url)
    assert response.status_code == 200
    assert response.content == XLSX
    assert response.headers["content-type"] == XLSX_CONTENT_TYPE
    assert response.headers["content-disposition"] == f'attachment; filename="smartlic-{str(search_id)[:8]}.xlsx"'

    upload, sign, download = fake.requests
    expected = ("upload", "POST", f"/storage/v1/object/{BUCKET}/excel/{search_id}.xlsx")
    assert (upload.op, upload.method, upload.path) == expected
    assert upload.headers["authorization"] == f"Bearer {KEY}" and upload.headers["apikey"] == KEY
    assert upload.headers["x-upsert"] == "true"
    assert sign.op == "sign" and int(sign.json()["expiresIn"]) == 600
    assert "authorization" not in download.headers
    stored = fake.get(BUCKET, f"excel/{search_id}.xlsx")
    assert stored is not None and stored.content_type == XLSX_CONTENT_TYPE and stored.data == XLSX


async def test_supabase_upsert_overwrites(fake: FakeSupabaseStorage, supa: SupabaseStorage) -> None:
    search_id = uuid4()
    await supa.upload_excel(b"first version", search_id)
    url = await supa.upload_excel(b"second version", search_id)
    stored = fake.get(BUCKET, f"excel/{search_id}.xlsx")
    assert stored is not None and stored.data == b"second version" and stored.version == 2
    async with httpx.AsyncClient() as client:
        assert (await client.get(url)).content == b"second version"


@pytest.mark.parametrize("fault", [server_error(500), server_error(503, "Service Unavailable"), gateway_error(502)])
async def test_supabase_5xx_is_a_readable_retryable_error(
    fake: FakeSupabaseStorage, supa: SupabaseStorage, fault: Any
) -> None:
    fake.script(fault, op="upload")
    with pytest.raises(StorageError) as info:
        await supa.upload_excel(XLSX, uuid4())
    error = info.value
    assert error.message.startswith("Não foi possível salvar a planilha no Supabase Storage: o serviço está com falha")
    assert error.retryable and error.status == fault.status
    assert_no_key(error)
    assert fake.objects == {}


async def test_supabase_sign_failure_after_upload_is_an_error(fake: FakeSupabaseStorage, supa: SupabaseStorage) -> None:
    fake.script(server_error(500), op="sign")
    with pytest.raises(StorageError, match="falha"):
        await supa.upload_excel(XLSX, uuid4())


async def test_supabase_slow_beyond_timeout_is_an_error(fake: FakeSupabaseStorage, supa: SupabaseStorage) -> None:
    fake.script(slow(5.0), op="upload")
    started = time.monotonic()
    with pytest.raises(StorageError) as info:
        await supa.upload_excel(XLSX, uuid4())
    assert time.monotonic() - started < 3.0
    assert "não respondeu em 1 s" in info.value.message and info.value.retryable
    assert_no_key(info.value)


async def test_supabase_slow_within_timeout_succeeds(fake: FakeSupabaseStorage, supa: SupabaseStorage) -> None:
    fake.script(slow(0.3), op="upload")
    assert (await supa.upload_excel(XLSX, uuid4())).startswith(fake.url)


async def test_supabase_duplicate_body_is_a_conflict(fake: FakeSupabaseStorage, supa: SupabaseStorage) -> None:
    fake.script(duplicate(), op="upload")
    with pytest.raises(StorageError) as info:
        await supa.upload_excel(XLSX, uuid4())
    assert "já existe um arquivo" in info.value.message
    assert info.value.status == 409 and not info.value.retryable
    assert_no_key(info.value)


async def test_fake_answers_the_real_duplicate_without_upsert(fake: FakeSupabaseStorage, supa: SupabaseStorage) -> None:
    from storage3.exceptions import StorageApiError

    fake.put(BUCKET, "excel/x.xlsx", b"old")
    bucket = supa._client.storage.from_(BUCKET)
    with pytest.raises(StorageApiError) as info:
        await bucket.upload("excel/x.xlsx", b"new", file_options={"content-type": XLSX_CONTENT_TYPE})
    assert (info.value.status, info.value.code) == ("409", "Duplicate")
    assert fake.requests[-1].status == 400
    assert fake.get(BUCKET, "excel/x.xlsx").data == b"old"  # type: ignore[union-attr]


async def test_supabase_wrong_key_is_reported_without_the_key(fake: FakeSupabaseStorage) -> None:
    wrong = "sb-WRONG-secret-key-987654321"
    storage = await SupabaseStorage.create(fake.url, wrong, BUCKET, 600, timeout=1.0)
    try:
        with pytest.raises(StorageError) as info:
            await storage.upload_excel(XLSX, uuid4())
        assert "chave de acesso foi recusada" in info.value.message
        assert wrong not in str(info.value) and wrong not in (info.value.detail or "")
        with pytest.raises(StorageError, match="chave de acesso"):
            await storage.check()
    finally:
        await storage.aclose()


async def test_supabase_missing_bucket(fake: FakeSupabaseStorage) -> None:
    storage = await SupabaseStorage.create(fake.url, KEY, "no-such-bucket", 600, timeout=1.0)
    try:
        with pytest.raises(StorageError, match="o bucket 'no-such-bucket' não existe"):
            await storage.check()
        with pytest.raises(StorageError, match="o bucket 'no-such-bucket' não existe"):
            await storage.upload_excel(XLSX, uuid4())
    finally:
        await storage.aclose()


async def test_supabase_check(fake: FakeSupabaseStorage, supa: SupabaseStorage) -> None:
    await supa.check()
    assert fake.requests[-1].op == "bucket" and fake.requests[-1].path == f"/storage/v1/bucket/{BUCKET}"
    fake.script(gateway_error(503), op="bucket")
    with pytest.raises(StorageError, match="não está disponível: o serviço está com falha"):
        await supa.check()


async def test_supabase_unreachable_is_a_connection_error() -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    storage = await SupabaseStorage.create(f"http://127.0.0.1:{port}", KEY, BUCKET, 600, timeout=1.0)
    try:
        with pytest.raises(StorageError) as info:
            await storage.upload_excel(XLSX, uuid4())
        assert "não foi possível conectar" in info.value.message and info.value.retryable
        assert_no_key(info.value)
    finally:
        await storage.aclose()


async def test_supabase_unexpected_4xx(fake: FakeSupabaseStorage, supa: SupabaseStorage) -> None:
    fake.script(storage_error("413", "Payload too large", "The object exceeded the maximum allowed size"))
    with pytest.raises(StorageError, match="maior do que o limite"):
        await supa.upload_excel(XLSX, uuid4())
    fake.script(storage_error("422", "Weird", "something"))
    with pytest.raises(StorageError, match=r"recusada \(HTTP 422\)"):
        await supa.upload_excel(XLSX, uuid4())


@pytest.mark.parametrize(
    ("url", "key", "match"),
    [("not-a-url", KEY, "Endereço do Supabase inválido"), ("https://x.supabase.co", "", "chave de serviço")],
)
async def test_supabase_bad_configuration(url: str, key: str, match: str) -> None:
    with pytest.raises(StorageError, match=match):
        await SupabaseStorage.create(url, key, BUCKET, 600)


# ------------------------------------------------------------------------------------------
# GET /v1/arquivos/{name}
# ------------------------------------------------------------------------------------------


@asynccontextmanager
async def arquivos_client(storage: Any) -> AsyncIterator[httpx.AsyncClient]:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[dict[str, Any]]:
        yield {"services": SimpleNamespace(storage=storage)}

    app = FastAPI(lifespan=lifespan)
    app.include_router(arquivos.router, prefix="/v1")
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://smartlic.test") as client:
            yield client


async def test_route_downloads_the_file(local: LocalStorage) -> None:
    search_id = UUID("3f2b8c1e-6a4d-4e8f-9b1a-2c3d4e5f6a7b")
    url = await local.upload_excel(XLSX, search_id)
    async with arquivos_client(local) as client:
        response = await client.get(url)
    assert response.status_code == 200
    assert response.content == XLSX
    assert response.headers["content-type"] == XLSX_CONTENT_TYPE
    assert response.headers["content-disposition"] == 'attachment; filename="smartlic-3f2b8c1e.xlsx"'
    assert response.headers["cache-control"] == "private, no-store"


async def test_route_rejects_tampered_and_expired_links(local: LocalStorage, clock: Clock) -> None:
    url = await local.upload_excel(XLSX, uuid4())
    name, expira, token = link_parts(url)
    flipped = ("A" if token[0] != "A" else "B") + token[1:]
    async with arquivos_client(local) as client:
        tampered = await client.get(f"/v1/arquivos/{name}", params={"expira": expira, "token": flipped})
        longer = await client.get(f"/v1/arquivos/{name}", params={"expira": int(expira) + 10, "token": token})
        missing = await client.get(f"/v1/arquivos/{name}")
        other_name, _, _ = link_parts(await local.upload_excel(XLSX, uuid4()))
        reused = await client.get(f"/v1/arquivos/{other_name}", params={"expira": expira, "token": token})
        clock.now += 3601
        expired = await client.get(url)
    for response in (tampered, longer, missing, reused):
        assert response.status_code == 403
        assert response.json()["mensagem"].startswith("Link inválido")
        assert response.json()["detail"] == response.json()["mensagem"]
    assert expired.status_code == 403
    assert "expirou" in expired.json()["mensagem"]


@pytest.mark.parametrize(
    "raw_path",
    [
        "/v1/arquivos/..%2F..%2Fetc%2Fpasswd",
        "/v1/arquivos/%2Fetc%2Fpasswd",
        "/v1/arquivos/..%2Ffiles%2F{name}",
        "/v1/arquivos/" + SIGNING_KEY_FILE,
        "/v1/arquivos/%2E%2E%2F" + SIGNING_KEY_FILE,
        "/v1/arquivos/{stem}.xls",
        "/v1/arquivos/{stem}.xlsx%00",
    ],
)
async def test_route_rejects_traversal(local: LocalStorage, raw_path: str) -> None:
    url = await local.upload_excel(XLSX, uuid4())
    name, _, _ = link_parts(url)
    raw_path = raw_path.format(name=name, stem=name.removesuffix(".xlsx"))
    expira = int(time.time()) + 600
    decoded = httpx.URL(raw_path).path.removeprefix("/v1/arquivos/")
    token = local._token(decoded, expira)  # even a genuine signature for the bad name does not help
    async with arquivos_client(local) as client:
        response = await client.get(f"{raw_path}?expira={expira}&token={token}")
    assert response.status_code in (403, 404)
    assert response.content != (local.directory / SIGNING_KEY_FILE).read_bytes()
    assert b"root:" not in response.content
    if response.status_code == 403:
        assert "não é uma planilha" in response.json()["mensagem"]


async def test_route_file_gone_is_404(local: LocalStorage) -> None:
    url = await local.upload_excel(XLSX, uuid4())
    (local.directory / link_parts(url)[0]).unlink()
    async with arquivos_client(local) as client:
        response = await client.get(url)
    assert response.status_code == 404
    assert "não está mais disponível" in response.json()["mensagem"]


async def test_route_is_404_when_storage_is_not_local(local: LocalStorage, fake: FakeSupabaseStorage) -> None:
    url = await local.upload_excel(XLSX, uuid4())
    remote = await SupabaseStorage.create(fake.url, KEY, BUCKET, 600, timeout=1.0)
    try:
        async with arquivos_client(remote) as client:
            response = await client.get(url)
        assert response.status_code == 404
        assert response.json()["mensagem"] == "Arquivo não encontrado."
        async with arquivos_client(None) as client:
            assert (await client.get(url)).status_code == 404
    finally:
        await remote.aclose()


def test_no_stray_files_in_storage_dir(tmp_path: Path) -> None:
    """Uploading many reports leaves exactly the reports and the key, nothing half-written."""
    import anyio

    directory = tmp_path / "files"
    storage = LocalStorage(directory, signing_key_for(directory, None), 60)

    async def many() -> None:
        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(storage.upload_excel, os.urandom(2048), uuid4())

    anyio.run(many)
    names = [p.name for p in directory.iterdir()]
    assert len(names) == 21 and SIGNING_KEY_FILE in names
    assert all(n == SIGNING_KEY_FILE or n.endswith(".xlsx") for n in names)


async def test_local_reports_older_than_a_search_are_removed(tmp_path: Path) -> None:
    now = [1_000_000.0]
    storage = LocalStorage(tmp_path, b"k" * 32, 600, clock=lambda: now[0])
    old, new = uuid4(), uuid4()
    await storage.upload_excel(b"old", old)
    await storage.upload_excel(b"new", new)
    os.utime(tmp_path / f"{old}.xlsx", (now[0] - 7200, now[0] - 7200))
    os.utime(tmp_path / f"{new}.xlsx", (now[0] - 60, now[0] - 60))
    (tmp_path / "notes.xlsx").write_bytes(b"not ours")
    os.utime(tmp_path / "notes.xlsx", (now[0] - 7200, now[0] - 7200))
    assert await storage.remove_older_than(3600) == 1
    assert sorted(p.name for p in tmp_path.glob("*.xlsx")) == sorted([f"{new}.xlsx", "notes.xlsx"])
