"""An OpenAI Chat Completions double over real HTTP, for tests of `backend.adapters.llm`.

    with FakeOpenAI() as fake:                    # uvicorn on a free 127.0.0.1 port
        fake.script([server_error(), refusal(), answer({...})])
        client = openai.AsyncOpenAI(api_key="sk-test", base_url=fake.base_url)
        ...
        assert fake.requests[0].status == 200        # OpenAI would have taken it

`POST /v1/chat/completions` answers with a `chat.completion` object. By default its content is
`DEFAULT_SUMMARY` (a valid summary for `backend.adapters.llm`'s schema); a request for the AI
arbiter's schema (`setores_por_objeto`) gets, for each numbered objeto of its user message, the
sectors `classifier(objeto)` names (none by default). `usage` counts about 4 characters a token. Scripted responses are used one
per request, in order; requests left unscripted get the default answer. Everything is
thread-safe: tests run in the main thread while uvicorn serves from its own.

Like OpenAI, it first refuses (HTTP 400, OpenAI's error body) a request OpenAI would refuse:
a `temperature` outside 0..2, a `json_schema` response format whose name breaks OpenAI's
pattern, or a strict schema that leaves a property out of `required` or allows additional
properties. A request it accepted (`status` 200) is one OpenAI would take.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.server import LocalDouble, ServerThread

DEFAULT_SUMMARY: dict[str, Any] = {
    "resumo_executivo": (
        "Há boas oportunidades para o seu setor, concentradas em poucos estados. "
        "Os maiores valores estão em pregões eletrônicos de prefeituras."
    ),
    "destaques": [
        "Pregão eletrônico de maior valor em São Paulo.",
        "Várias prefeituras comprando itens semelhantes.",
        "Prazos de propostas nas próximas duas semanas.",
    ],
    "alerta_urgencia": None,
}

CLASSIFY_SCHEMA = "setores_por_objeto"  # the AI arbiter's (backend.adapters.classifier)
REFUSAL_TEXT = "I'm sorry, but I can't help with that request."


def _schema_name(body: Mapping[str, Any]) -> str | None:
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and isinstance(response_format.get("json_schema"), dict):
        return response_format["json_schema"].get("name")
    return None


def _numbered(body: Mapping[str, Any]) -> list[tuple[int, str]]:
    """The "1. objeto" lines of the request's user message."""
    user = next((str(m.get("content", "")) for m in body["messages"] if m.get("role") == "user"), "")
    return [(int(number), text) for number, text in re.findall(r"^(\d+)\. (.*)$", user, flags=re.MULTILINE)]


# ------------------------------------------------------------------------------------------
# What a script can hold
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reply:
    """A 200 `chat.completion`. `content` None means the default summary (unless `refusal`)."""

    content: str | None = None
    refusal: str | None = None
    finish_reason: str = "stop"
    delay: float = 0.0  # seconds to wait before answering
    kind: str = "reply"


@dataclass(frozen=True, slots=True)
class Raw:
    """Any HTTP answer: status, body bytes, content type, headers."""

    status: int
    body: bytes = b""
    content_type: str | None = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0
    kind: str = "raw"


Scripted = Reply | Raw


def answer(content: Mapping[str, Any] | str, *, delay: float = 0.0) -> Reply:
    """A valid completion whose message content is `content` (a dict is sent as JSON)."""
    text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
    return Reply(content=text, delay=delay, kind="answer")


def invalid_json(text: str = '{"resumo_executivo": "Resumo cortado', *, delay: float = 0.0) -> Reply:
    """A completion whose content is not valid JSON."""
    return Reply(content=text, delay=delay, kind="invalid-json")


def missing_keys(*keys: str, base: Mapping[str, Any] | None = None) -> Reply:
    """A completion whose JSON lacks `keys` (default: destaques and alerta_urgencia)."""
    keys = keys or ("destaques", "alerta_urgencia")
    content = {k: v for k, v in (base or DEFAULT_SUMMARY).items() if k not in keys}
    return Reply(content=json.dumps(content, ensure_ascii=False), kind="missing-keys")


def refusal(text: str = REFUSAL_TEXT) -> Reply:
    """A structured-output refusal: `message.refusal` set, `content` null."""
    return Reply(refusal=text, kind="refusal")


def truncated(text: str = '{"resumo_executivo": "Há oportunidades') -> Reply:
    """A completion cut by the token limit: finish_reason "length", partial content."""
    return Reply(content=text, finish_reason="length", kind="length")


def slow(seconds: float, then: Scripted | None = None) -> Scripted:
    """Wait `seconds` (ending early if the client disconnects), then answer `then` (default answer)."""
    base = then or Reply(kind="slow")
    if isinstance(base, Reply):
        return Reply(base.content, base.refusal, base.finish_reason, seconds, "slow")
    return Raw(base.status, base.body, base.content_type, base.headers, seconds, "slow")


def error(
    status: int,
    message: str,
    *,
    type: str = "invalid_request_error",  # OpenAI's field name
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
    delay: float = 0.0,
) -> Raw:
    """An HTTP error with OpenAI's body: {"error": {"message", "type", "param", "code"}}."""
    body = {"error": {"message": message, "type": type, "param": None, "code": code}}
    extra = {"x-request-id": f"req_fake_{status}", **(headers or {})}
    return Raw(status, json.dumps(body).encode(), "application/json", tuple(extra.items()), delay, f"http-{status}")


def server_error(status: int = 500, message: str = "The server had an error while processing your request.") -> Raw:
    return error(status, message, type="server_error")


def rate_limited(retry_after: float | None = 1, message: str = "Rate limit reached for requests") -> Raw:
    headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
    return error(429, message, type="requests", code="rate_limit_exceeded", headers=headers)


def raw(status: int, body: bytes | str, content_type: str | None = "application/json") -> Raw:
    """Anything else, e.g. a 200 whose body is not a completion."""
    data = body.encode() if isinstance(body, str) else body
    return Raw(status, data, content_type, kind="raw")


# ------------------------------------------------------------------------------------------
# What OpenAI refuses
# ------------------------------------------------------------------------------------------

SCHEMA_NAME_PATTERN = re.compile(r"[a-zA-Z0-9_-]{1,64}")  # OpenAI's rule for `json_schema.name`


def _strict_schema_problem(schema: Any, context: tuple[str, ...] = ()) -> str | None:
    """What OpenAI's structured outputs refuse in a strict schema: an object whose `required` does
    not list every property, or without `additionalProperties: false`."""
    if not isinstance(schema, dict):
        return None
    if schema.get("type") == "object" or "properties" in schema:
        properties = schema.get("properties") or {}
        missing = [key for key in properties if key not in (schema.get("required") or [])]
        if missing:
            return (f"In context={context}, 'required' is required to be supplied and to be an array including "
                    f"every key in properties. Missing '{missing[0]}'.")
        if schema.get("additionalProperties") is not False:
            return f"In context={context}, 'additionalProperties' is required to be supplied and to be false."
        for key, value in properties.items():
            if problem := _strict_schema_problem(value, (*context, "properties", key)):
                return problem
    if "items" in schema:
        return _strict_schema_problem(schema["items"], (*context, "items"))
    return None


def invalid_request(body: Mapping[str, Any]) -> tuple[str, str | None, str] | None:
    """(message, param, code) of OpenAI's 400 for a request it refuses; None when it takes it."""
    temperature = body.get("temperature")
    if temperature is not None:
        if not isinstance(temperature, (int, float)) or isinstance(temperature, bool):
            return (f"Invalid type for 'temperature': expected a decimal, but got {type(temperature).__name__}.",
                    "temperature", "invalid_type")
        if temperature > 2:
            return (f"Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got "
                    f"{temperature} instead."), "temperature", "decimal_above_max_value"
        if temperature < 0:
            return (f"Invalid 'temperature': decimal below minimum value. Expected a value >= 0, but got "
                    f"{temperature} instead."), "temperature", "decimal_below_min_value"
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        spec = response_format.get("json_schema")
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            return ("Missing required parameter: 'response_format.json_schema.name'.",
                    "response_format.json_schema.name", "missing_required_parameter")
        name = spec["name"]
        if not SCHEMA_NAME_PATTERN.fullmatch(name):
            return ("Invalid 'response_format.json_schema.name': string does not match pattern. Expected a string "
                    "that matches the pattern '^[a-zA-Z0-9_-]+$'."), "response_format.json_schema.name", "invalid_value"
        if spec.get("strict") is True:
            schema = spec.get("schema")
            if not isinstance(schema, dict) or schema.get("type") != "object":
                return (f"Invalid schema for response_format '{name}': schema must be a JSON Schema of "
                        "'type: \"object\"'."), "response_format", "invalid_json_schema"
            if problem := _strict_schema_problem(schema):
                return (f"Invalid schema for response_format '{name}': {problem}", "response_format",
                        "invalid_json_schema")
    return None


# ------------------------------------------------------------------------------------------
# What the fake records
# ------------------------------------------------------------------------------------------


@dataclass(slots=True)
class RecordedRequest:
    """One request the fake received. `status` is None while it is being served."""

    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: Any  # the parsed JSON, or None when the body was not JSON
    started: float
    status: int | None = None
    finished: float | None = None
    kind: str = "default"  # "default" or the kind of the scripted response used
    disconnected: bool = False  # the client went away while the fake was waiting

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")

    @property
    def model(self) -> str | None:
        return self.body.get("model") if isinstance(self.body, dict) else None

    @property
    def temperature(self) -> float | None:
        return self.body.get("temperature") if isinstance(self.body, dict) else None

    @property
    def response_format(self) -> dict[str, Any] | None:
        return self.body.get("response_format") if isinstance(self.body, dict) else None

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages") or []) if isinstance(self.body, dict) else []

    def _content(self, role: str) -> str:
        return "\n".join(str(m.get("content") or "") for m in self.messages if m.get("role") == role)

    @property
    def system_prompt(self) -> str:
        return self._content("system")

    @property
    def user_prompt(self) -> str:
        return self._content("user")


@dataclass(slots=True)
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    script: deque[Scripted] = field(default_factory=deque)
    requests: list[RecordedRequest] = field(default_factory=list)


class FakeOpenAI(LocalDouble):
    """`POST /v1/chat/completions` served by uvicorn in a background thread.

    `api_key`: when set, requests without `Authorization: Bearer <api_key>` get OpenAI's 401.
    """

    def __init__(
        self, *, api_key: str | None = None, default_summary: Mapping[str, Any] | None = None, latency: float = 0.0
    ) -> None:
        self.api_key = api_key
        self.latency = latency  # seconds waited before every answer (a model's thinking time)
        self.default_summary = dict(default_summary or DEFAULT_SUMMARY)
        self.classifier: Callable[[str], list[str]] = lambda objeto: []
        self._state = _State()
        self._ids = itertools.count(1)
        self._server = ServerThread(
            Starlette(routes=[Route("/v1/chat/completions", self._handle, methods=["POST"])]), "FakeOpenAI"
        )

    @property
    def base_url(self) -> str:
        """What `openai.AsyncOpenAI(base_url=...)` takes, like https://api.openai.com/v1."""
        return f"http://127.0.0.1:{self.port}/v1"

    # --- scripting and inspection ------------------------------------------------------------

    def script(self, responses: Scripted | Iterable[Scripted]) -> None:
        """Queue responses; one is used per request, in order."""
        items = [responses] if isinstance(responses, (Reply, Raw)) else list(responses)
        for item in items:
            if not isinstance(item, (Reply, Raw)):
                raise TypeError(f"not a scripted response: {item!r}")
        with self._state.lock:
            self._state.script.extend(items)

    @property
    def pending(self) -> int:
        with self._state.lock:
            return len(self._state.script)

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of the requests received so far, in arrival order."""
        with self._state.lock:
            return list(self._state.requests)

    def reset(self) -> None:
        with self._state.lock:
            self._state.requests.clear()
            self._state.script.clear()

    # --- serving -----------------------------------------------------------------------------

    async def _sleep(self, seconds: float, request: Request, recorded: RecordedRequest) -> None:
        """Sleep, waking early if the client went away or the fake is stopping."""
        deadline = time.monotonic() + seconds
        while not self._server.stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            await asyncio.sleep(min(left, 0.02))
            if await request.is_disconnected():
                recorded.disconnected = True
                return

    def _completion(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        model = body["model"]
        if reply.refusal is not None:
            content = None
        elif reply.content is not None:
            content = reply.content
        elif _schema_name(body) == CLASSIFY_SCHEMA:
            content = json.dumps({"objetos": [{"id": n, "setores": self.classifier(objeto)}
                                              for n, objeto in _numbered(body)]}, ensure_ascii=False)
        else:
            content = json.dumps(self.default_summary, ensure_ascii=False)
        completion_tokens = max(1, len(content or reply.refusal or "") // 4)
        prompt_tokens = max(1, sum(len(str(m.get("content", ""))) for m in body["messages"]) // 4)
        return {
            "id": f"chatcmpl-fake{next(self._ids):06d}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": reply.refusal, "annotations": []},
                    "logprobs": None,
                    "finish_reason": reply.finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
            "service_tier": "default",
            "system_fingerprint": "fp_fake",
        }

    async def _handle(self, request: Request) -> Response:
        raw_body = await request.body()
        try:
            body = json.loads(raw_body) if raw_body else None
        except ValueError:
            body = None
        recorded = RecordedRequest(
            method=request.method,
            path=request.url.path,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            started=time.monotonic(),
        )
        with self._state.lock:
            self._state.requests.append(recorded)
            scripted = self._state.script.popleft() if self._state.script else None
        try:
            response = await self._respond(request, recorded, body, scripted)
            recorded.status = response.status_code
            return response
        finally:
            recorded.finished = time.monotonic()

    async def _respond(
        self, request: Request, recorded: RecordedRequest, body: Any, scripted: Scripted | None
    ) -> Response:
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        if self.api_key is not None and recorded.authorization != f"Bearer {self.api_key}":
            recorded.kind = "http-401"
            return JSONResponse(
                {
                    "error": {
                        "message": "Incorrect API key provided.",
                        "type": "invalid_request_error",
                        "param": None,
                        "code": "invalid_api_key",
                    }
                },
                status_code=401,
            )
        if not isinstance(body, dict) or not isinstance(body.get("model"), str) or not body.get("messages"):
            recorded.kind = "http-400"
            return JSONResponse(
                {
                    "error": {
                        "message": "The request needs a JSON body with 'model' and 'messages'.",
                        "type": "invalid_request_error",
                        "param": None,
                        "code": None,
                    }
                },
                status_code=400,
            )
        if (refused := invalid_request(body)) is not None:
            message, param, code = refused
            recorded.kind = "http-400"
            return JSONResponse(
                {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}},
                status_code=400,
            )
        if scripted is not None:
            recorded.kind = scripted.kind
            if scripted.delay > 0:
                await self._sleep(scripted.delay, request, recorded)
        if isinstance(scripted, Raw):
            return Response(
                scripted.body,
                status_code=scripted.status,
                headers=dict(scripted.headers),
                media_type=scripted.content_type,
            )
        reply = scripted if isinstance(scripted, Reply) else Reply()
        return JSONResponse(self._completion(body, reply), headers={"x-request-id": "req_fake_ok"})
