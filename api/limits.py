"""The edge of the API: who is asking, then the body read once and refused unless it is UTF-8 JSON.

Before any route runs: one `Authorization`, `Idempotency-Key` and `Content-Type` header each (400);
a valid bearer token on /v1 (401, before the body is read, so malformed JSON from a stranger is
still 401); a body of at most MAX_BODY_BYTES (413); a body, if any, sent as `application/json` in
UTF-8 (415); no byte order mark, bytes that are UTF-8 and no NUL byte (400); no key twice in one
object and no NUL in any string or key (422, naming where). Anything else JSON may hold, and JSON
that does not parse, is left to the routes.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from api.auth import CALLER, authenticate
from api.errors import Refused, problem, refusal

MAX_BODY_BYTES = 1 << 20
ONCE = (b"authorization", b"idempotency-key", b"content-type")  # two of one are ambiguous
BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")  # UTF-8's, and UTF-16's (UTF-32's begin alike)
INVALID = "urn:goldsplit:invalid-input"


class StrictInput:
    """ASGI middleware: authenticates /v1, reads the body (declared or chunked) up to the limit,
    checks it, then hands it on."""

    def __init__(self, app: Any, secret: str, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.secret = secret
        self.limit = limit

    async def __call__(self, scope: dict, receive: Callable[[], Awaitable[dict]],
                       send: Callable[[dict], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = scope["headers"]
        try:
            _once(headers)
            if scope["path"].startswith("/v1/"):  # the one place a request's token is checked
                scope.setdefault("state", {})[CALLER] = authenticate(headers, self.secret)
        except Refused as refused:
            return await refusal(refused)(scope, receive, send)
        declared = dict(headers).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > self.limit:
            return await self._too_large(scope, receive, send)
        body = b""
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            if len(body) > self.limit:
                return await self._too_large(scope, receive, send)
            if not message.get("more_body"):
                break
        if body and scope["path"].startswith("/v1/"):  # the JSON API's; the web app's forms are forms
            try:
                check_json(body, dict(headers).get(b"content-type", b"").decode("latin-1"))
            except Refused as refused:
                return await refusal(refused, INVALID)(scope, receive, send)
        delivered = False

        async def replay() -> dict:
            nonlocal delivered
            if delivered:
                return await receive()  # the app waits for a disconnect after the body
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _too_large(self, scope: dict, receive: Any, send: Any) -> None:
        await problem(413, f"the request body is over {self.limit} bytes", type_="urn:goldsplit:too-large",
                      errors=[{"field": "body", "message": f"at most {self.limit} bytes"}]
                      )(scope, receive, send)


def _once(headers: list[tuple[bytes, bytes]]) -> None:
    names = [name.lower() for name, _ in headers]
    for name in ONCE:
        if names.count(name) > 1:
            raise Refused(400, f"given {names.count(name)} times; send one",
                          field=name.decode().title())


def check_json(body: bytes, content_type: str) -> None:
    """Refuse a body that is not UTF-8 JSON, or whose JSON has a key twice or a NUL anywhere."""
    media, *params = (part.strip() for part in content_type.split(";"))
    media = media.lower()
    if not media:
        raise Refused(415, "missing; send application/json", field="Content-Type")
    if not (media == "application/json" or (media.startswith("application/") and media.endswith("+json"))):
        raise Refused(415, f"{media} is not accepted; send application/json", field="Content-Type")
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise Refused(415, f"charset={value.strip()} is not accepted; send UTF-8",
                          field="Content-Type")
    if body.startswith(BOMS):
        raise Refused(400, "a byte order mark is not allowed", field="body")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as bad:
        raise Refused(400, f"not UTF-8 (byte 0x{body[bad.start]:02x} at {bad.start})",
                      field="body") from None
    if b"\x00" in body[:2]:  # JSON begins with an ASCII character: a NUL beside it is UTF-16 or -32
        raise Refused(400, "not UTF-8 (UTF-16 or UTF-32, by the NUL bytes it begins with)", field="body")
    if b"\x00" in body:
        raise Refused(400, "NUL characters are not allowed", field="body")
    twice: list[bool] = []

    def pairs(items: list[tuple[str, Any]]) -> dict:
        kept = dict(items)
        if len(kept) == len(items):
            return kept
        twice.append(True)
        return _Twice(items)

    try:
        document = json.loads(body, object_pairs_hook=pairs)
    except (ValueError, RecursionError):
        return  # not JSON: the route names the body, after it has checked who is asking
    if twice:
        raise Refused(422, "given twice", field=_joined(_where(document, lambda v: isinstance(v, _Twice))))
    if b"\\u0000" in body:  # else no string can hold a NUL: the raw byte was refused above
        nul_at = _where(document, lambda value: isinstance(value, str) and "\x00" in value)
        if nul_at is not None:
            raise Refused(422, "NUL characters are not allowed", field=_joined(nul_at))


class _Twice(dict):
    """An object that had a key twice; `key` is the first repeated one."""

    def __init__(self, items: list[tuple[str, Any]]) -> None:
        super().__init__(items)
        seen: set[str] = set()
        for key, _ in items:
            if key in seen:
                self.key = key
                break
            seen.add(key)


def _where(document: Any, wanted: Callable[[Any], bool]) -> list | None:
    """The path to the first value or key `wanted` picks, in document order (a key names its
    object; a _Twice, its repeated key). Walked without recursion: JSON may nest deeper than
    Python's stack allows."""
    stack: list[tuple[list, Any]] = [([], document)]
    while stack:
        path, value = stack.pop()
        if wanted(value):
            return path + [value.key] if isinstance(value, _Twice) else path
        if isinstance(value, dict):
            if any(wanted(key) for key in value):
                return path
            stack.extend((path + [key], item) for key, item in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((path + [index], item) for index, item in reversed(list(enumerate(value))))
    return None


def _joined(path: list | None) -> str:
    return ".".join(str(p) for p in path or []).replace("\x00", "\\u0000") or "body"
