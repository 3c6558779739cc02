"""`Idempotency-Key` on every POST, PUT and PATCH: the same key and body give the same response.

Keys are scoped to the member the bearer token names. A key is reserved before the command runs,
so a concurrent retry with the same key gets 409 instead of running twice; a 5xx frees the key.
The same key with another body is refused with 409. A reservation left by a process that died
mid-request is taken over after a minute. Commands that create something also derive its id from
the key (api/deps.py), so even a retry after a 5xx cannot create it twice.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.auth import InvalidToken, verify_token
from api.errors import problem
from projections.database import Database

METHODS = {"POST", "PUT", "PATCH"}
PENDING = 0
RETRY_LATER = "urn:goldsplit:concurrency-conflict"  # the problem type of a lost race
ABANDONED_AFTER_SECONDS = 60  # a reservation whose process died mid-request is taken over
SCHEMA = ("CREATE TABLE IF NOT EXISTS goldsplit_idempotency ("
          " key TEXT PRIMARY KEY, request_hash TEXT NOT NULL, status INTEGER NOT NULL,"
          " body TEXT NOT NULL, content_type TEXT NOT NULL, reserved_at DOUBLE PRECISION NOT NULL)")


class IdempotencyStore:
    """Remembered responses by scoped key, in the application's database."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock
        with db.transaction() as cur:
            cur.execute(SCHEMA)

    def reserve(self, key: str, request_hash: str) -> tuple[str, int, str, str] | None:
        """Reserve `key` for this request; or return what is already stored under it."""
        now = self.clock()
        with self.db.transaction() as cur:
            cur.execute("INSERT INTO goldsplit_idempotency (key, request_hash, status, body, "
                        "content_type, reserved_at) VALUES (?, ?, ?, '', '', ?) "
                        "ON CONFLICT (key) DO NOTHING", (key, request_hash, PENDING, now))
            if cur.rowcount == 1:
                return None
            cur.execute("UPDATE goldsplit_idempotency SET request_hash = ?, reserved_at = ? "
                        "WHERE key = ? AND status = ? AND reserved_at < ?",
                        (request_hash, now, key, PENDING, now - ABANDONED_AFTER_SECONDS))
            if cur.rowcount == 1:
                return None
            cur.execute("SELECT request_hash, status, body, content_type FROM goldsplit_idempotency "
                        "WHERE key = ?", (key,))
            return tuple(cur.fetchone())

    def complete(self, key: str, status: int, body: str, content_type: str) -> None:
        """Remember the answer; forget the key if the answer says to retry (5xx, a lost race)."""
        with self.db.transaction() as cur:
            if status >= 500 or RETRY_LATER in body:
                cur.execute("DELETE FROM goldsplit_idempotency WHERE key = ?", (key,))
            else:
                cur.execute("UPDATE goldsplit_idempotency SET status = ?, body = ?, content_type = ? "
                            "WHERE key = ?", (status, body, content_type, key))


class IdempotencyMiddleware:
    """ASGI middleware: replays the remembered response of a repeated key."""

    def __init__(self, app: Any, store: Callable[[], IdempotencyStore], secret: str) -> None:
        self.app = app
        self.store = store
        self.secret = secret

    async def __call__(self, scope: dict, receive: Callable[[], Awaitable[dict]],
                       send: Callable[[dict], Awaitable[None]]) -> None:
        if scope["type"] != "http" or scope["method"] not in METHODS:
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])  # ASGI header names are lower case
        key = headers.get(b"idempotency-key", b"").decode("latin-1")
        if not key:  # most requests: nothing to remember, so no token to check here either
            return await self.app(scope, receive, send)
        member = self._member(headers.get(b"authorization", b"").decode("latin-1"))
        if member is None:
            return await self.app(scope, receive, send)
        if len(key) > 200 or not (key.isascii() and key.isprintable()):
            message = "must be at most 200 printable ASCII characters"
            return await problem(422, f"Idempotency-Key: {message}", type_="urn:goldsplit:invalid-input",
                                 errors=[{"field": "Idempotency-Key", "message": message}]
                                 )(scope, receive, send)

        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request_hash = hashlib.sha256(json.dumps(
            [scope["method"], scope["path"], scope.get("query_string", b"").decode("latin-1"),
             body.decode("utf-8", "replace")]).encode()).hexdigest()
        scoped = f"{member}:{key}"
        store = self.store()
        stored = await run_in_threadpool(store.reserve, scoped, request_hash)
        if stored is not None:
            return await self._replay(stored, request_hash)(scope, receive, send)

        sent = False

        async def replay_body() -> dict:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        captured: dict[str, Any] = {"status": 500, "body": b"", "content_type": "application/json"}

        async def capture(message: dict) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                for k, v in message.get("headers", []):
                    if k.decode().lower() == "content-type":
                        captured["content_type"] = v.decode()
            elif message["type"] == "http.response.body":
                captured["body"] += message.get("body", b"")
            await send(message)

        try:
            await self.app(scope, replay_body, capture)
        finally:
            await run_in_threadpool(store.complete, scoped, captured["status"],
                                    captured["body"].decode("utf-8", "replace"),
                                    captured["content_type"])

    def _member(self, authorization: str) -> str | None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return None
        try:
            return verify_token(self.secret, token.strip()).member_id
        except InvalidToken:
            return None

    @staticmethod
    def _replay(stored: tuple[str, int, str, str], request_hash: str) -> Any:
        stored_hash, status, body, content_type = stored
        if stored_hash != request_hash:
            return problem(409, "Idempotency-Key was used before with another request",
                           type_="urn:goldsplit:idempotency-key-reused")
        if status == PENDING:
            return problem(409, "a request with this Idempotency-Key is still in progress",
                           type_="urn:goldsplit:idempotency-key-in-progress")
        return Response(body, status_code=status, media_type=content_type,
                        headers={"Idempotent-Replayed": "true"})
