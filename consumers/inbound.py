"""Messages from other systems, as commands on the ledger (DESIGN.md §6, the Kafka topics).

One message of one topic becomes one command, acting as the integration that sent it
(`integration:<source>`). Each is idempotent by its source id: the ids of what it records are
uuid5 of `(source, source_id)`, so a message delivered twice records once. `accept` answers what
happened (an outcome counted on /metrics) or raises `Rejected` with the reason the message goes to
`<topic>.dlq` with. It never touches Kafka, so it is tested without a broker.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from uuid import UUID, uuid5

from domain import values
from domain.aggregates import GOLDSPLIT
from domain.application import Actor, Goldsplit
from domain.exceptions import (
    ContributionAlreadyRecorded,
    DomainError,
    OpportunityNotFound,
)

CONTRIBUTIONS = "goldsplit.contributions.v1"
PAYMENTS = "goldsplit.payments.v1"
OPPORTUNITIES = "goldsplit.opportunities.v1"
TOPICS = (CONTRIBUTIONS, PAYMENTS, OPPORTUNITIES)
SCHEMA_VERSION = 1
MAX_BYTES = 64 * 1024
NUMBERS = ("amount", "hours")  # fields that may be JSON numbers; every other one is a string

# outcomes: the message had its effect, or had none because it was seen before, or names an
# opportunity the ledger does not have (it goes to the DLQ too, to be replayed once it exists)
ACCEPTED, DUPLICATE, UNKNOWN_OPPORTUNITY = "accepted", "duplicate", "unknown_opportunity"


class Rejected(Exception):
    """A message that cannot be accepted; `reason` goes in the DLQ message's `error` header."""

    def __init__(self, reason: str, outcome: str = "rejected") -> None:
        super().__init__(reason)
        self.reason = reason
        self.outcome = outcome


def dlq_topic(topic: str) -> str:
    return f"{topic}.dlq"


def derived_id(kind: str, source: str, source_id: str) -> UUID:
    """The ledger's id for what `(source, source_id)` names: the same message, the same id."""
    return uuid5(GOLDSPLIT, f"{kind}:{source}:{source_id}")


def _fields(value: bytes | None, required: tuple[str, ...], optional: tuple[str, ...]) -> dict:
    if value is None:
        raise Rejected("the message has no value")
    if len(value) > MAX_BYTES:
        raise Rejected(f"the message is {len(value)} bytes; at most {MAX_BYTES} are accepted")
    try:
        doc = json.loads(value.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise Rejected(f"the value is not UTF-8 JSON: {error}") from None
    if not isinstance(doc, dict):
        raise Rejected(f"the value must be a JSON object, not {type(doc).__name__}")
    version = doc.pop("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise Rejected(f"schema_version: {version!r} is unknown; this consumer reads {SCHEMA_VERSION}")
    unknown = sorted(set(doc) - set(required) - set(optional))
    if unknown:
        raise Rejected(f"{unknown[0]}: unknown field (the fields are {sorted(required + optional)})")
    missing = [name for name in required if doc.get(name) is None]
    if missing:
        raise Rejected(f"{missing[0]}: required")
    for name, value in doc.items():
        if value is not None and not isinstance(value, str) and (
                name not in NUMBERS or isinstance(value, bool) or not isinstance(value, int | float)):
            raise Rejected(f"{name}: must be a string{' or a number' if name in NUMBERS else ''}")
    return doc


def _source(doc: dict) -> tuple[str, str]:
    return values.key(doc["source"], "source"), values.text(doc["source_id"], "source_id", limit=200)


def _opportunity_id(doc: dict) -> str:
    raw = doc["opportunity_id"]
    try:
        return str(UUID(raw))
    except (TypeError, ValueError, AttributeError):
        raise Rejected(f"opportunity_id: {str(raw)[:80]!r} is not an opportunity id (a UUID)") from None


def _contribution(app: Goldsplit, doc: dict, mark: dict) -> str:
    source, source_id = _source(doc)
    try:
        app.record_contribution(
            Actor(f"integration:{source}", "lead"), _opportunity_id(doc),
            member_id=values.text(doc["member_id"], "member_id", limit=64), kind=doc["kind"],
            summary=doc["summary"], occurred_at=doc["occurred_at"], hours=doc.get("hours"),
            evidence_url=doc.get("evidence_url"),
            contribution_id=derived_id("contribution", source, source_id))
    except ContributionAlreadyRecorded:
        return DUPLICATE
    return ACCEPTED


def _payment(app: Goldsplit, doc: dict, mark: dict) -> str:
    source, source_id = _source(doc)
    recorded = app.receive_payment(
        Actor(f"integration:{source}", "finance"), _opportunity_id(doc), amount=doc["amount"],
        currency=doc["currency"], received_on=doc["received_on"],
        payment_id=str(derived_id("payment", source, source_id)), source=source)
    return DUPLICATE if recorded.extra.get("repeated") else ACCEPTED


def _opportunity(app: Goldsplit, doc: dict, mark: dict) -> str:
    source, source_id = _source(doc)
    recorded = app.upsert_opportunity(
        Actor(f"integration:{source}", "lead"), derived_id("opportunity", source, source_id),
        account_id=doc["account_id"], name=doc["name"], amount=doc["amount"],
        currency=doc["currency"], expected_close=doc["expected_close"], stage=doc.get("stage"),
        mark=mark)
    return DUPLICATE if recorded.extra["outcome"] == "unchanged" else ACCEPTED


_COMMON = ("source", "source_id")
SCHEMAS: Mapping[str, tuple[tuple[str, ...], tuple[str, ...], Callable[..., str]]] = {
    CONTRIBUTIONS: (_COMMON + ("opportunity_id", "member_id", "kind", "summary", "occurred_at"),
                    ("hours", "evidence_url"), _contribution),
    PAYMENTS: (_COMMON + ("opportunity_id", "amount", "currency", "received_on"), (), _payment),
    OPPORTUNITIES: (_COMMON + ("account_id", "name", "amount", "currency", "expected_close"),
                    ("stage",), _opportunity),
}


def accept(app: Goldsplit, topic: str, value: bytes | None, partition: int = 0,
           offset: int = 0) -> str:
    """Turn one message into its command; answer the outcome, or raise Rejected.

    Only what the ledger refuses (bad input, a rule) is rejected; anything else (the store is
    down, say) propagates, so the consumer retries the message instead of dead-lettering it.
    """
    if topic not in SCHEMAS:
        raise Rejected(f"topic {topic!r} is not one this consumer reads")
    required, optional, command = SCHEMAS[topic]
    doc = _fields(value, required, optional)
    mark = {"topic": topic, "partition": partition, "offset": offset}
    try:
        return command(app, doc, mark)
    except OpportunityNotFound as error:
        raise Rejected(f"opportunity_id: {error}", UNKNOWN_OPPORTUNITY) from None
    except DomainError as error:
        field = getattr(error, "field", None)
        raise Rejected(f"{field}: {error}" if field else str(error)) from None

