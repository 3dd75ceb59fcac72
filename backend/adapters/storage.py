"""Where the Excel report of a search goes, and the signed link that hands it out.

Two implementations of one small async interface (`ExcelStorage`):

* `LocalStorage`: files under a directory of this machine, served by `GET /v1/arquivos/{name}`
  (`backend/api/arquivos.py`) behind an HMAC-signed, expiring, RELATIVE link.
* `SupabaseStorage`: a Supabase Storage bucket through the official async client; the link is
  Supabase's own absolute signed URL.

Every failure leaves this module as a `StorageError` whose `message` a person can read (in
Portuguese) and which never contains the service-role key; `detail` holds the technical cause
for the logs. Nothing here reads the environment: the lifespan passes plain values.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import importlib
import logging
import os
import re
import secrets
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol
from uuid import UUID

import anyio
import anyio.to_thread
import httpx

if TYPE_CHECKING:  # the supabase package is imported only when it is used (it is heavy)
    from supabase import AsyncClient as SupabaseClient

logger = logging.getLogger(__name__)

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LOCAL_URL_PREFIX = "/v1/arquivos"
SIGNING_KEY_FILE = ".signing-key"
SUPABASE_PREFIX = "excel"

_EXCEL_NAME = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.xlsx")
_KEY_HEX_LEN = 64  # 32 random bytes, hex-encoded in the key file
_MIN_CONFIGURED_KEY = 16


# ------------------------------------------------------------------------------------------
# Errors and the interface
# ------------------------------------------------------------------------------------------


class StorageError(Exception):
    """Storing or handing out a file failed. `message` is for people, `detail` for the logs.

    `retryable` is True for failures that may pass on their own (5xx, timeouts, network).
    """

    def __init__(
        self, message: str, *, status: int | None = None, retryable: bool = False, detail: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retryable = retryable
        self.detail = detail

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status!r}, retryable={self.retryable})"


class LinkRejected(StorageError):
    """A local download link that is tampered, expired or names something that is not a report (403)."""


class FileGone(StorageError):
    """The local link is genuine but the file is no longer there (404)."""


class ExcelStorage(Protocol):
    """Stores the Excel report of a search and answers a link that downloads it."""

    @property
    def name(self) -> str:
        """"local" or "supabase"."""
        ...

    async def upload_excel(self, data: bytes, search_id: UUID) -> str:
        """Store (overwriting) the report of `search_id`; answer a signed download URL."""
        ...

    async def link(self, search_id: UUID) -> str | None:
        """A fresh signed link to the stored report of `search_id`; None when it cannot be had."""
        ...

    async def check(self) -> None:
        """Raise `StorageError` when the storage cannot be used (for the health route)."""
        ...

    async def aclose(self) -> None: ...


def excel_name(search_id: UUID | str) -> str:
    """`<uuid>.xlsx`, the stored name of a search's report."""
    return f"{UUID(str(search_id))}.xlsx"


def download_filename(search_id: UUID | str) -> str:
    """The name the browser saves: `smartlic-<first 8 of the id>.xlsx`."""
    return f"smartlic-{str(UUID(str(search_id)))[:8]}.xlsx"


# ------------------------------------------------------------------------------------------
# Local files
# ------------------------------------------------------------------------------------------


def signing_key_for(directory: Path, configured: str | None) -> bytes:
    """The key that signs local links: `configured` when given, else one kept in the directory.

    Without a configured key, a random key is created once in `<directory>/.signing-key`
    (mode 0600). Creation is atomic and exclusive: the key is written whole to a temporary
    file that is then hard-linked to the final name (link fails when the name exists; on file
    systems without hard links, O_CREAT|O_EXCL is used instead), so web processes starting
    together all end up with the same key. Blocking file I/O: call it at startup.
    """
    if configured is not None and configured.strip():
        key = configured.strip()
        if len(key) < _MIN_CONFIGURED_KEY:
            raise StorageError(
                f"A chave de assinatura dos links é curta demais: use ao menos {_MIN_CONFIGURED_KEY} caracteres"
                " aleatórios (recomendado: 64)."
            )
        return key.encode("utf-8")
    path = Path(directory) / SIGNING_KEY_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        existing = _read_key_file(path)
        if existing is not None:
            return existing
        created = _create_key_file(path)
        if created is not None:
            return created
        existing = _read_key_file(path)
    except OSError as exc:
        raise StorageError(
            f"Não foi possível ler nem criar a chave de assinatura em {path}: {exc.strerror or exc}.",
            detail=repr(exc),
        ) from exc
    if existing is None:  # pragma: no cover - someone deleted it between our two calls
        raise StorageError(f"A chave de assinatura em {path} sumiu durante a criação; tente de novo.")
    return existing


def _read_key_file(path: Path, wait: float = 2.0) -> bytes | None:
    """The key in `path`, None when there is no file. Waits briefly for a file being written."""
    deadline = time.monotonic() + wait
    while True:
        try:
            text = path.read_bytes().strip()
        except FileNotFoundError:
            return None
        if len(text) == _KEY_HEX_LEN:
            try:
                return binascii.unhexlify(text)
            except binascii.Error:
                pass
        fresh = time.time() - path.stat().st_mtime < 5  # maybe still being written by another process
        if not fresh or time.monotonic() > deadline:
            raise StorageError(
                f"O arquivo de chave {path} está corrompido; apague-o e reinicie o serviço"
                " (os links já emitidos deixarão de valer)."
            )
        time.sleep(0.02)  # only the O_EXCL fallback leaves a short window with a partial file


def _create_key_file(path: Path) -> bytes | None:
    """Create the key file; None when another process created it first."""
    key_hex = secrets.token_hex(_KEY_HEX_LEN // 2).encode("ascii")
    fd, tmp = tempfile.mkstemp(prefix=f"{SIGNING_KEY_FILE}.", suffix=".tmp", dir=path.parent)  # 0600, O_EXCL
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(key_hex)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return None
        except OSError:  # no hard links here (some network or FAT volumes)
            return _create_key_file_excl(path, key_hex)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    return binascii.unhexlify(key_hex)


def _create_key_file_excl(path: Path, key_hex: bytes) -> bytes | None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return None
    try:
        os.write(fd, key_hex)
        os.fsync(fd)
    finally:
        os.close(fd)
    return binascii.unhexlify(key_hex)


class LocalStorage:
    """Reports as `<directory>/<uuid>.xlsx`, linked as `/v1/arquivos/<uuid>.xlsx?expira=&token=`.

    The token is HMAC-SHA256(key, "<name>:<expira>"), urlsafe base64 without padding. Every
    process that shares the directory and the key signs and verifies alike.
    """

    def __init__(
        self,
        directory: Path,
        signing_key: bytes,
        ttl_seconds: int,
        *,
        url_prefix: str = LOCAL_URL_PREFIX,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not signing_key:
            raise ValueError("signing_key must not be empty")
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        self.directory = Path(directory)
        self.ttl_seconds = int(ttl_seconds)
        self._key = bytes(signing_key)
        self._prefix = url_prefix.rstrip("/")
        self._clock = clock

    @property
    def name(self) -> Literal["local"]:
        return "local"

    # --- links -------------------------------------------------------------------------------

    def _token(self, name: str, expira: int) -> str:
        mac = hmac.new(self._key, f"{name}:{expira}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")

    def signed_url(self, name: str) -> str:
        """A fresh relative link to `name` that lasts `ttl_seconds`."""
        expira = int(self._clock()) + self.ttl_seconds
        return f"{self._prefix}/{name}?expira={expira}&token={self._token(name, expira)}"

    def verify(self, name: str, expira: str, token: str) -> Path:
        """The file a link points to; `LinkRejected` (403) or `FileGone` (404) otherwise.

        Only names that are exactly `<lowercase uuid>.xlsx` are ever served, so no path
        (`../`, absolute, encoded slashes, the key file, temp files) can leave the directory.
        Does one stat(): call it off the event loop.
        """
        if not isinstance(name, str) or not _EXCEL_NAME.fullmatch(name):
            raise LinkRejected("Link inválido: o arquivo pedido não é uma planilha do SmartLic.")
        if not (isinstance(expira, str) and expira.isascii() and expira.isdigit() and len(expira) <= 12):
            raise LinkRejected("Link inválido ou incompleto. Gere a planilha de novo a partir da busca.")
        expected = self._token(name, int(expira)).encode("ascii")
        given = (token or "").encode("utf-8", "replace")
        if not hmac.compare_digest(expected, given):
            raise LinkRejected("Link inválido ou adulterado. Gere a planilha de novo a partir da busca.")
        if self._clock() > int(expira):
            raise LinkRejected("Este link expirou. Gere a planilha de novo a partir da busca.")
        path = self.directory / name
        if not path.is_file():
            raise FileGone("A planilha não está mais disponível. Faça a busca de novo para gerá-la.")
        return path

    # --- files -------------------------------------------------------------------------------

    async def upload_excel(self, data: bytes, search_id: UUID) -> str:
        name = excel_name(search_id)
        await anyio.to_thread.run_sync(self._write, name, bytes(data))
        return self.signed_url(name)

    async def link(self, search_id: UUID) -> str | None:
        name = excel_name(search_id)
        there = await anyio.to_thread.run_sync((self.directory / name).is_file)
        return self.signed_url(name) if there else None

    def _write(self, name: str, data: bytes) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=self.directory)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, self.directory / name)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            raise StorageError(
                f"Não foi possível salvar a planilha em {self.directory}: {exc.strerror or exc}.", detail=repr(exc)
            ) from exc

    async def check(self) -> None:
        await anyio.to_thread.run_sync(self._probe)

    def _probe(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(prefix=".probe.", dir=self.directory) as handle:
                handle.write(b"ok")
        except OSError as exc:
            raise StorageError(
                f"A pasta de planilhas {self.directory} não pode ser usada: {exc.strerror or exc}.", detail=repr(exc)
            ) from exc

    async def remove_older_than(self, seconds: float) -> int:
        """Deletes reports written more than `seconds` ago; returns how many."""
        return await anyio.to_thread.run_sync(self._remove_older_than, seconds)

    def _remove_older_than(self, seconds: float) -> int:
        cutoff = self._clock() - seconds
        removed = 0
        for path in self.directory.glob("*.xlsx"):
            try:
                if _EXCEL_NAME.fullmatch(path.name) and path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue  # another process removed it first
        return removed

    async def aclose(self) -> None:
        return None


# ------------------------------------------------------------------------------------------
# Supabase Storage
# ------------------------------------------------------------------------------------------


class SupabaseStorage:
    """Reports as `excel/<uuid>.xlsx` in a Supabase Storage bucket, linked by Supabase signed URLs.

    Build it once per process with `await SupabaseStorage.create(...)`, close it with `aclose()`.
    The supabase client gets an httpx client of ours, so the timeout is ours and closing is
    possible (`supabase.AsyncClient` has no close of its own). Each operation is also bounded
    by `timeout` as a whole, since httpx's timeouts are per read/write, not per request.
    """

    def __init__(
        self, client: SupabaseClient, http: httpx.AsyncClient, *, bucket: str, ttl_seconds: int, timeout: float,
        secret: str,
    ) -> None:
        self._client = client
        self._http = http
        self.bucket = bucket
        self.ttl_seconds = int(ttl_seconds)
        self.timeout = float(timeout)
        self._secret = secret

    @classmethod
    async def create(
        cls, url: str, service_role_key: str, bucket: str, ttl_seconds: int, *, timeout: float = 30.0
    ) -> SupabaseStorage:
        url = (url or "").strip()
        service_role_key = (service_role_key or "").strip()
        if not re.match(r"^https?://[^/\s]+", url):
            raise StorageError("Endereço do Supabase inválido: use https://<projeto>.supabase.co.")
        if not service_role_key:
            raise StorageError("A chave de serviço do Supabase não foi configurada.")
        if not bucket:
            raise StorageError("O bucket de planilhas do Supabase não foi configurado.")
        if ttl_seconds <= 0 or timeout <= 0:
            raise ValueError("ttl_seconds and timeout must be positive")

        # Both block (a ~0.2 s import; the SSL context reads the CA bundle): keep them off the loop.
        await anyio.to_thread.run_sync(importlib.import_module, "supabase")
        from supabase import AsyncClientOptions, SupabaseException, acreate_client

        http = await anyio.to_thread.run_sync(
            lambda: httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)))
        )
        try:
            client = await acreate_client(url, service_role_key, options=AsyncClientOptions(httpx_client=http))
        except SupabaseException as exc:
            await http.aclose()
            raise StorageError(
                "Configuração do Supabase inválida.", detail=_redact(str(exc.message), service_role_key)
            ) from None
        except BaseException:
            await http.aclose()
            raise
        return cls(client, http, bucket=bucket, ttl_seconds=ttl_seconds, timeout=timeout, secret=service_role_key)

    @property
    def name(self) -> Literal["supabase"]:
        return "supabase"

    def object_path(self, search_id: UUID | str) -> str:
        return f"{SUPABASE_PREFIX}/{excel_name(search_id)}"

    async def upload_excel(self, data: bytes, search_id: UUID) -> str:
        path = self.object_path(search_id)
        bucket = self._client.storage.from_(self.bucket)
        try:
            with anyio.fail_after(self.timeout):
                await bucket.upload(
                    path,
                    bytes(data),
                    file_options={"content-type": XLSX_CONTENT_TYPE, "upsert": "true", "cache-control": "3600"},
                )
        except Exception as exc:
            error = self._translate(exc, "Não foi possível salvar a planilha no Supabase Storage")
            if error is None:
                raise
            raise error from exc
        return await self._signed_url(search_id)

    async def link(self, search_id: UUID) -> str | None:
        try:
            return await self._signed_url(search_id)
        except Exception as error:  # the old link is handed out instead
            logger.warning("no fresh link to the report of %s: %r", search_id, error)
            return None

    async def _signed_url(self, search_id: UUID) -> str:
        bucket = self._client.storage.from_(self.bucket)
        try:
            with anyio.fail_after(self.timeout):
                signed: Any = await bucket.create_signed_url(
                    self.object_path(search_id), self.ttl_seconds, options={"download": download_filename(search_id)}
                )
        except Exception as exc:
            error = self._translate(exc, "Não foi possível assinar o link da planilha no Supabase Storage")
            if error is None:
                raise
            raise error from exc
        url = (signed or {}).get("signedURL") or (signed or {}).get("signedUrl")
        if not url:
            raise StorageError("O Supabase Storage não devolveu o link da planilha.", detail=repr(signed))
        return str(url)

    async def check(self) -> None:
        try:
            with anyio.fail_after(self.timeout):
                await self._client.storage.get_bucket(self.bucket)
        except Exception as exc:
            error = self._translate(exc, "O Supabase Storage não está disponível")
            if error is None:
                raise
            raise error from exc

    async def aclose(self) -> None:
        await self._http.aclose()

    def _translate(self, exc: Exception, prefix: str) -> StorageError | None:
        """The `StorageError` for a storage failure; None for anything else (a bug: re-raise it)."""
        error = _translate_supabase_error(
            exc, prefix=prefix, bucket=self.bucket, timeout=self.timeout, secret=self._secret
        )
        if error is not None:
            logger.warning("storage: %s (%s)", error.message, error.detail)
        return error


def _redact(text: str, secret: str, limit: int = 300) -> str:
    if secret:
        text = text.replace(secret, "***")
    return text if len(text) <= limit else text[:limit] + "…"


def _as_int(value: object) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _http_status(exc: BaseException) -> int | None:
    """The HTTP status behind a storage3 error (it keeps the httpx error in its chain)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, httpx.HTTPStatusError):
            return current.response.status_code
        current = current.__cause__ or current.__context__
    return None


def _translate_supabase_error(
    exc: BaseException, *, prefix: str, bucket: str, timeout: float, secret: str
) -> StorageError | None:
    """One `StorageError` for any failure of storage3/httpx; None for anything else."""
    from storage3.exceptions import StorageApiError
    from storage3.utils import StorageException

    if isinstance(exc, StorageApiError):
        http_status = _http_status(exc)
        # storage-api often answers HTTP 400 with the real status in the body ("statusCode": "409").
        status = _as_int(exc.status) or http_status
        code = str(exc.code or "")
        text = str(exc.message or "")
        detail = _redact(f"HTTP {http_status}, statusCode={exc.status}, error={code}, message={text}", secret)
        lowered = f"{code} {text}".lower()
        if status == 409 or code == "Duplicate":
            reason, retryable = "já existe um arquivo com esse nome e ele não pôde ser substituído", False
        elif status in (401, 403) or "jwt" in lowered or "unauthorized" in lowered:
            reason, retryable = "a chave de acesso foi recusada", False
        elif status == 404 and "bucket" in lowered:
            reason, retryable = f"o bucket '{bucket}' não existe", False
        elif status == 404:
            reason, retryable = "o arquivo não foi encontrado", False
        elif status == 413:
            reason, retryable = "a planilha é maior do que o limite do bucket", False
        elif status == 429:
            reason, retryable = "muitas requisições no momento; tente de novo em instantes", True
        elif status is not None and status >= 500:
            reason, retryable = f"o serviço está com falha (HTTP {status}); tente de novo em instantes", True
        else:
            reason, retryable = f"a operação foi recusada (HTTP {status or '?'})", False
        return StorageError(f"{prefix}: {reason}.", status=status, retryable=retryable, detail=detail)
    if isinstance(exc, (TimeoutError, httpx.TimeoutException)):
        return StorageError(
            f"{prefix}: o serviço não respondeu em {timeout:g} s.", retryable=True, detail=type(exc).__name__
        )
    if isinstance(exc, httpx.HTTPError):  # connection refused, DNS, reset, protocol errors
        return StorageError(
            f"{prefix}: não foi possível conectar ao serviço.", retryable=True,
            detail=_redact(f"{type(exc).__name__}: {exc}", secret),
        )
    if isinstance(exc, StorageException):
        return StorageError(f"{prefix}: o serviço respondeu com erro.", detail=_redact(str(exc), secret))
    if isinstance(exc, (KeyError, ValueError)):  # a 2xx whose body is not what storage3 expects
        return StorageError(
            f"{prefix}: resposta inesperada do serviço.", detail=_redact(f"{type(exc).__name__}: {exc}", secret)
        )
    return None


# ------------------------------------------------------------------------------------------
# Choosing one
# ------------------------------------------------------------------------------------------


async def open_storage(
    *,
    backend: Literal["auto", "local", "supabase"] = "auto",
    directory: Path,
    ttl_seconds: int,
    signing_key: str | None = None,
    supabase_url: str | None = None,
    supabase_service_role_key: str | None = None,
    bucket: str = "excel-reports",
    timeout: float = 30.0,
) -> ExcelStorage:
    """The storage of this process: Supabase when chosen (or, with "auto", when configured), else local."""
    use_supabase = backend == "supabase" or (
        backend == "auto" and bool(supabase_url) and bool(supabase_service_role_key)
    )
    if use_supabase:
        return await SupabaseStorage.create(
            supabase_url or "", supabase_service_role_key or "", bucket, ttl_seconds, timeout=timeout
        )
    key = await anyio.to_thread.run_sync(signing_key_for, Path(directory), signing_key)
    return LocalStorage(Path(directory), key, ttl_seconds)
