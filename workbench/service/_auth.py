"""Who is calling: bearer tokens, opaque or JWT (HS256 signed with the same secret).

A client sends ``Authorization: Bearer <secret>`` (identity ``api-token``), or a JWT signed with the
secret whose ``sub`` claim names the caller (``workbench api-token --sub alice``); ``exp`` is checked
when present. The identity goes into the audit trail of the kill switch and the job records.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass

import jwt

__all__ = ["Caller", "Authenticator", "AuthError", "issue_token"]

ALGORITHM = "HS256"
LEEWAY_S = 30  # clock skew tolerated on exp/nbf/iat


class AuthError(Exception):
    """The request carries no valid credential; the message is one line, safe to show."""


@dataclass(frozen=True, slots=True)
class Caller:
    identity: str  # "api-token", a JWT's sub, or "anonymous" (--no-auth)
    method: str  # token | jwt | none


ANONYMOUS = Caller("anonymous", "none")


class Authenticator:
    def __init__(self, secret: str | None) -> None:
        self._secret = secret

    @property
    def enabled(self) -> bool:
        return self._secret is not None

    def authenticate(self, header: str | None) -> Caller:
        if self._secret is None:
            return ANONYMOUS
        if not header:
            raise AuthError("missing bearer token: send 'Authorization: Bearer <token>'")
        scheme, _, credential = header.partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise AuthError("malformed Authorization header: expected 'Bearer <token>'")
        if hmac.compare_digest(credential.encode(), self._secret.encode()):
            return Caller("api-token", "token")
        if credential.count(".") == 2:
            return self._jwt(credential)
        raise AuthError("invalid token")

    def _jwt(self, credential: str) -> Caller:
        try:
            claims = jwt.decode(
                credential,
                self._secret,
                algorithms=[ALGORITHM],
                leeway=LEEWAY_S,
                options={"require": ["sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("token expired: issue a new one (workbench api-token)") from None
        except jwt.PyJWTError as e:
            raise AuthError(f"invalid token ({type(e).__name__})") from None
        sub = str(claims["sub"]).strip()
        if not sub or len(sub) > 128:
            raise AuthError("invalid token (sub must be 1-128 characters)")
        return Caller(sub, "jwt")


def issue_token(secret: str, subject: str, *, ttl_s: float | None = 3600.0) -> str:
    """A JWT for ``subject`` signed with ``secret`` (HS256), valid ``ttl_s`` seconds (``None``: no expiry)."""
    now = int(time.time())
    claims: dict[str, object] = {"sub": subject, "iat": now}
    if ttl_s is not None:
        claims["exp"] = now + int(ttl_s)
    return jwt.encode(claims, secret, algorithm=ALGORITHM)
