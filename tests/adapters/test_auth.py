"""Access tokens verified against the Supabase Auth double's real JWKS over HTTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Iterator

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from backend.adapters.auth import REFETCH_AFTER, AuthError, KeysUnavailable, TokenVerifier
from tests.fakes.supabase_auth import FakeSupabaseAuth, SigningKey


class Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def auth() -> Iterator[FakeSupabaseAuth]:
    with FakeSupabaseAuth() as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def monotonic() -> Monotonic:
    return Monotonic()


@pytest.fixture
def verifier(auth: FakeSupabaseAuth, http: httpx.AsyncClient, monotonic: Monotonic) -> TokenVerifier:
    return TokenVerifier(http, supabase_url=auth.url, jwt_secret=None, monotonic=monotonic)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hs256(header: dict, claims: dict, secret: bytes) -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


async def test_a_signed_in_users_token_names_them_and_their_plan(auth: FakeSupabaseAuth,
                                                                 verifier: TokenVerifier) -> None:
    session = auth.sign_up("ana@example.com", "segredo123")
    user = await verifier.verify(session["access_token"])
    assert (user.id, user.email, user.app_metadata.get("plan")) == (auth.user_id("ana@example.com"),
                                                                   "ana@example.com", None)
    auth.set_plan("ana@example.com", "pro")
    renewed = auth.sign_up("ana@example.com", "segredo123")  # signs in again: a new token
    assert (await verifier.verify(renewed["access_token"])).app_metadata["plan"] == "pro"


@pytest.mark.parametrize(("make", "reason"), [
    (lambda auth: auth.mint(exp=-1), "expired"),
    (lambda auth: auth.mint(nbf=600), "not_yet_valid"),
    (lambda auth: auth.mint(aud="anon"), "audience"),
    (lambda auth: auth.mint(key=SigningKey.new()), "unknown_key"),  # a stranger's key, its own kid
    (lambda auth: auth.mint(key=SigningKey.new(), headers={"kid": auth.keys[0].kid}), "signature"),
    (lambda auth: "not a token", "malformed"),
])
async def test_a_bad_token_is_refused_with_its_reason(auth: FakeSupabaseAuth, verifier: TokenVerifier,
                                                      make, reason: str) -> None:
    with pytest.raises(AuthError) as refused:
        await verifier.verify(make(auth))
    assert refused.value.reason == reason
    assert refused.value.detail.endswith("entre novamente.")


async def test_alg_none_is_refused(auth: FakeSupabaseAuth, verifier: TokenVerifier) -> None:
    claims = jwt.decode(auth.mint(), options={"verify_signature": False})
    unsigned = f"{_b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{_b64(json.dumps(claims).encode())}."
    with pytest.raises(AuthError) as refused:
        await verifier.verify(unsigned)
    assert refused.value.reason == "algorithm"


async def test_hs256_signed_with_the_public_key_is_refused(auth: FakeSupabaseAuth, http: httpx.AsyncClient,
                                                           verifier: TokenVerifier) -> None:
    claims = jwt.decode(auth.mint(), options={"verify_signature": False})
    public = auth.keys[0].private.public_key().public_bytes(serialization.Encoding.PEM,
                                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    jwk = json.dumps(auth.keys[0].jwk()).encode()
    for secret in (public, jwk):
        forged = _hs256({"alg": "HS256", "typ": "JWT", "kid": auth.keys[0].kid}, claims, secret)
        with pytest.raises(AuthError) as refused:
            await verifier.verify(forged)
        assert refused.value.reason == "algorithm"
    # With a JWT secret configured, HS256 is checked against that secret only.
    both = TokenVerifier(http, supabase_url=auth.url, jwt_secret="the-projects-jwt-secret-at-least-32-bytes")
    with pytest.raises(AuthError) as refused:
        await both.verify(_hs256({"alg": "HS256", "typ": "JWT"}, claims, public))
    assert refused.value.reason == "signature"


async def test_a_projects_jwt_secret_verifies_hs256_tokens(http: httpx.AsyncClient) -> None:
    verifier = TokenVerifier(http, supabase_url=None, jwt_secret="the-projects-jwt-secret-at-least-32-bytes")
    token = jwt.encode({"sub": "u1", "aud": "authenticated", "exp": 4_102_444_800, "email": "u@example.com",
                        "app_metadata": {"plan": "trial"}}, "the-projects-jwt-secret-at-least-32-bytes", algorithm="HS256")
    user = await verifier.verify(token)
    assert (user.id, user.app_metadata["plan"]) == ("u1", "trial")
    with pytest.raises(AuthError) as refused:  # no JWKS to check an ES256 token against
        await verifier.verify(jwt.encode({"sub": "u1"}, SigningKey.new().private, algorithm="ES256"))
    assert refused.value.reason == "algorithm"


async def test_a_rotated_key_is_picked_up_and_bad_kids_fetch_at_most_once_a_minute(
        auth: FakeSupabaseAuth, verifier: TokenVerifier, monotonic: Monotonic) -> None:
    await verifier.verify(auth.mint())
    fetched = auth.jwks_fetches
    for _ in range(20):  # strangers' tokens, each with a kid never seen
        with pytest.raises(AuthError):
            await verifier.verify(auth.mint(key=SigningKey.new()))
    assert auth.jwks_fetches == fetched  # still within the minute of the last fetch
    new = auth.rotate_key()
    try:
        monotonic.now += REFETCH_AFTER
        user = await verifier.verify(auth.mint(sub="after-rotation"))
        assert user.id == "after-rotation" and auth.keys[0] is new
        assert auth.jwks_fetches == fetched + 1
        await verifier.verify(auth.mint(key=auth.keys[1]))  # the previous key, still published
        assert auth.jwks_fetches == fetched + 1
    finally:
        auth.retire_old_keys()


async def test_unreadable_keys_are_the_services_fault(http: httpx.AsyncClient, auth: FakeSupabaseAuth) -> None:
    with FakeSupabaseAuth() as gone:
        url = gone.url
    verifier = TokenVerifier(http, supabase_url=url, jwt_secret=None)
    with pytest.raises(KeysUnavailable):
        await verifier.verify(auth.mint())
