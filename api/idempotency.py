"""`Idempotency-Key` on every POST, PUT and PATCH: the same key and body give the same response.

Keys are scoped to the member and the role the bearer token names, so a token whose role may not
make the request is never served its answer. A key is reserved before the command runs, so a
concurrent retry with the same key gets 409 instead of running twice. Only a 2xx answer is kept
and replayed: a refusal (4xx) or a failure (5xx) frees the key, so a corrected retry runs. The same
key with another request (method, path, query or the body's bytes) is refused with 409.

The command's answer commits in the transaction of its events (storage/answers.py), so a
crash or a lost connection after the commit still leaves the answer for the retry; a failure
after that commit does not free the key. A reservation left by a process that died before its
commit is taken over after GOLDSPLIT_IDEMPOTENCY_TAKEOVER_SECONDS. Commands that create something
also derive its id from the key (api/deps.py), so a retry cannot create it twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.auth import caller
from api.errors import Refused, operations, problem, store_unavailable, unavailable
from domain.application import Actor
from storage.answers import KEYED, PENDING, AnswerStore, Keyed

log = logging.getLogger(__name__)
METHODS = {"POST", "PUT", "PATCH"}
RETRY_LATER = "urn:goldsplit:concurrency-conflict"  # the problem type of a lost race (a 409: not kept)


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

    def __init__(self, app: Any, store: Callable[[], AnswerStore]) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: dict, receive: Callable[[], Awaitable[dict]],
                       send: Callable[[dict], Awaitable[None]]) -> None:
        if scope["type"] != "http" or scope["method"] not in METHODS:
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])  # ASGI header names are lower case
        key = headers.get(b"idempotency-key", b"").decode("latin-1")
        if not key:  # most requests: nothing to remember, so no token to check here either
            return await self.app(scope, receive, send)
        try:
            actor = caller(scope)
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
        keyed = KEYED.set(Keyed(scoped, digest, _success_status(scope)))

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
            KEYED.reset(keyed)
            try:
                await run_in_threadpool(store.complete, scoped, captured["status"],
                                        captured["body"].decode("utf-8", "replace"),
                                        captured["content_type"])
            except Exception as exc:  # the answer is sent; the reservation is taken over later
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
                           type_="urn:goldsplit:idempotency-key-in-progress",
                           headers={"Retry-After": "1"})
        return Response(body, status_code=status, media_type=content_type,
                        headers={"Idempotent-Replayed": "true"})


def _success_status(scope: dict) -> int:
    """The status the route answers when its command succeeds (its first 2xx in OpenAPI)."""
    for method, operation in operations(scope["app"], scope["path"]):
        if method.upper() == scope["method"]:
            return min((int(s) for s in operation["responses"] if s.startswith("2")), default=200)
    return 200
