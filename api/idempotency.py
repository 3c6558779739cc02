"""`Idempotency-Key` on every POST, PUT and PATCH: the same key and body give the same response.

Keys are scoped to the member and the role the bearer token names, so a token whose role may not
make the request is never served its answer. A key is reserved before the command runs, so a
concurrent retry with the same key gets 409 instead of running twice. Only a 2xx answer is kept
and replayed: a refusal (4xx) or a failure (5xx) frees the key, so a corrected retry runs. The same
key with another request (method, path, query or the body's bytes) is refused with 409. A
reservation left by a process that died mid-request is taken over after a minute. Commands that
create something also derive its id from the key (api/deps.py), so even a retry after a 5xx cannot
create it twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.auth import authenticate
from api.errors import Refused, problem, store_unavailable, unavailable
from domain.application import Actor
from projections.database import Database

log = logging.getLogger(__name__)
METHODS = {"POST", "PUT", "PATCH"}
PENDING = 0
RETRY_LATER = "urn:goldsplit:concurrency-conflict"  # the problem type of a lost race (a 409: not kept)
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
        """Remember a 2xx answer; forget the key on any other (a refusal, a failure, a lost race)."""
        with self.db.transaction() as cur:
            if not 200 <= status < 300:
                cur.execute("DELETE FROM goldsplit_idempotency WHERE key = ?", (key,))
            else:
                cur.execute("UPDATE goldsplit_idempotency SET status = ?, body = ?, content_type = ? "
                            "WHERE key = ?", (status, body, content_type, key))


def scoped_key(actor: Actor, key: str) -> str:
    """The stored key: the client's key within its token's member and role."""
    return json.dumps([actor.member_id, actor.role, key])


def request_hash(method: str, path: str, query: bytes, body: bytes) -> str:
    """A digest of the request over the body's raw bytes: two different bodies never match."""
    digest = hashlib.sha256(json.dumps([method, path, query.decode("latin-1")]).encode())
    digest.update(b"\n")
    digest.update(body)
    return digest.hexdigest()


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
        try:
            actor = authenticate(scope["headers"], self.secret)
        except Refused:  # the route refuses it; a refusal is not kept anyway
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
        digest = request_hash(scope["method"], scope["path"], scope.get("query_string", b""), body)
        scoped = scoped_key(actor, key)
        store = self.store()
        try:
            stored = await run_in_threadpool(store.reserve, scoped, digest)
        except Exception as exc:
            if not store_unavailable(exc):
                raise
            log.warning("the store did not answer reserving an Idempotency-Key: %s", exc)
            return await unavailable()(scope, receive, send)
        if stored is not None:
            return await self._replay(stored, digest)(scope, receive, send)

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
            try:
                await run_in_threadpool(store.complete, scoped, captured["status"],
                                        captured["body"].decode("utf-8", "replace"),
                                        captured["content_type"])
            except Exception as exc:  # the answer is sent; the reservation lapses after a minute
                if not store_unavailable(exc):
                    raise
                log.warning("the store did not answer completing an Idempotency-Key: %s", exc)

    @staticmethod
    def _replay(stored: tuple[str, int, str, str], digest: str) -> Any:
        stored_hash, status, body, content_type = stored
        if stored_hash != digest:
            return problem(409, "Idempotency-Key was used before with another request",
                           type_="urn:goldsplit:idempotency-key-reused")
        if status == PENDING:
            return problem(409, "a request with this Idempotency-Key is still in progress",
                           type_="urn:goldsplit:idempotency-key-in-progress")
        return Response(body, status_code=status, media_type=content_type,
                        headers={"Idempotent-Replayed": "true"})
