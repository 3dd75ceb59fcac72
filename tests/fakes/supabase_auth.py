"""A Supabase Auth (GoTrue) double over real HTTP: users, sessions and the project's signing keys.

    with FakeSupabaseAuth() as auth:                       # uvicorn, free port
        session = auth.sign_up("ana@example.com", "segredo123")     # or over HTTP, as supabase-js does
        ... Authorization: Bearer {session["access_token"]} ...
        auth.set_plan("ana@example.com", "pro")            # what billing does through the admin API
        auth.rotate_key()                                  # new tokens signed by a new key (kid)
        auth.mint(sub="x", exp=-60)                        # a token crafted for a test (expired, ...)

Endpoints (under `/auth/v1`, as supabase-js 2 calls them):

* `GET /.well-known/jwks.json`: the public keys (ES256, P-256), the current one first; counted
  in `jwks_fetches`.
* `POST /signup` `{email, password}`: the user, signed in at once (e-mail confirmation off).
* `POST /token?grant_type=password` `{email, password}` and `?grant_type=refresh_token`
  `{refresh_token}`: a session; wrong credentials or a used refresh token are 400 with GoTrue's
  body (`error_code`, `msg`).
* `POST /otp` `{email}`: a magic link "sent" (read it with `magic_link(email)`);
  `GET /verify?token=&type=magiclink&redirect_to=`: 303 to `redirect_to#access_token=...`.
* `GET /user` (Bearer): the user. `POST /logout` (Bearer): the refresh tokens revoked.

A session: `{access_token, token_type: "bearer", expires_in, expires_at, refresh_token, user}`.
Access tokens carry Supabase's claims: `iss`, `sub`, `aud: "authenticated"`, `exp`, `iat`,
`email`, `role`, `app_metadata` (`provider`, `providers`, and `plan` once set), `user_metadata`,
`session_id`. `now` is the double's clock (seconds since the epoch), so tests can age tokens.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.fakes.server import LocalDouble, ServerThread

ACCESS_SECONDS = 3600


@dataclass
class _User:
    id: str
    email: str
    password: str | None
    app_metadata: dict[str, Any] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "aud": "authenticated", "role": "authenticated", "email": self.email,
                "app_metadata": self.app_metadata, "user_metadata": {}}


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


class FakeSupabaseAuth(LocalDouble):
    def __init__(self, *, now: Callable[[], float] = time.time) -> None:
        self.now = now
        self._lock = threading.Lock()
        self._users: dict[str, _User] = {}  # by e-mail
        self._refresh: dict[str, tuple[str, str]] = {}  # refresh token -> (user id, session id)
        self._links: dict[str, str] = {}  # e-mail -> magic-link token
        self._link_owner: dict[str, str] = {}  # magic-link token -> e-mail
        self.keys: list[SigningKey] = [SigningKey.new()]  # the current key first
        self.jwks_fetches = 0
        self._server = ServerThread(self._app(), "FakeSupabaseAuth")

    @property
    def url(self) -> str:
        """What `SUPABASE_URL` names."""
        return self.root_url

    # --- what the tests do beside HTTP ----------------------------------------------------------

    def sign_up(self, email: str, password: str) -> dict[str, Any]:
        with self._lock:
            user = self._users.setdefault(email, _User(str(uuid.uuid4()), email, password,
                                                       {"provider": "email", "providers": ["email"]}))
            return self._session(user)

    def set_plan(self, email: str, plan: str | None) -> None:
        """What billing does with the admin API: the next tokens carry `app_metadata.plan`."""
        with self._lock:
            metadata = self._users[email].app_metadata
            if plan is None:
                metadata.pop("plan", None)
            else:
                metadata["plan"] = plan

    def user_id(self, email: str) -> str:
        return self._users[email].id

    def magic_link(self, email: str) -> str:
        """The token of the last magic link "e-mailed" to this address."""
        return self._links[email]

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

    # --- sessions ---------------------------------------------------------------------------------

    def _session(self, user: _User, session_id: str | None = None) -> dict[str, Any]:
        session_id = session_id or str(uuid.uuid4())
        refresh = secrets.token_urlsafe(16)
        self._refresh[refresh] = (user.id, session_id)
        access = self.mint(sub=user.id, email=user.email, app_metadata=dict(user.app_metadata),
                           session_id=session_id, aal="aal1")
        return {"access_token": access, "token_type": "bearer", "expires_in": ACCESS_SECONDS,
                "expires_at": int(self.now()) + ACCESS_SECONDS, "refresh_token": refresh, "user": user.public()}

    def _by_id(self, user_id: str) -> _User:
        return next(u for u in self._users.values() if u.id == user_id)

    def _bearer_user(self, request: Request) -> _User | None:
        token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = next(k for k in self.keys if k.kid == kid)
            claims = jwt.decode(token, key.private.public_key(), algorithms=["ES256"], audience="authenticated",
                                options={"verify_exp": False})
        except (jwt.PyJWTError, StopIteration):
            return None
        if claims["exp"] < self.now():
            return None
        return next((u for u in self._users.values() if u.id == claims["sub"]), None)

    # --- HTTP -------------------------------------------------------------------------------------

    def _app(self) -> Starlette:
        def error(status: int, code: str, msg: str) -> JSONResponse:
            return JSONResponse({"code": status, "error_code": code, "msg": msg}, status_code=status)

        async def jwks(request: Request) -> Response:
            with self._lock:
                self.jwks_fetches += 1
                return JSONResponse({"keys": [k.jwk() for k in self.keys]})

        async def signup(request: Request) -> Response:
            body = await request.json()
            email, password = body.get("email", ""), body.get("password", "")
            if len(password) < 6:
                return error(422, "weak_password", "Password should be at least 6 characters.")
            with self._lock:
                if email in self._users:
                    return error(422, "user_already_exists", "User already registered")
            return JSONResponse(self.sign_up(email, password))

        async def token(request: Request) -> Response:
            body = await request.json()
            grant = request.query_params.get("grant_type")
            with self._lock:
                if grant == "password":
                    user = self._users.get(body.get("email", ""))
                    if user is None or user.password != body.get("password"):
                        return error(400, "invalid_credentials", "Invalid login credentials")
                    return JSONResponse(self._session(user))
                if grant == "refresh_token":
                    owner = self._refresh.pop(body.get("refresh_token", ""), None)
                    if owner is None:
                        return error(400, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found")
                    return JSONResponse(self._session(self._by_id(owner[0]), owner[1]))
            return error(400, "validation_failed", f"unsupported grant_type {grant!r}")

        async def otp(request: Request) -> Response:
            email = (await request.json()).get("email", "")
            with self._lock:
                self._users.setdefault(email, _User(str(uuid.uuid4()), email, None,
                                                    {"provider": "email", "providers": ["email"]}))
                link = secrets.token_urlsafe(16)
                self._links[email] = link
                self._link_owner[link] = email
            return JSONResponse({})

        async def verify(request: Request) -> Response:
            params = request.query_params
            with self._lock:
                email = self._link_owner.pop(params.get("token", ""), None)
                if email is None:
                    return error(403, "otp_expired", "Email link is invalid or has expired")
                session = self._session(self._users[email])
            fragment = urlencode({"access_token": session["access_token"], "expires_at": session["expires_at"],
                                  "expires_in": session["expires_in"], "refresh_token": session["refresh_token"],
                                  "token_type": "bearer", "type": "magiclink"})
            return RedirectResponse(f"{params.get('redirect_to', '/')}#{fragment}", status_code=303)

        async def user(request: Request) -> Response:
            with self._lock:
                found = self._bearer_user(request)
            if found is None:
                return error(401, "bad_jwt", "invalid JWT")
            return JSONResponse(found.public())

        async def logout(request: Request) -> Response:
            with self._lock:
                found = self._bearer_user(request)
                if found is not None:
                    for refresh in [r for r, (uid, _) in self._refresh.items() if uid == found.id]:
                        del self._refresh[refresh]
            return Response(status_code=204)

        return Starlette(routes=[
            Route("/auth/v1/.well-known/jwks.json", jwks),
            Route("/auth/v1/signup", signup, methods=["POST"]),
            Route("/auth/v1/token", token, methods=["POST"]),
            Route("/auth/v1/otp", otp, methods=["POST"]),
            Route("/auth/v1/verify", verify),
            Route("/auth/v1/user", user),
            Route("/auth/v1/logout", logout, methods=["POST"]),
        ])
