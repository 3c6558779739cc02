"""The OpenAPI document, completed with what FastAPI cannot see from the routes alone.

FastAPI documents each route's parameters, body and answers. Around every route sits the edge
(api/limits.py) and the error handlers (api/errors.py); what they answer is added here, so the
document lists every status any request can get:

- 400 (a header given twice; a body with a byte order mark, not UTF-8, or a NUL byte), 413 (a
  body over the limit) and 415 (a body not sent as UTF-8 JSON) on every operation;
- 401 on every /v1 operation, with `WWW-Authenticate: Bearer`, and the bearer scheme itself;
- 503 with `Retry-After` wherever the store is asked (all but /live);
- every refusal as `application/problem+json` with the Problem schema (RFC 9457), never as
  application/json;
- the `Idempotency-Key` header api/idempotency.py honours on every POST, PUT and PATCH (the
  routes that read it leave it out of their own parameters): its format, a 422 for a key out of
  it, the 409s of a key reused with another request or still in progress (with `Retry-After`),
  and `Idempotent-Replayed: true` on a replayed success;
- an example of every success: a read's from api/examples.json (answers of a small seeded ledger,
  lists cut to one item), a command's from its response model; tests/unit/test_openapi_examples.py
  checks that each one is valid against its own schema.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

PROBLEM = {"$ref": "#/components/schemas/Problem"}
EDGE = {400: "a header given twice, or a body with a byte order mark, bytes that are not UTF-8 or "
             "a NUL byte",
        413: "the request body is over 1 MiB",
        415: "a body not sent as application/json in UTF-8"}
UNAUTHORIZED = "no valid bearer token"
UNAVAILABLE = "the store does not answer, or the read models are not there yet; retry after "\
              "Retry-After seconds"
HEADERS = {
    401: {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string", "enum": ["Bearer"]}}},
    503: {"Retry-After": {"description": "seconds to wait before retrying",
                          "schema": {"type": "string", "pattern": "^[0-9]+$"}}},
}
EXAMPLES: dict[str, Any] = json.loads((Path(__file__).parent / "examples.json").read_text())
METRICS_EXAMPLE = ('# TYPE goldsplit_log_position gauge\ngoldsplit_log_position 1234\n'
                   '# TYPE goldsplit_projection_lag_events gauge\n'
                   'goldsplit_projection_lag_events{projection="board"} 0\n')
KEYED = ("post", "put", "patch")  # api/idempotency.py METHODS
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "Makes a retry safe: at most 200 printable ASCII characters (an empty one is "
                   "none). Within the token's member and role, the same key with the same request "
                   "(method, path, query and the body's bytes) replays the first success with "
                   "`Idempotent-Replayed: true` and records nothing; the same key with another "
                   "request is 409 `urn:goldsplit:idempotency-key-reused`; while the first request "
                   "runs it is 409 `urn:goldsplit:idempotency-key-in-progress` with `Retry-After`. "
                   "Only a 2xx answer is kept: after a refusal the key is free for a corrected "
                   "request. A command that creates something derives its id from the key, so a "
                   "retry names the same one. A key out of this format is 422 naming it.",
    "schema": {"type": "string", "maxLength": 200, "pattern": "^[ -~]*$"},
}
REPLAYED = {"description": "`true` when the answer is the one kept for this Idempotency-Key, "
                           "replayed: nothing was recorded again",
            "schema": {"type": "string", "enum": ["true"]}}
KEY_CONFLICT = ("; `urn:goldsplit:idempotency-key-reused`: the Idempotency-Key was used with another "
                "request; `urn:goldsplit:idempotency-key-in-progress`: the first request with it is "
                "still running, retry after Retry-After seconds")
BEARER = {"type": "http", "scheme": "bearer",
          "description": "a signed token, gs1.<payload>.<signature> (`goldsplit token issue`)"}


def install(app: FastAPI) -> None:
    """Serve the completed document at /openapi.json (built once, on first use)."""

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = completed(get_openapi(
                title=app.title, version=app.version, openapi_version=app.openapi_version,
                description=app.description, routes=app.routes))
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]


def completed(schema: dict[str, Any]) -> dict[str, Any]:
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {})["bearer"] = BEARER
    components.setdefault("parameters", {})["IdempotencyKey"] = IDEMPOTENCY_KEY
    components.setdefault("headers", {})["IdempotentReplayed"] = REPLAYED
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            if method in KEYED:
                _keyed(operation)
            _exemplify(schema, f"{method.upper()} {path}", responses)
            for status, text in EDGE.items():
                responses.setdefault(str(status), {"description": text})
            if path.startswith("/v1/"):
                operation["security"] = [{"bearer": []}]
                responses.setdefault("401", {"description": UNAUTHORIZED})
            if path != "/live":
                responses.setdefault("503", {"description": UNAVAILABLE})
            for status, response in responses.items():
                if int(status) >= 400:
                    response["content"] = {"application/problem+json": {"schema": PROBLEM}}
                    if int(status) in HEADERS:
                        response["headers"] = HEADERS[int(status)]
            if method in KEYED:
                responses["409"]["headers"] = HEADERS[503]  # Retry-After, while a key is in progress
    return schema


def _keyed(operation: dict[str, Any]) -> None:
    """The Idempotency-Key of a POST, PUT or PATCH: the header, its 409s, the replay's header."""
    operation.setdefault("parameters", []).append({"$ref": "#/components/parameters/IdempotencyKey"})
    responses = operation["responses"]
    conflict = responses.setdefault("409", {"description": "a conflict"})
    conflict["description"] += KEY_CONFLICT
    invalid = responses.setdefault("422", {"description": "invalid input"})
    invalid["description"] += "; an Idempotency-Key out of its format"
    for status, response in responses.items():
        if status.startswith("2"):
            response.setdefault("headers", {})["Idempotent-Replayed"] = {
                "$ref": "#/components/headers/IdempotentReplayed"}


def _exemplify(schema: dict[str, Any], key: str, responses: dict[str, Any]) -> None:
    """The success's example: a read's from EXAMPLES, else its response model's first one."""
    for status, response in responses.items():
        if not status.startswith("2"):
            continue
        for media_type, content in response.get("content", {}).items():
            if media_type == "text/plain":
                content["example"] = METRICS_EXAMPLE
            elif media_type == "application/json":
                example = EXAMPLES.get(key, _model_example(schema, content.get("schema", {})))
                if example is not None:
                    content["example"] = example


def _model_example(schema: dict[str, Any], model: dict[str, Any]) -> Any:
    ref = model.get("$ref", "")
    named = schema["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {}) if ref else model
    return next(iter(named.get("examples", [])), None)
