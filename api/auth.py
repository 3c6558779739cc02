"""Signed bearer tokens: `gs1.<payload>.<signature>`, HMAC-SHA256 over the payload with GOLDSPLIT_SECRET.

The payload is base64url JSON `{"sub": member id, "role": role, "iat": issued, "exp": expires}`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from functools import lru_cache

from api.errors import Refused
from domain.application import Actor

TOKEN_ROLES = ("member", "lead", "finance", "auditor", "admin")
PREFIX = "gs1"
CHALLENGE = {"WWW-Authenticate": "Bearer"}
CALLER = "goldsplit.caller"  # where the edge keeps the authenticated Actor in the request's state


class InvalidToken(Exception):
    """The bearer token is missing, malformed, forged or expired."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: str, payload: str) -> str:
    return _b64(hmac.new(secret.encode(), f"{PREFIX}.{payload}".encode(), hashlib.sha256).digest())


def issue_token(secret: str, member_id: str, role: str, ttl_seconds: int,
                now: float | None = None) -> str:
    if role not in TOKEN_ROLES:
        raise ValueError(f"role must be one of {', '.join(TOKEN_ROLES)}")
    if not member_id:
        raise ValueError("member id must not be empty")
    issued = int(now if now is not None else time.time())
    claims = {"sub": member_id, "role": role, "iat": issued, "exp": issued + ttl_seconds}
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{PREFIX}.{payload}.{_sign(secret, payload)}"


def verify_token(secret: str, token: str, now: float | None = None) -> Actor:
    actor, expires = _verified(secret, token)
    if expires <= (now if now is not None else time.time()):
        raise InvalidToken("the token has expired")
    return actor


def authenticate(headers: list[tuple[bytes, bytes]], secret: str) -> Actor:
    """The actor of a request's one `Authorization: Bearer` token (ASGI headers); refused if none,
    two, or not valid. The edge asks it once per /v1 request and keeps the answer (`caller`)."""
    given = [value for name, value in headers if name.lower() == b"authorization"]
    if len(given) > 1:
        raise Refused(400, f"given {len(given)} times; send one", field="Authorization")
    scheme, _, token = (given[0].decode("latin-1") if given else "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Refused(401, "a bearer token is required (Authorization: Bearer <token>)",
                      headers=CHALLENGE)
    try:
        return verify_token(secret, token.strip())
    except InvalidToken as exc:
        raise Refused(401, str(exc), headers=CHALLENGE) from None


@lru_cache(maxsize=4096)
def _verified(secret: str, token: str) -> tuple[Actor, int]:
    """The actor a token names and when it expires, once its signature is checked. A client sends
    the same token on every request: kept, it costs a dictionary lookup instead of an HMAC and a
    JSON parse. Refusals are not kept (an exception is never cached)."""
    if not token.isascii():
        raise InvalidToken("the token is malformed")
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise InvalidToken("the token is malformed")
    _, payload, signature = parts
    if not hmac.compare_digest(_sign(secret, payload), signature):
        raise InvalidToken("the token signature is not valid")
    try:
        claims = json.loads(_unb64(payload))
        member_id, role, expires = str(claims["sub"]), str(claims["role"]), int(claims["exp"])
    except (ValueError, KeyError, TypeError):
        raise InvalidToken("the token payload is malformed") from None
    if role not in TOKEN_ROLES:
        raise InvalidToken(f"the token carries an unknown role {role!r}")
    return Actor(member_id=member_id, role=role), expires


def caller(scope: dict) -> Actor:
    """Who sent this /v1 request, as the edge authenticated it (api/limits.py keeps it in the
    request's state); a request that did not pass the edge is refused as unauthenticated."""
    actor = scope.get("state", {}).get(CALLER)
    if actor is None:
        raise Refused(401, "a bearer token is required (Authorization: Bearer <token>)",
                      headers=CHALLENGE)
    return actor
