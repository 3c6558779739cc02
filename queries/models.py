"""What every answer model shares: closed and strict, fields left out where they do not apply.

Each answer model lists exactly what its query returns: `extra="forbid"` makes any other field a
validation error, and `strict=True` keeps a value of another type from being quietly converted.
A field declared with `Absent` is left out where it does not apply (never null there): it is not
required in the schema, and the JSON API serializes such a model with `exclude_unset`. "Internal"
in a description marks a field a read model keeps for itself: no client should build on it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


def no_default(schema: dict[str, Any]) -> None:
    """A JSON Schema without the `default` pydantic writes for a field that may be left out."""
    schema.pop("default", None)


def Absent(description: str | None = None) -> Any:
    """A field present only when it applies (see above); never null unless its type says so."""
    return Field(None, description=description, json_schema_extra=no_default)


INTERNAL = "internal: kept by the read model; not part of the contract"


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Money(Out):
    amount: str = Field(description="decimal string with the currency's decimals")
    currency: str


class PolicyRef(Out):
    name: str
    version: int
    hash: str
