"""Request size limit: a body over MAX_BODY_BYTES is refused with 413 before anything reads it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from api.errors import problem

MAX_BODY_BYTES = 1 << 20


class BodyLimit:
    """ASGI middleware: 413 for a declared or streamed body larger than the limit."""

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
        seen = 0

        async def counted() -> dict:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: dict, receive: Any, send: Any) -> None:
        await problem(413, f"the request body is over {self.limit} bytes", type_="urn:goldsplit:too-large",
                      errors=[{"field": "body", "message": f"at most {self.limit} bytes"}]
                      )(scope, receive, send)


class _TooLarge(Exception):
    pass
