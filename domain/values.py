"""Parsing and checking the plain values commands carry: text, dates, decimals, ids, attributes.
Every refusal is an InvalidInput naming the field.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from urllib.parse import urlsplit
from uuid import UUID

from domain.exceptions import DomainError, InvalidInput

EARLIEST = date(2000, 1, 1)  # anything earlier is a typo, not a deal
LATEST_YEAR = 9998
PLAIN_DECIMAL = re.compile(r"^[0-9]{1,30}(\.[0-9]{1,30})?\Z")
ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
# ISO 8601's extended form, as RFC 3339 writes it, the seconds and the offset optional
ISO_DATETIME = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
                          r"(Z|[+-][0-9]{2}:[0-9]{2})?\Z")
KEY = re.compile(r"^[A-Za-z0-9._:-]{1,64}\Z")  # \Z: "$" would let a final newline in
NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}\Z")
RESERVED_KEYS = ("_type_", "_data_")  # the event store's JSON transcoder owns these keys
MAX_ATTRIBUTE_DEPTH = 6
# numbers under 2^63 in size; JSON has one kind of number, so one bound for integers and floats
# alike: the largest float below 2^63 (2^63 - 1 itself is no float: it rounds up to 2^63)
MAX_NUMBER = 2**63 - 1024
MAX_ATTRIBUTES_CHARACTERS = 16_000
MAX_URL_CHARACTERS = 2000
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # C0 but tab, LF, CR; DEL; C1
BIDI_OVERRIDE = re.compile("[\u202a-\u202e\u2066-\u2069]")  # the "Trojan Source" characters
LINE_BREAK = re.compile("[\t\n\r\u2028\u2029]")
WEB_SCHEMES = ("http", "https")


def storable(value: str, field: str, *, single_line: bool = False) -> str:
    """`value`, if it is safe to store and show anywhere: no control characters but tab and line
    breaks (none of those either if `single_line`), no bidi embeddings, overrides or isolates (they
    can make text read other than it is stored; the U+200E/U+200F marks stay), no unpaired
    surrogates. A refusal gives the character and its offset from 0."""
    _refuse(CONTROL, value, field, "control characters")
    _refuse(BIDI_OVERRIDE, value, field, "bidi override characters")
    if single_line:
        _refuse(LINE_BREAK, value, field, "tabs or line breaks")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput("must be valid Unicode (it has an unpaired surrogate)", field=field) from None
    return value


def _refuse(characters: re.Pattern[str], value: str, field: str, what: str) -> None:
    found = characters.search(value)
    if found:
        raise InvalidInput(f"must not contain {what} (U+{ord(found.group()):04X} at {found.start()})",
                           field=field)


def text(value: object, field: str, *, required: bool = True, limit: int = 2000,
         single_line: bool = False) -> str:
    """A trimmed string of at most `limit` characters ('' when optional and absent)."""
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidInput("must be a non-empty string", field=field)
    if len(value) > limit:
        raise InvalidInput(f"must be at most {limit} characters", field=field)
    return storable(value.strip(), field, single_line=single_line)


def evidence_url(value: object, field: str = "evidence_url") -> str | None:
    """An absolute http(s) link without credentials (None when absent or blank).

    Links are shown to reviewers as clickable: another scheme (javascript:, data:, file:) could run
    or read something, a relative link points into goldsplit itself, and credentials leak.
    """
    link = text(value, field, required=False, limit=MAX_URL_CHARACTERS)
    if not link:
        return None
    if any(character.isspace() for character in link):
        raise InvalidInput("must be one link without spaces", field=field)
    try:
        parts = urlsplit(link)
        parts.port  # noqa: B018 - a port that is not a number from 0 to 65535 raises here
    except ValueError:
        raise InvalidInput("is not a well-formed link", field=field) from None
    if parts.scheme.lower() not in WEB_SCHEMES:
        given = f", not {parts.scheme}:" if parts.scheme else " (it has no scheme)"
        raise InvalidInput(f"must be an http or https link{given}", field=field)
    if not parts.hostname:
        raise InvalidInput("must name a host, as in https://crm.example/notes/1", field=field)
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("must not carry credentials (user:password@)", field=field)
    return link


def plain_decimal(value: object, field: str, *, places: int, error: type[DomainError] = InvalidInput,
                  what: str = "number") -> Decimal:
    """A non-negative decimal string with at most `places` decimals. Decimals are plain (`123.45`):
    no exponents, signs or inner spaces (spaces around are trimmed), so the same number is always
    spelled, stored and hashed the same way."""
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
    """An ISO 8601 date-time, YYYY-MM-DDTHH:MM[:SS[.ffffff]][Z|+HH:MM], in UTC (without an offset
    it is taken as UTC already).

    Dates compared with a close date are taken in UTC, so an offset never moves work across it.
    """
    try:
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, str) and ISO_DATETIME.match(value):
            moment = datetime.fromisoformat(value)
        else:
            raise ValueError
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
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) > MAX_NUMBER:
        raise InvalidInput("is too large a number", field=path)
    elif value is not None and not isinstance(value, (bool, int, float)):
        raise InvalidInput(f"{type(value).__name__} is not a JSON value", field=path)
