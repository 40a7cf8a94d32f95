"""Auth (opaque token, JWT) and the token bucket, against hand-worked cases and pyjwt as the oracle."""

from __future__ import annotations

import time
import warnings

import jwt
import pytest

from workbench.errors import ConfigError
from workbench.service import ServiceConfig, issue_token
from workbench.service._auth import Authenticator, AuthError
from workbench.service._limits import RateLimiter

SECRET = "k" * 40


def _hs512(claims: dict) -> str:
    """Signed with the right secret but another algorithm (pyjwt warns that 40 bytes are short for it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return jwt.encode(claims, SECRET, algorithm="HS512")


def test_opaque_token_and_jwt_identities() -> None:
    auth = Authenticator(SECRET)
    assert auth.authenticate(f"Bearer {SECRET}").identity == "api-token"
    assert auth.authenticate(f"bearer   {SECRET}").method == "token"
    token = jwt.encode({"sub": "alice", "exp": int(time.time()) + 60}, SECRET, algorithm="HS256")
    who = auth.authenticate(f"Bearer {token}")
    assert (who.identity, who.method) == ("alice", "jwt")
    # issue_token's claims, read back with pyjwt
    claims = jwt.decode(issue_token(SECRET, "bob", ttl_s=120), SECRET, algorithms=["HS256"])
    assert claims["sub"] == "bob" and claims["exp"] - claims["iat"] == 120


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "missing bearer token"),
        ("", "missing bearer token"),
        ("Basic abc", "malformed Authorization header"),
        ("Bearer", "malformed Authorization header"),
        (f"Bearer {SECRET}x", "invalid token"),
        (
            "Bearer " + jwt.encode({"sub": "eve"}, "another-secret-of-enough-length-000", algorithm="HS256"),
            "invalid token",
        ),
        (
            "Bearer " + jwt.encode({"sub": "eve", "exp": int(time.time()) - 3600}, SECRET, algorithm="HS256"),
            "expired",
        ),
        ("Bearer " + jwt.encode({"user": "eve"}, SECRET, algorithm="HS256"), "invalid token"),  # no sub
        (
            "Bearer " + _hs512({"sub": "eve"}),
            "invalid token",
        ),  # other algorithm
        ("Bearer " + jwt.encode({"sub": "eve"}, None, algorithm="none"), "invalid token"),  # unsigned
    ],
)
def test_refused_credentials(header: str | None, message: str) -> None:
    with pytest.raises(AuthError, match=message) as e:
        Authenticator(SECRET).authenticate(header)
    assert "\n" not in str(e.value)


def test_config_refuses_no_or_short_tokens() -> None:
    with pytest.raises(ConfigError, match="WORKBENCH_API_TOKEN"):
        ServiceConfig(token=None)
    with pytest.raises(ConfigError, match="at least 32"):
        ServiceConfig(token="short")
    assert ServiceConfig(token=None, auth=False).auth is False
    env = {"WORKBENCH_API_TOKEN": SECRET, "WORKBENCH_API_RATE": "5", "WORKBENCH_API_MAX_UPLOAD_MB": "2"}
    from workbench.config import settings

    cfg = ServiceConfig.from_settings(settings(env))
    assert (cfg.token, cfg.rate, cfg.bucket_size, cfg.max_upload_bytes) == (
        SECRET,
        5.0,
        10.0,
        2 * 1024 * 1024,
    )


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_token_bucket_by_hand() -> None:
    """2 tokens/s, 3 banked: 3 at once, the 4th waits 0.5 s; 0.25 s later half a token -> wait 0.25 s;
    another client has its own bucket; after 10 s idle the bucket holds 3 again, not 20."""
    clock = Clock()
    limiter = RateLimiter(2.0, 3.0, clock=clock)
    assert [limiter.allow("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.allow("a") == pytest.approx(0.5)
    assert limiter.allow("b") == 0.0
    clock.t += 0.25
    assert limiter.allow("a") == pytest.approx(0.25)
    clock.t += 0.25
    assert limiter.allow("a") == 0.0
    clock.t += 10
    assert [limiter.allow("a") for _ in range(4)][-2:] == [0.0, pytest.approx(0.5)]
    assert RateLimiter(0, 1).allow("x") == 0.0  # rate 0: no limit


def test_idle_buckets_are_forgotten() -> None:
    clock = Clock()
    limiter = RateLimiter(1.0, 2.0, max_keys=3, clock=clock)
    for key in "abcd":
        limiter.allow(key)
    clock.t += 5  # every bucket full again
    limiter.allow("e")
    assert set(limiter._buckets) == {"e"}
