"""A Supabase Storage double over real HTTP, for the storage3 client used by `SupabaseStorage`.

    with FakeSupabaseStorage(key="service-key", buckets=["excel-reports"]) as fake:   # uvicorn, free port
        storage = await SupabaseStorage.create(fake.url, fake.key, "excel-reports", 600)
        fake.script([server_error(503), slow(2.0)], op="upload")
        ... assert fake.get("excel-reports", "excel/<id>.xlsx") == data
        ... assert [r.op for r in fake.requests] == ["upload", "sign"]

Endpoints (paths under `/storage/v1`, as storage3 2.x builds them):

* `POST|PUT /object/{bucket}/{path}`: multipart upload (field `file`, form `cacheControl`);
  POST honours `x-upsert: true`, otherwise an existing object is the real "duplicate" answer,
  HTTP 400 with `{"statusCode":"409","error":"Duplicate","message":"The resource already exists"}`.
* `GET /object/{bucket}/{path}`: authenticated download.
* `POST /object/sign/{bucket}/{path}` with `{"expiresIn": N}` -> `{"signedURL": "/object/sign/...?token=..."}`.
* `GET /object/sign/{bucket}/{path}?token=...[&download=name]`: the signed download, no key needed.
* `GET /bucket/{id}` and `GET /bucket`.

Every other call needs `Authorization: Bearer <key>` and `apikey: <key>`. Errors have the
legacy storage-api shape: HTTP 400 with the meaningful status as a string in `statusCode`.
Scripted answers are consumed in order, one per matching request (thread-safe: the tests run
in the main thread, uvicorn in its own).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.server import LocalDouble, ServerThread

Op = Literal["upload", "update", "download", "sign", "signed-download", "bucket", "list-buckets", "unknown"]


# ------------------------------------------------------------------------------------------
# What a script can hold
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Canned:
    """A fixed answer, optionally after a wait."""

    status: int
    body: bytes = b""
    content_type: str | None = "application/json"
    kind: str = "canned"
    after: float = 0.0


@dataclass(frozen=True, slots=True)
class Slow:
    """Wait `seconds` (ends early when the client leaves or the fake stops), then serve normally."""

    seconds: float
    kind: str = "slow"


Scripted = Canned | Slow


def storage_error(status_code: int | str, error: str, message: str, *, http_status: int = 400) -> Canned:
    """An error in storage-api's shape (HTTP 400 by default, the real status inside)."""
    body = json.dumps({"statusCode": str(status_code), "error": error, "message": message}).encode()
    return Canned(http_status, body, kind=f"{status_code}-{error}")


def duplicate() -> Canned:
    """The real answer to a POST without upsert on an existing object."""
    return storage_error("409", "Duplicate", "The resource already exists")


def server_error(status: int = 500, message: str = "Internal Server Error", *, after: float = 0.0) -> Canned:
    body = json.dumps({"statusCode": str(status), "error": "InternalError", "message": message}).encode()
    return Canned(status, body, kind=f"{status}-json", after=after)


def gateway_error(status: int = 502) -> Canned:
    """A proxy's HTML page (no JSON): what a load balancer answers when storage is down."""
    html = f"<html><head><title>{status} Bad Gateway</title></head><body><h1>{status}</h1></body></html>"
    return Canned(status, html.encode(), "text/html", kind=f"{status}-html")


def slow(seconds: float) -> Slow:
    return Slow(seconds)


# ------------------------------------------------------------------------------------------
# What the fake keeps and records
# ------------------------------------------------------------------------------------------


@dataclass(slots=True)
class StoredObject:
    data: bytes
    content_type: str
    cache_control: str | None
    updated_at: datetime
    version: int = 1


@dataclass(slots=True)
class RecordedRequest:
    method: str
    path: str
    op: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    started: float
    status: int | None = None
    kind: str = "normal"

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(slots=True)
class _Script:
    responses: deque[Scripted]
    op: str | None


@dataclass(slots=True)
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    objects: dict[tuple[str, str], StoredObject] = field(default_factory=dict)
    tokens: dict[str, tuple[str, str, float]] = field(default_factory=dict)
    scripts: list[_Script] = field(default_factory=list)
    requests: list[RecordedRequest] = field(default_factory=list)


def _parse_multipart(body: bytes, content_type: str) -> dict[str, tuple[dict[str, str], bytes]]:
    """`{field name: (part headers, raw content)}` of a multipart/form-data body."""
    boundary = None
    for piece in content_type.split(";")[1:]:
        key, _, value = piece.strip().partition("=")
        if key.lower() == "boundary":
            boundary = value.strip('"')
    if not boundary:
        raise ValueError("no multipart boundary")
    delimiter = b"\r\n--" + boundary.encode("latin-1")
    sections = (b"\r\n" + body).split(delimiter)
    if len(sections) < 3 or sections[0] != b"" or not sections[-1].startswith(b"--"):
        raise ValueError("malformed multipart body")
    fields: dict[str, tuple[dict[str, str], bytes]] = {}
    for section in sections[1:-1]:
        if not section.startswith(b"\r\n"):
            raise ValueError("malformed multipart part")
        raw_headers, sep, content = section[2:].partition(b"\r\n\r\n")
        if not sep:
            raise ValueError("multipart part without headers")
        headers: dict[str, str] = {}
        for line in raw_headers.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        field_name = None
        for piece in disposition.split(";")[1:]:
            key, _, value = piece.strip().partition("=")
            if key == "name":
                field_name = value.strip('"')
        if field_name:
            fields[field_name] = (headers, content)
    return fields


class FakeSupabaseStorage(LocalDouble):
    """Supabase Storage's object, sign and bucket endpoints, served by uvicorn in a thread."""

    def __init__(
        self, key: str = "service-role-key-for-tests", buckets: Iterable[str] = ("excel-reports",)
    ) -> None:
        self.key = key
        self.buckets = set(buckets)
        self.latency = 0.0
        self._state = _State()
        self._server = ServerThread(self._build_app(), "FakeSupabaseStorage")

    @property
    def url(self) -> str:
        """The project URL (what SUPABASE_URL holds)."""
        return self.root_url

    @property
    def storage_url(self) -> str:
        return f"{self.url}/storage/v1"

    # --- contents, scripts, records -----------------------------------------------------------

    def put(self, bucket: str, path: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        with self._state.lock:
            self._state.objects[(bucket, path)] = StoredObject(data, content_type, None, datetime.now(UTC))

    def get(self, bucket: str, path: str) -> StoredObject | None:
        with self._state.lock:
            return self._state.objects.get((bucket, path))

    @property
    def objects(self) -> dict[tuple[str, str], StoredObject]:
        with self._state.lock:
            return dict(self._state.objects)

    def script(self, responses: Scripted | Iterable[Scripted], *, op: Op | None = None) -> None:
        """Queue answers for the requests of operation `op` (any when None); one per request."""
        items = [responses] if isinstance(responses, (Canned, Slow)) else list(responses)
        for item in items:
            if not isinstance(item, (Canned, Slow)):
                raise TypeError(f"not a scripted response: {item!r}")
        with self._state.lock:
            self._state.scripts.append(_Script(deque(items), op))

    @property
    def pending(self) -> int:
        with self._state.lock:
            return sum(len(s.responses) for s in self._state.scripts)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._state.lock:
            return list(self._state.requests)

    def reset(self) -> None:
        """Forget recorded requests, unused scripts and stored objects."""
        with self._state.lock:
            self._state.requests.clear()
            self._state.scripts.clear()
            self._state.objects.clear()
            self._state.tokens.clear()

    # --- serving ---------------------------------------------------------------------------

    def _take_script(self, op: str) -> Scripted | None:
        with self._state.lock:
            for script in self._state.scripts:
                if script.responses and (script.op is None or script.op == op):
                    return script.responses.popleft()
        return None

    async def _sleep(self, seconds: float, request: Request) -> None:
        deadline = time.monotonic() + seconds
        while not self._server.stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            await asyncio.sleep(min(left, 0.05))
            if await request.is_disconnected():
                return

    def _authorized(self, request: Request) -> bool:
        return (
            request.headers.get("authorization") == f"Bearer {self.key}"
            and request.headers.get("apikey") == self.key
        )

    async def _handle(self, request: Request) -> Response:
        body = await request.body()  # read first: is_disconnected() would swallow it otherwise
        op = self._op(request)
        recorded = RecordedRequest(
            request.method, request.url.path, op, dict(request.query_params),
            {k.lower(): v for k, v in request.headers.items()}, body, time.monotonic(),
        )
        with self._state.lock:
            self._state.requests.append(recorded)
        try:
            if self.latency > 0:
                await self._sleep(self.latency, request)
            scripted = self._take_script(op)
            if scripted is not None:
                recorded.kind = scripted.kind
            if isinstance(scripted, Slow):
                await self._sleep(scripted.seconds, request)
            if isinstance(scripted, Canned):
                if scripted.after > 0:
                    await self._sleep(scripted.after, request)
                response: Response = Response(scripted.body, scripted.status, media_type=scripted.content_type)
            else:
                response = self._serve(request, op, body)
        except Exception as exc:  # noqa: BLE001 - a broken fake must answer, not hang the client
            response = JSONResponse({"statusCode": "500", "error": "FakeError", "message": repr(exc)}, 500)
        recorded.status = response.status_code
        return response

    @staticmethod
    def _op(request: Request) -> Op:
        parts = request.url.path.removeprefix("/storage/v1/").split("/")
        method = request.method
        if parts[:2] == ["object", "sign"]:
            return "sign" if method == "POST" else "signed-download"
        if parts[0] == "object":
            return {"POST": "upload", "PUT": "update", "GET": "download"}.get(method, "unknown")
        if parts[0] == "bucket":
            return "bucket" if len(parts) > 1 and parts[1] else "list-buckets"
        return "unknown"

    def _serve(self, request: Request, op: str, body: bytes) -> Response:
        params = request.path_params
        if op == "unknown" or (op != "list-buckets" and "bucket" not in params):
            return _error("404", "not_found", "Route not found", http_status=404)
        if op == "signed-download":
            return self._signed_download(request, params["bucket"], params["path"])
        if not self._authorized(request):
            return _error("403", "Unauthorized", "invalid signature")
        if op in ("upload", "update"):
            return self._upload(request, op, params["bucket"], params["path"], body)
        if op == "download":
            return self._download(params["bucket"], params["path"])
        if op == "sign":
            return self._sign(params["bucket"], params["path"], body)
        if op == "bucket":
            return self._bucket(params["bucket"])
        if op == "list-buckets":
            return JSONResponse([_bucket_json(b) for b in sorted(self.buckets)])
        return _error("404", "not_found", "Route not found", http_status=404)

    def _upload(self, request: Request, op: str, bucket: str, path: str, body: bytes) -> Response:
        if bucket not in self.buckets:
            return _error("404", "Bucket not found", "Bucket not found")
        try:
            fields = _parse_multipart(body, request.headers.get("content-type", ""))
            part_headers, data = fields["file"]
        except (KeyError, ValueError) as exc:
            return _error("400", "Invalid Input", f"bad multipart body: {exc}")
        cache_control = fields["cacheControl"][1].decode() if "cacheControl" in fields else None
        content_type = part_headers.get("content-type", "application/octet-stream")
        upsert = request.headers.get("x-upsert", "false").lower() == "true"
        with self._state.lock:
            existing = self._state.objects.get((bucket, path))
            if op == "upload" and existing is not None and not upsert:
                return duplicate_response()
            if op == "update" and existing is None:
                return _error("404", "not_found", "Object not found")
            version = existing.version + 1 if existing else 1
            self._state.objects[(bucket, path)] = StoredObject(
                data, content_type, cache_control, datetime.now(UTC), version
            )
        return JSONResponse({"Id": str(uuid.uuid4()), "Key": f"{bucket}/{path}"})

    def _download(self, bucket: str, path: str) -> Response:
        stored = self.get(bucket, path)
        if stored is None:
            return _error("404", "not_found", "Object not found")
        return Response(stored.data, media_type=stored.content_type)

    def _sign(self, bucket: str, path: str, body: bytes) -> Response:
        try:
            expires_in = int(json.loads(body or b"{}")["expiresIn"])
            if expires_in <= 0:
                raise ValueError
        except (KeyError, TypeError, ValueError):
            return _error("400", "Invalid Input", "body/expiresIn must be a positive integer")
        if bucket not in self.buckets:
            return _error("404", "Bucket not found", "Bucket not found")
        if self.get(bucket, path) is None:
            return _error("404", "not_found", "Object not found")
        token = secrets.token_urlsafe(24)
        with self._state.lock:
            self._state.tokens[token] = (bucket, path, time.time() + expires_in)
        return JSONResponse({"signedURL": f"/object/sign/{quote(bucket)}/{quote(path)}?token={token}"})

    def _signed_download(self, request: Request, bucket: str, path: str) -> Response:
        token = request.query_params.get("token", "")
        with self._state.lock:
            entry = self._state.tokens.get(token)
        if entry is None or entry[:2] != (bucket, path):
            return _error("400", "InvalidJWT", "invalid signature")
        if time.time() > entry[2]:
            return _error("400", "InvalidJWT", "jwt expired")
        stored = self.get(bucket, path)
        if stored is None:
            return _error("404", "not_found", "Object not found")
        headers = {}
        if "download" in request.query_params:
            filename = request.query_params["download"] or path.rsplit("/", 1)[-1]
            headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        return Response(stored.data, media_type=stored.content_type, headers=headers)

    def _bucket(self, bucket: str) -> Response:
        if bucket not in self.buckets:
            return _error("404", "Bucket not found", "Bucket not found")
        return JSONResponse(_bucket_json(bucket))

    def _build_app(self) -> Starlette:
        return Starlette(routes=[
            Route("/storage/v1/object/sign/{bucket}/{path:path}", self._handle, methods=["GET", "POST"]),
            Route("/storage/v1/object/{bucket}/{path:path}", self._handle, methods=["GET", "POST", "PUT"]),
            Route("/storage/v1/bucket/{bucket}", self._handle, methods=["GET"]),
            Route("/storage/v1/bucket", self._handle, methods=["GET"]),
            Route("/{rest:path}", self._handle, methods=["GET", "POST", "PUT", "DELETE", "HEAD"]),
        ])


def _error(status_code: str, error: str, message: str, *, http_status: int = 400) -> JSONResponse:
    return JSONResponse({"statusCode": status_code, "error": error, "message": message}, http_status)


def duplicate_response() -> JSONResponse:
    return _error("409", "Duplicate", "The resource already exists")


def _bucket_json(bucket: str) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    return {
        "id": bucket, "name": bucket, "owner": "", "public": False, "type": "STANDARD",
        "file_size_limit": None, "allowed_mime_types": None, "created_at": now, "updated_at": now,
    }
