"""The OpenAPI document shows an example of every request body and of every success, and each
example is valid against its own schema (issue 11: a schema that tells the truth)."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from api.app import create_app
from main.settings import Settings

DOCUMENT = create_app(Settings(database_url="memory://", secret="test-secret")).openapi()
OPERATIONS = [(method.upper(), path, operation) for path, operations in DOCUMENT["paths"].items()
              for method, operation in operations.items()]


def validate(example: Any, schema: dict) -> None:
    """Raise unless `example` is valid against `schema` (its $refs read in the whole document)."""
    Draft202012Validator({**schema, "components": DOCUMENT["components"]},
                         format_checker=FormatChecker()).validate(example)


def resolved(schema: dict) -> dict:
    """The schema a $ref names (also an optional body's: anyOf the model and null)."""
    ref = schema.get("$ref") or next((s["$ref"] for s in schema.get("anyOf", []) if "$ref" in s), None)
    return DOCUMENT["components"]["schemas"][ref.rsplit("/", 1)[-1]] if ref else schema


def test_the_document_has_operations() -> None:
    assert len(OPERATIONS) > 50


@pytest.mark.parametrize("method, path, operation", OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS])
def test_every_operation_shows_a_valid_example_request_and_success(method: str, path: str,
                                                                   operation: dict) -> None:
    body = operation.get("requestBody")
    if body is not None:
        content = body["content"]["application/json"]
        examples = [content["example"]] if "example" in content else resolved(content["schema"]).get(
            "examples", [])
        assert examples, f"{method} {path}: no example request"
        for example in examples:
            validate(example, content["schema"])
    successes = {status: response for status, response in operation["responses"].items()
                 if status.startswith("2")}
    assert successes, f"{method} {path}: no success documented"
    shown = [(media_type, content) for response in successes.values()
             for media_type, content in response.get("content", {}).items() if "example" in content]
    assert shown, f"{method} {path}: no example answer"
    for media_type, content in shown:
        if media_type == "application/json":
            validate(content["example"], content["schema"])


def test_every_refusal_is_a_problem_document() -> None:
    for method, path, operation in OPERATIONS:
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                assert list(response["content"]) == ["application/problem+json"], (method, path, status)
                assert response["content"]["application/problem+json"]["schema"] == {
                    "$ref": "#/components/schemas/Problem"}


def test_every_v1_operation_asks_for_the_bearer_token_and_documents_401() -> None:
    for method, path, operation in OPERATIONS:
        if path.startswith("/v1/"):
            assert operation["security"] == [{"bearer": []}], (method, path)
            assert "401" in operation["responses"], (method, path)


def test_every_post_put_and_patch_documents_the_idempotency_key_its_409_and_the_replay() -> None:
    key = DOCUMENT["components"]["parameters"]["IdempotencyKey"]
    assert (key["in"], key["required"], key["schema"]["maxLength"]) == ("header", False, 200)
    keyed = [(method, path, operation) for method, path, operation in OPERATIONS
             if method in ("POST", "PUT", "PATCH")]
    assert len(keyed) > 30
    for method, path, operation in keyed:
        assert {"$ref": "#/components/parameters/IdempotencyKey"} in operation["parameters"], (method, path)
        conflict = operation["responses"]["409"]
        assert "idempotency-key-reused" in conflict["description"], (method, path)
        assert "Retry-After" in conflict["headers"], (method, path)
        for status, response in operation["responses"].items():
            if status.startswith("2"):
                assert "Idempotent-Replayed" in response["headers"], (method, path, status)
    for method, path, operation in OPERATIONS:
        if method not in ("POST", "PUT", "PATCH"):
            assert all("$ref" not in p for p in operation.get("parameters", [])), (method, path)
