"""Parsing and checking the plain values commands carry: text, dates, decimals, ids, attributes.

Every refusal is an InvalidInput naming the field. Text must be storable anywhere: no NUL and no
unpaired surrogates. Decimals are plain (`123.45`): no exponents, signs or inner spaces (spaces
around are trimmed), so the same number is always spelled, stored and hashed the same way.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID

from domain.exceptions import DomainError, InvalidInput

EARLIEST = date(2000, 1, 1)  # anything earlier is a typo, not a deal
LATEST_YEAR = 9998
PLAIN_DECIMAL = re.compile(r"^[0-9]{1,30}(\.[0-9]{1,30})?$")
ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
KEY = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
RESERVED_KEYS = ("_type_", "_data_")  # the event store's JSON transcoder owns these keys
MAX_ATTRIBUTE_DEPTH = 6
MAX_ATTRIBUTES_CHARACTERS = 16_000


def storable(value: str, field: str) -> str:
    if "\x00" in value:
        raise InvalidInput("must not contain NUL characters", field=field)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput("must be valid Unicode (it has an unpaired surrogate)", field=field) from None
    return value


def text(value: object, field: str, *, required: bool = True, limit: int = 2000) -> str:
    """A trimmed string of at most `limit` characters ('' when optional and absent)."""
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidInput("must be a non-empty string", field=field)
    if len(value) > limit:
        raise InvalidInput(f"must be at most {limit} characters", field=field)
    return storable(value.strip(), field)


def plain_decimal(value: object, field: str, *, places: int, error: type[DomainError] = InvalidInput,
                  what: str = "number") -> Decimal:
    """A non-negative decimal string with at most `places` decimals."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise error(f'must be a decimal string such as "12.5", got {value!r}', field=field)
    spelled = str(value).strip()
    if not PLAIN_DECIMAL.match(spelled):
        raise error(f"{spelled[:40]!r} is not a plain decimal {what} (digits, one optional point)",
                    field=field)
    decimals = len(spelled.partition(".")[2])
    if decimals > places:
        raise error(f"{spelled} has {decimals} decimals; at most {places} allowed", field=field)
    return Decimal(spelled)


def iso_date(value: object, field: str) -> date:
    """A calendar date spelled YYYY-MM-DD (no compact or week forms), from 2000 on."""
    try:
        if not isinstance(value, str) or not ISO_DATE.match(value):
            raise ValueError
        day = date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{str(value)[:40]!r} is not an ISO date (YYYY-MM-DD)", field=field) from None
    if day < EARLIEST:
        raise InvalidInput(f"{day} is before {EARLIEST}", field=field)
    return day


def iso_datetime(value: object, field: str) -> datetime:
    """An ISO 8601 date-time, in UTC (without an offset it is taken as UTC already).

    Dates compared with a close date are taken in UTC, so an offset never moves work across it.
    """
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput(f"{str(value)[:40]!r} is not an ISO 8601 date-time", field=field) from None
    if not EARLIEST.year <= moment.year <= LATEST_YEAR:  # also keeps astimezone() in range
        raise InvalidInput(f"{moment.date()} is not between {EARLIEST} and {LATEST_YEAR}-12-31",
                           field=field)
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    if moment.date() < EARLIEST:
        raise InvalidInput(f"{moment.date()} is before {EARLIEST}", field=field)
    return moment


def identifier(value: object, what: str, not_found: type[DomainError]) -> UUID:
    """A UUID; anything else names nothing that exists."""
    try:
        return value if isinstance(value, UUID) else UUID(str(value))
    except ValueError:
        raise not_found(f"no {what} {str(value)[:40]!r}", field=f"{what}_id") from None


def key(value: object, field: str) -> str:
    """A caller-chosen id that fits in a URL path: 1-64 letters, digits, '.', '_', ':' or '-'.

    "." and ".." are refused: clients resolve them as path segments, so they could never be read.
    """
    if not isinstance(value, str) or not KEY.match(value) or value in (".", ".."):
        raise InvalidInput("must be 1-64 letters, digits, '.', '_', ':' or '-' (not . or ..)",
                           field=field)
    return value


def name(value: object, field: str) -> str:
    """A lower_snake_case name such as a kind of work."""
    if not isinstance(value, str) or not NAME.match(value):
        raise InvalidInput("must be a lower_snake_case name such as solution_design", field=field)
    return value


def attributes(value: object, field: str = "attributes") -> dict:
    """A small JSON object of business attributes, safe to store in an event."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput("must be a JSON object", field=field)
    _check_attribute(value, field, depth=0)
    if len(repr(value)) > MAX_ATTRIBUTES_CHARACTERS:
        raise InvalidInput(f"must be at most {MAX_ATTRIBUTES_CHARACTERS} characters", field=field)
    return value


def _check_attribute(value: object, path: str, depth: int) -> None:
    if depth > MAX_ATTRIBUTE_DEPTH:
        raise InvalidInput(f"nests deeper than {MAX_ATTRIBUTE_DEPTH} levels", field=path)
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or key in RESERVED_KEYS:
                raise InvalidInput(f"{key!r} is not allowed as a key", field=path)
            storable(key, path)
            _check_attribute(item, f"{path}.{key}", depth + 1)
    elif isinstance(value, list):
        for n, item in enumerate(value):
            _check_attribute(item, f"{path}.{n}", depth + 1)
    elif isinstance(value, str):
        storable(value, path)
    elif isinstance(value, float) and not math.isfinite(value):
        raise InvalidInput("must be a finite number", field=path)
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
        raise InvalidInput("is too large a number", field=path)
    elif value is not None and not isinstance(value, (bool, int, float)):
        raise InvalidInput(f"{type(value).__name__} is not a JSON value", field=path)
