"""Request size limit: a body over MAX_BODY_BYTES is refused with 413 before anything parses it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from api.errors import problem

MAX_BODY_BYTES = 1 << 20


class BodyLimit:
    """ASGI middleware: reads the body (declared or chunked) up to the limit, then hands it on."""

    def __init__(self, app: Any, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: dict, receive: Callable[[], Awaitable[dict]],
                       send: Callable[[dict], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > self.limit:
            return await self._refuse(scope, receive, send)
        body = b""
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            if len(body) > self.limit:
                return await self._refuse(scope, receive, send)
            if not message.get("more_body"):
                break
        delivered = False

        async def replay() -> dict:
            nonlocal delivered
            if delivered:
                return await receive()  # the app waits for a disconnect after the body
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, scope: dict, receive: Any, send: Any) -> None:
        await problem(413, f"the request body is over {self.limit} bytes", type_="urn:goldsplit:too-large",
                      errors=[{"field": "body", "message": f"at most {self.limit} bytes"}]
                      )(scope, receive, send)
