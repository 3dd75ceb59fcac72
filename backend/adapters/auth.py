"""Supabase Auth access tokens, verified here: the project's JWKS (ES256 or RS256), or the JWT
secret (HS256) of projects that still sign with one.

The keys are fetched once and kept; a token signed by a key not among them (a rotation) fetches
them again, at most once a minute, so bad tokens cannot make the service hammer Supabase. The
algorithm is the key's, never the token's word alone: `alg: none`, or HS256 signed with a public
key, is refused. Time comes from the service's clock, not from the library's.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from backend.codes import Clock, system_clock

logger = logging.getLogger(__name__)

AUDIENCE = "authenticated"
REFETCH_AFTER = 60.0  # seconds: the least time between two fetches of the keys for an unknown kid
RETRY_FAILED_FETCH = 5.0  # seconds after a failed fetch before the next
_ASYMMETRIC = {"ES256": "EC", "RS256": "RSA"}  # the algorithms of a JWKS, and the key type of each


@dataclass(frozen=True, slots=True)
class User:
    id: str
    email: str | None
    app_metadata: Mapping[str, Any]


LOCAL_USER = User(id="local", email=None, app_metadata={})
"""AUTH_MODE=off: everyone is this one user, without plan limits (the owner `search_cache` gives
the searches made before accounts)."""


class AuthError(Exception):
    """A token refused: 401. `reason` for the metrics; `detail` for the person."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class KeysUnavailable(Exception):
    """The project's keys could not be read: the service's fault, not the token's (503)."""


class TokenVerifier:
    def __init__(self, http: httpx.AsyncClient, *, supabase_url: str | None, jwt_secret: str | None,
                 clock: Clock = system_clock, monotonic: Callable[[], float] = time.monotonic) -> None:
        if not supabase_url and not jwt_secret:
            raise ValueError("a Supabase URL (for its JWKS) or a JWT secret is needed to verify tokens")
        self._http = http
        self._jwks_url = f"{supabase_url.rstrip('/')}/auth/v1/.well-known/jwks.json" if supabase_url else None
        self._secret = jwt_secret
        self._clock = clock
        self._monotonic = monotonic
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._fetching = asyncio.Lock()

    async def verify(self, token: str) -> User:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("malformed", "Token de acesso inválido; entre novamente.") from None
        algorithm = header.get("alg")
        if algorithm == "HS256" and self._secret:
            key: Any = self._secret
        elif algorithm in _ASYMMETRIC and self._jwks_url:
            jwk = await self._key(header.get("kid"))
            if jwk.key_type != _ASYMMETRIC[algorithm] or jwk.algorithm_name != algorithm:
                raise AuthError("algorithm", "Token de acesso assinado de forma não aceita; entre novamente.")
            key = jwk.key
        else:
            raise AuthError("algorithm", "Token de acesso assinado de forma não aceita; entre novamente.")
        try:
            claims = jwt.decode(token, key, algorithms=[algorithm], audience=AUDIENCE,
                                options={"require": ["sub", "exp", "aud"], "verify_exp": False,
                                         "verify_nbf": False, "verify_iat": False})
        except jwt.InvalidAudienceError:
            raise AuthError("audience", "Token de acesso de outra aplicação; entre novamente.") from None
        except jwt.InvalidSignatureError:
            raise AuthError("signature", "Token de acesso com assinatura inválida; entre novamente.") from None
        except jwt.PyJWTError:
            raise AuthError("malformed", "Token de acesso inválido; entre novamente.") from None
        return self._user(claims)

    def _user(self, claims: Mapping[str, Any]) -> User:
        now = self._clock().timestamp()
        if not isinstance(claims["exp"], int | float) or now >= claims["exp"]:
            raise AuthError("expired", "Sua sessão expirou; entre novamente.")
        nbf = claims.get("nbf")
        if nbf is not None and (not isinstance(nbf, int | float) or now < nbf):
            raise AuthError("not_yet_valid", "Token de acesso ainda não válido; confira o relógio e entre novamente.")
        metadata = claims.get("app_metadata")
        return User(str(claims["sub"]), claims.get("email"), metadata if isinstance(metadata, dict) else {})

    async def _key(self, kid: Any) -> jwt.PyJWK:
        if isinstance(kid, str) and kid in self._keys:
            return self._keys[kid]
        async with self._fetching:
            if isinstance(kid, str) and kid in self._keys:  # fetched while this one waited
                return self._keys[kid]
            if self._fetched_at is None or self._monotonic() - self._fetched_at >= REFETCH_AFTER:
                await self._fetch()
            if not self._keys:
                raise KeysUnavailable("no key of the project read yet")
        if isinstance(kid, str) and kid in self._keys:
            return self._keys[kid]
        raise AuthError("unknown_key", "Token de acesso assinado por chave desconhecida; entre novamente.")

    async def _fetch(self) -> None:
        assert self._jwks_url is not None
        try:
            answer = await self._http.get(self._jwks_url, timeout=10)
            answer.raise_for_status()
            listed = answer.json()["keys"]
        except (httpx.HTTPError, json.JSONDecodeError, KeyError, TypeError) as exc:
            logger.warning("could not read the project's keys at %s: %s", self._jwks_url, exc)
            self._fetched_at = self._monotonic() - REFETCH_AFTER + RETRY_FAILED_FETCH
            raise KeysUnavailable(f"JWKS unavailable: {exc}") from exc
        keys = {}
        for entry in listed:
            try:
                jwk = jwt.PyJWK(entry)
            except jwt.PyJWTError:
                continue  # an algorithm this service does not take, or a broken entry: never used
            if isinstance(entry.get("kid"), str) and jwk.algorithm_name in _ASYMMETRIC:
                keys[entry["kid"]] = jwk
        self._keys = keys
        self._fetched_at = self._monotonic()
