"""A Supabase Auth (GoTrue) double over real HTTP: users, sessions and the project's signing keys.

    with FakeSupabaseAuth() as auth:                       # uvicorn, free port
        session = auth.sign_up("ana@example.com", "segredo123")     # or over HTTP, as supabase-js does
        ... Authorization: Bearer {session["access_token"]} ...
        auth.set_plan("ana@example.com", "pro")            # what billing does through the admin API
        auth.rotate_key()                                  # new tokens signed by a new key (kid)
        auth.mint(sub="x", exp=-60)                        # a token crafted for a test (expired, ...)
        page.goto(auth.magic_link("ana@example.com"))      # the link of the last e-mail "sent"

Endpoints (under `/auth/v1`, as supabase-js 2 (auth-js 2.119) calls them):

* `GET /.well-known/jwks.json`: the public keys (ES256, P-256), the current one first; counted
  in `jwks_fetches`.
* `POST /signup` `{email, password, data, ...}`: the user, signed in at once (e-mail confirmation off).
* `POST /token?grant_type=password` `{email, password, gotrue_meta_security}` and
  `?grant_type=refresh_token` `{refresh_token}`: a session; wrong credentials or a used or revoked
  refresh token are 400.
* `POST /otp?redirect_to=...` `{email, create_user, data, gotrue_meta_security, code_challenge,
  code_challenge_method}`: `{}`, a magic link "e-mailed" (`magic_link(email)`); an unknown e-mail
  with `create_user: false` is 422 `otp_disabled`.
* `GET /verify?token=&type=magiclink&redirect_to=`: 303 to `redirect_to#access_token=...&expires_at=
  ...&expires_in=...&refresh_token=...&token_type=bearer&type=magiclink`; a used or unknown link
  goes to `redirect_to#error=access_denied&error_code=otp_expired&error_description=...`.
* `GET /user` (Bearer): the user. `POST /logout?scope=global|local|others` (Bearer): those sessions
  ended (their refresh tokens revoked, their access tokens refused by `/user` and `/logout`); 204.
  No token is 401 `no_authorization`; a bad one 403 `bad_jwt`; an ended session's 403
  `session_not_found`.

Errors have GoTrue's two shapes: `{"code": "<error code>", "message"}` with the response header
`X-Supabase-Api-Version: 2024-01-01` when the request asked for that version (supabase-js always
does), else the legacy `{"code": <status>, "error_code", "msg"}`. Browsers may call it from any
origin (CORS, preflight included, the version header exposed), as Supabase's gateway allows. With
`anon_key`, every route but the keys and the link needs the `apikey` header, as the gateway does.
Each request but a preflight is logged in `calls` as `"METHOD /path?query"`.

A session: `{access_token, token_type: "bearer", expires_in, expires_at, refresh_token, user}`.
Access tokens carry Supabase's claims: `iss`, `sub`, `aud: "authenticated"`, `exp`, `iat`,
`email`, `role`, `app_metadata` (`provider`, `providers`, and `plan` once set), `user_metadata`,
`session_id`. `now` is the double's clock (seconds since the epoch), so tests can age tokens.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.fakes.server import LocalDouble, ServerThread

ACCESS_SECONDS = 3600
API_VERSION_HEADER = "X-Supabase-Api-Version"
API_VERSION = "2024-01-01"
# The headers supabase-js sends.
ALLOWED_HEADERS = ["apikey", "authorization", "x-client-info", "content-type", "accept",
                   API_VERSION_HEADER.lower()]
OPEN_PATHS = ("/auth/v1/.well-known/jwks.json", "/auth/v1/verify")  # no apikey, as Supabase's gateway
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LOGOUT_SCOPES = ("global", "local", "others")


@dataclass
class _User:
    id: str
    email: str
    password: str | None
    app_metadata: dict[str, Any] = field(default_factory=dict)
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "aud": "authenticated", "role": "authenticated", "email": self.email,
                "email_confirmed_at": self.created_at, "phone": "", "confirmed_at": self.created_at,
                "app_metadata": self.app_metadata, "user_metadata": {}, "identities": [],
                "created_at": self.created_at, "updated_at": self.created_at, "is_anonymous": False}


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: ec.EllipticCurvePrivateKey

    @classmethod
    def new(cls) -> SigningKey:
        return cls(uuid.uuid4().hex[:16], ec.generate_private_key(ec.SECP256R1()))

    def jwk(self) -> dict[str, Any]:
        public = jwt.algorithms.ECAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        return {**public, "kid": self.kid, "alg": "ES256", "use": "sig", "key_ops": ["verify"]}


def _address(email: str) -> str:
    """E-mails as GoTrue keeps them: trimmed, lower case."""
    return email.strip().lower()


class _AuthError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class FakeSupabaseAuth(LocalDouble):
    def __init__(self, *, now: Callable[[], float] = time.time, anon_key: str | None = None) -> None:
        self.now = now
        self.anon_key = anon_key
        self._lock = threading.Lock()
        self._users: dict[str, _User] = {}  # by e-mail
        self._sessions: dict[str, str] = {}  # session id -> user id, while the session lasts
        self._refresh: dict[str, tuple[str, str]] = {}  # refresh token -> (user id, session id)
        self._links: dict[str, str] = {}  # e-mail -> the last magic link "e-mailed"
        self._link_owner: dict[str, str] = {}  # magic-link token -> e-mail
        self.keys: list[SigningKey] = [SigningKey.new()]  # the current key first
        self.jwks_fetches = 0
        self.calls: list[str] = []
        self._server = ServerThread(self._app(), "FakeSupabaseAuth")

    @property
    def url(self) -> str:
        """What `SUPABASE_URL` names."""
        return self.root_url

    # --- what the tests do beside HTTP ----------------------------------------------------------

    def sign_up(self, email: str, password: str) -> dict[str, Any]:
        with self._lock:
            return self._session(self._user(email, password))

    def set_plan(self, email: str, plan: str | None) -> None:
        """What billing does with the admin API: the next tokens carry `app_metadata.plan`."""
        with self._lock:
            metadata = self._users[_address(email)].app_metadata
            if plan is None:
                metadata.pop("plan", None)
            else:
                metadata["plan"] = plan

    def user_id(self, email: str) -> str:
        return self._users[_address(email)].id

    def magic_link(self, email: str) -> str:
        """The link of the last magic-link e-mail "sent" to this address (`POST /otp`)."""
        return self._links[_address(email)]

    def rotate_key(self) -> SigningKey:
        """A new current key; the previous ones stay published (tokens they signed stay valid)."""
        with self._lock:
            self.keys.insert(0, SigningKey.new())
            return self.keys[0]

    def retire_old_keys(self) -> None:
        with self._lock:
            del self.keys[1:]

    def mint(self, *, key: SigningKey | None = None, headers: dict[str, Any] | None = None,
             exp: float = ACCESS_SECONDS, nbf: float | None = None, **claims: Any) -> str:
        """A token as the project would sign it, or crafted: `exp`/`nbf` are seconds from now;
        `key` another key than the project's (signed by a stranger); claims replace the usual."""
        now = self.now()
        body: dict[str, Any] = {"iss": f"{self.url}/auth/v1", "sub": str(uuid.uuid4()), "aud": "authenticated",
                                "iat": int(now), "exp": int(now + exp), "role": "authenticated",
                                "email": "alguem@example.com", "app_metadata": {}, "user_metadata": {}}
        if nbf is not None:
            body["nbf"] = int(now + nbf)
        body.update(claims)
        signer = key or self.keys[0]
        return jwt.encode(body, signer.private, algorithm="ES256", headers={"kid": signer.kid, **(headers or {})})

    # --- users and sessions (under the lock) ---------------------------------------------------

    def _user(self, email: str, password: str | None) -> _User:
        email = _address(email)
        return self._users.setdefault(email, _User(str(uuid.uuid4()), email, password,
                                                   {"provider": "email", "providers": ["email"]}))

    def _session(self, user: _User, session_id: str | None = None) -> dict[str, Any]:
        session_id = session_id or str(uuid.uuid4())
        self._sessions[session_id] = user.id
        refresh = secrets.token_urlsafe(16)
        self._refresh[refresh] = (user.id, session_id)
        access = self.mint(sub=user.id, email=user.email, app_metadata=dict(user.app_metadata),
                           session_id=session_id, aal="aal1")
        return {"access_token": access, "token_type": "bearer", "expires_in": ACCESS_SECONDS,
                "expires_at": int(self.now()) + ACCESS_SECONDS, "refresh_token": refresh, "user": user.public()}

    def _by_id(self, user_id: str) -> _User:
        return next(u for u in self._users.values() if u.id == user_id)

    def _bearer(self, request: Request) -> tuple[_User, str]:
        """The user and session of the request's access token, as GoTrue's `requireAuthentication`."""
        header = request.headers.get("authorization", "")
        match = re.fullmatch(r"[Bb]earer (\S+)", header)
        if match is None:
            raise _AuthError(401, "no_authorization", "This endpoint requires a valid Bearer token")
        try:
            kid = jwt.get_unverified_header(match[1]).get("kid")
            key = next(k for k in self.keys if k.kid == kid)
            claims = jwt.decode(match[1], key.private.public_key(), algorithms=["ES256"], audience="authenticated",
                                options={"verify_exp": False})
        except (jwt.PyJWTError, StopIteration) as exc:
            raise _AuthError(403, "bad_jwt", f"invalid JWT: unable to parse or verify signature, {exc}") from exc
        if claims["exp"] < self.now():
            raise _AuthError(403, "bad_jwt", "invalid JWT: unable to parse or verify signature, token is expired")
        user = next((u for u in self._users.values() if u.id == claims.get("sub")), None)
        if user is None:
            raise _AuthError(403, "user_not_found", "User from sub claim in JWT does not exist")
        session_id = claims.get("session_id", "")
        if self._sessions.get(session_id) != user.id:
            raise _AuthError(403, "session_not_found", "Session from session_id claim in JWT does not exist")
        return user, session_id

    def _end_sessions(self, user: _User, session_id: str, scope: str) -> None:
        """`global`: every session of the user; `local`: this one; `others`: all but this one."""
        mine = {sid for sid, uid in self._sessions.items() if uid == user.id}
        ended = {"global": mine, "local": {session_id}, "others": mine - {session_id}}[scope]
        for sid in ended:
            del self._sessions[sid]
        for refresh in [r for r, (_, sid) in self._refresh.items() if sid in ended]:
            del self._refresh[refresh]

    # --- HTTP -------------------------------------------------------------------------------------

    def _app(self) -> ASGIApp:
        def answer_error(request: Request, error: _AuthError) -> JSONResponse:
            if request.headers.get(API_VERSION_HEADER, "") >= API_VERSION:
                return JSONResponse({"code": error.code, "message": error.message}, status_code=error.status,
                                    headers={API_VERSION_HEADER: API_VERSION})
            return JSONResponse({"code": error.status, "error_code": error.code, "msg": error.message},
                                status_code=error.status)

        def endpoint(handler: Callable[[Request], Any]) -> Callable[[Request], Any]:
            async def run(request: Request) -> Response:
                try:
                    return await handler(request)
                except _AuthError as error:
                    return answer_error(request, error)
            return run

        def email_of(body: dict[str, Any]) -> str:
            email = _address(str(body.get("email", "")))
            if not EMAIL.match(email):
                raise _AuthError(400, "validation_failed", "Unable to validate email address: invalid format")
            return email

        async def jwks(request: Request) -> Response:
            with self._lock:
                self.jwks_fetches += 1
                return JSONResponse({"keys": [k.jwk() for k in self.keys]})

        async def signup(request: Request) -> Response:
            body = await request.json()
            email, password = email_of(body), str(body.get("password", ""))
            if len(password) < 6:
                raise _AuthError(422, "weak_password", "Password should be at least 6 characters.")
            with self._lock:
                if email in self._users:
                    raise _AuthError(422, "user_already_exists", "User already registered")
                return JSONResponse(self._session(self._user(email, password)))

        async def token(request: Request) -> Response:
            body = await request.json()
            grant = request.query_params.get("grant_type")
            with self._lock:
                if grant == "password":
                    user = self._users.get(_address(str(body.get("email", ""))))
                    if user is None or user.password is None or user.password != body.get("password"):
                        raise _AuthError(400, "invalid_credentials", "Invalid login credentials")
                    return JSONResponse(self._session(user))
                if grant == "refresh_token":
                    owner = self._refresh.pop(str(body.get("refresh_token", "")), None)
                    if owner is None:
                        raise _AuthError(400, "refresh_token_not_found",
                                         "Invalid Refresh Token: Refresh Token Not Found")
                    return JSONResponse(self._session(self._by_id(owner[0]), owner[1]))
            raise _AuthError(400, "validation_failed", f"unsupported_grant_type {grant!r}")

        async def otp(request: Request) -> Response:
            body = await request.json()
            email = email_of(body)
            redirect_to = request.query_params.get("redirect_to", "")
            with self._lock:
                if email not in self._users and body.get("create_user") is False:
                    raise _AuthError(422, "otp_disabled", "Signups not allowed for otp")
                self._user(email, None)
                link = secrets.token_urlsafe(16)
                self._link_owner[link] = email
                query = {"token": link, "type": "magiclink", **({"redirect_to": redirect_to} if redirect_to else {})}
                self._links[email] = f"{self.url}/auth/v1/verify?{urlencode(query)}"
            return JSONResponse({})

        async def verify(request: Request) -> Response:
            params = request.query_params
            redirect_to = params.get("redirect_to", "")
            with self._lock:
                email = self._link_owner.pop(params.get("token", ""), None)
                session = self._session(self._users[email]) if email is not None else None
            if session is None:
                failure = _AuthError(403, "otp_expired", "Email link is invalid or has expired")
                if not redirect_to:
                    return answer_error(request, failure)
                fragment = urlencode({"error": "access_denied", "error_code": failure.code,
                                      "error_description": failure.message})
            else:
                fragment = urlencode({"access_token": session["access_token"], "expires_at": session["expires_at"],
                                      "expires_in": session["expires_in"], "refresh_token": session["refresh_token"],
                                      "token_type": "bearer", "type": "magiclink"})
            return RedirectResponse(f"{redirect_to or '/'}#{fragment}", status_code=303)

        async def user(request: Request) -> Response:
            with self._lock:
                found, _ = self._bearer(request)
            return JSONResponse(found.public())

        async def logout(request: Request) -> Response:
            scope = request.query_params.get("scope", "global")
            if scope not in LOGOUT_SCOPES:
                raise _AuthError(400, "validation_failed", f"Unsupported logout scope {scope!r}")
            with self._lock:
                found, session_id = self._bearer(request)
                self._end_sessions(found, session_id, scope)
            return Response(status_code=204)

        app = Starlette(
            routes=[
                Route("/auth/v1/.well-known/jwks.json", endpoint(jwks)),
                Route("/auth/v1/signup", endpoint(signup), methods=["POST"]),
                Route("/auth/v1/token", endpoint(token), methods=["POST"]),
                Route("/auth/v1/otp", endpoint(otp), methods=["POST"]),
                Route("/auth/v1/verify", endpoint(verify)),
                Route("/auth/v1/user", endpoint(user)),
                Route("/auth/v1/logout", endpoint(logout), methods=["POST"]),
            ],
            middleware=[Middleware(_Gateway, double=self)],
        )
        return CORSMiddleware(app, allow_origins=["*"], allow_methods=["GET", "POST", "PUT", "DELETE"],
                              allow_headers=ALLOWED_HEADERS, expose_headers=[API_VERSION_HEADER])


class _Gateway:
    """What Supabase's gateway does before Auth sees a request: log it, and ask for the `apikey`."""

    def __init__(self, app: ASGIApp, double: FakeSupabaseAuth) -> None:
        self.app, self.double = app, double

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        query = f"?{request.url.query}" if request.url.query else ""
        self.double.calls.append(f"{request.method} {request.url.path}{query}")
        key = self.double.anon_key
        if key is not None and request.url.path not in OPEN_PATHS and request.headers.get("apikey") != key:
            message = "No API key found in request" if "apikey" not in request.headers else "Invalid API key"
            await JSONResponse({"message": message}, status_code=401)(scope, receive, send)
            return
        await self.app(scope, receive, send)
