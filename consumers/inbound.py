"""Messages from other systems, as commands on the ledger (the README's "Kafka in and out").

One message of one topic becomes one command, acting as the integration that sent it
(`integration:<source>`). Each is idempotent by its source id: the ids of what it records are
uuid5 of `(source, source_id)`, so a message delivered twice records once. `accept` answers what
happened (an outcome counted on /metrics) or raises `Rejected` with the reason the message goes to
`<topic>.dlq` with. It never touches Kafka, so it is tested without a broker.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from uuid import UUID, uuid5

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from domain import values
from domain.aggregates import GOLDSPLIT
from domain.application import Actor, Goldsplit
from domain.exceptions import (
    ConcurrencyConflict,
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
MAX_REASON = 500  # characters of a reason: it travels as a Kafka header
# the ledger's name for what a message spells otherwise: a payment's id is its source_id's; a
# refusal that names no field is about the state of the opportunity the message names
MESSAGE_FIELDS = {"payment_id": "source_id", None: "opportunity_id"}

# outcomes: the message had its effect, or had none because it was seen before, or names an
# opportunity the ledger does not have (it goes to the DLQ too, to be replayed once it exists)
ACCEPTED, DUPLICATE, UNKNOWN_OPPORTUNITY = "accepted", "duplicate", "unknown_opportunity"


class Rejected(Exception):
    """A message that cannot be accepted; `reason` goes in the DLQ message's `error` header."""

    def __init__(self, reason: str, outcome: str = "rejected") -> None:
        # a header is UTF-8 of bounded size: an unpaired surrogate or 60 KB quoted from the message
        # must not make the DLQ send fail (the consumer would read the message again forever)
        reason = reason.encode("utf-8", "backslashreplace").decode("utf-8")
        if len(reason) > MAX_REASON:
            reason = reason[:MAX_REASON - 1] + "…"
        super().__init__(reason)
        self.reason = reason
        self.outcome = outcome


def dlq_topic(topic: str) -> str:
    return f"{topic}.dlq"


def derived_id(kind: str, source: str, source_id: str) -> UUID:
    """The ledger's id for what `(source, source_id)` names: the same message, the same id."""
    return uuid5(GOLDSPLIT, f"{kind}:{source}:{source_id}")


def _object(pairs: list[tuple[str, object]]) -> dict:
    doc = dict(pairs)
    if len(doc) != len(pairs):  # which of the two counts is up to the parser: refuse to guess
        twice = next(name for n, (name, _) in enumerate(pairs) if name in dict(pairs[:n]))
        raise Rejected(f"{twice[:80]!r}: the field appears more than once")
    return doc


class Message(BaseModel):
    """What every inbound message carries; each topic's model adds its fields."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    schema_version: int = SCHEMA_VERSION
    source: str
    source_id: str

    @field_validator("schema_version", mode="before")
    @classmethod
    def _known(cls, version: object) -> object:
        if type(version) is not int or version != SCHEMA_VERSION:  # true and 1.0 equal 1 in Python
            raise ValueError(f"{version!r} is unknown; this consumer reads {SCHEMA_VERSION}")
        return version


Number = str | int | float  # an amount or hours may be a JSON number (strict: never a boolean)


class ContributionMessage(Message):
    opportunity_id: str
    member_id: str
    kind: str
    summary: str
    occurred_at: str
    hours: Number | None = None
    evidence_url: str | None = None


class PaymentMessage(Message):
    opportunity_id: str
    amount: Number
    currency: str
    received_on: str


class OpportunityMessage(Message):
    account_id: str
    name: str
    amount: Number
    currency: str
    expected_close: str
    stage: str | None = None


def _parsed(topic: str, value: bytes | None) -> Message:
    """The message of `topic` in `value`, or Rejected naming the field at fault."""
    model = MODELS.get(topic)
    if model is None:
        raise Rejected(f"topic {topic!r} is not one this consumer reads")
    if value is None:
        raise Rejected("the message has no value")
    if len(value) > MAX_BYTES:
        raise Rejected(f"the message is {len(value)} bytes; at most {MAX_BYTES} are accepted")
    try:
        doc = json.loads(value.decode("utf-8"), object_pairs_hook=_object)
    except (UnicodeDecodeError, ValueError) as error:
        raise Rejected(f"the value is not UTF-8 JSON: {error}") from None
    except RecursionError:  # [[[[…: 64 KiB of nesting is deeper than the parser's stack
        raise Rejected("the value nests too deeply to be a message") from None
    if not isinstance(doc, dict):
        raise Rejected(f"the value must be a JSON object, not {type(doc).__name__}")
    try:
        return model.model_validate(doc)
    except ValidationError as invalid:
        raise Rejected(_reason(model, doc, invalid.errors()[0])) from None


def _reason(model: type[Message], doc: dict, error: dict) -> str:
    """A pydantic error as the DLQ's reason: the field, then the rule."""
    # no location: a field name pydantic cannot read (an unpaired surrogate), so not one of ours
    name = str(error["loc"][0]) if error["loc"] else next(
        (n for n in doc if n not in model.model_fields), None)
    if name is None:
        return f"the message: {error['msg']}"
    if name not in model.model_fields:
        return f"{name[:80]!r}: unknown field (the fields are {sorted(model.model_fields)})"
    if error["type"] == "missing" or doc.get(name, "") is None:
        return f"{name}: required"
    if name == "schema_version":
        return f"{name}: {error['ctx']['error']}"
    numbers = model.model_fields[name].annotation not in (str, str | None)
    return f"{name}: must be a string{' or a number' if numbers else ''}"


def _source(message: Message) -> tuple[str, str]:
    return (values.key(message.source, "source"),
            values.text(message.source_id, "source_id", limit=200))


def _opportunity_id(message: ContributionMessage | PaymentMessage) -> str:
    raw = message.opportunity_id
    try:
        return str(UUID(raw))
    except (TypeError, ValueError, AttributeError):
        raise Rejected(f"opportunity_id: {str(raw)[:80]!r} is not an opportunity id (a UUID)") from None


def _contribution(message: ContributionMessage) -> tuple[str, Actor, dict]:
    """A contribution message as (opportunity id, actor, arguments of record_contribution)."""
    source, source_id = _source(message)
    return _opportunity_id(message), Actor(f"integration:{source}", "lead"), dict(
        member_id=values.text(message.member_id, "member_id", limit=64), kind=message.kind,
        summary=message.summary, occurred_at=message.occurred_at, hours=message.hours,
        evidence_url=message.evidence_url,
        contribution_id=derived_id("contribution", source, source_id))


def _contributions(app: Goldsplit, grouped: dict[str, list[tuple[int, Actor, dict]]],
                   outcomes: list) -> None:
    """A batch's contributions, on many opportunities, recorded in one save; an outcome for each."""
    answers = app.record_contributions(
        {oid: [(actor, arguments) for _, actor, arguments in group] for oid, group in grouped.items()})
    for opportunity_id, group in grouped.items():
        for (index, _, _), answer in zip(group, answers[opportunity_id]):
            outcomes[index] = (DUPLICATE if isinstance(answer, ContributionAlreadyRecorded)
                               else _rejected(answer) if isinstance(answer, DomainError)
                               else ACCEPTED)


def _payment(app: Goldsplit, message: PaymentMessage, mark: dict) -> str:
    source, source_id = _source(message)
    recorded = app.receive_payment(
        Actor(f"integration:{source}", "finance"), _opportunity_id(message), amount=message.amount,
        currency=message.currency, received_on=message.received_on,
        payment_id=str(derived_id("payment", source, source_id)), source=source)
    return DUPLICATE if recorded.repeated else ACCEPTED


def _opportunity(app: Goldsplit, message: OpportunityMessage, mark: dict) -> str:
    source, source_id = _source(message)
    recorded = app.upsert_opportunity(
        Actor(f"integration:{source}", "lead"), derived_id("opportunity", source, source_id),
        account_id=message.account_id, name=message.name, amount=message.amount,
        currency=message.currency, expected_close=message.expected_close, stage=message.stage,
        mark=mark)
    return DUPLICATE if recorded.outcome == "unchanged" else ACCEPTED


MODELS: Mapping[str, type[Message]] = {
    CONTRIBUTIONS: ContributionMessage, PAYMENTS: PaymentMessage, OPPORTUNITIES: OpportunityMessage}
COMMANDS: Mapping[str, Callable[[Goldsplit, Any, dict], str]] = {
    PAYMENTS: _payment, OPPORTUNITIES: _opportunity}


def _rejected(error: DomainError) -> Rejected:
    if isinstance(error, OpportunityNotFound):
        return Rejected(f"opportunity_id: {error}", UNKNOWN_OPPORTUNITY)
    field = getattr(error, "field", None)
    return Rejected(f"{MESSAGE_FIELDS.get(field, field)}: {error}")


def accept(app: Goldsplit, topic: str, value: bytes | None, partition: int = 0,
           offset: int = 0) -> str:
    """Turn one message into its command; answer the outcome, or raise Rejected."""
    [outcome] = accept_batch(app, [(topic, value, partition, offset)])
    if isinstance(outcome, Rejected):
        raise outcome
    return outcome


def accept_batch(app: Goldsplit, messages: Sequence[tuple[str, bytes | None, int, int]]
                 ) -> list[str | Rejected]:
    """Turn a batch of (topic, value, partition, offset) into commands; an outcome for each, or the
    Rejected that sends it to the DLQ.

    The batch's contributions are recorded in one save, whatever opportunities they are on (after
    the batch's other messages, so that an opportunity a CRM upsert opens in the same batch takes
    them). Only what the ledger
    refuses (bad input, a rule) is rejected; anything else (the store is down, say) propagates, so
    the consumer reads the batch again instead of dead-lettering it.
    """
    outcomes: list[str | Rejected | None] = [None] * len(messages)
    grouped: dict[str, list[tuple[int, Actor, dict]]] = {}
    for index, (topic, value, partition, offset) in enumerate(messages):
        try:
            message = _parsed(topic, value)
            if isinstance(message, ContributionMessage):
                opportunity_id, actor, arguments = _contribution(message)
                grouped.setdefault(opportunity_id, []).append((index, actor, arguments))
                continue
            mark = {"topic": topic, "partition": partition, "offset": offset}
            outcomes[index] = COMMANDS[topic](app, message, mark)
        except Rejected as rejected:
            outcomes[index] = rejected
        except ConcurrencyConflict:
            raise  # others kept writing the same deal: the batch is read again, not rejected
        except DomainError as error:
            outcomes[index] = _rejected(error)
    if grouped:
        _contributions(app, grouped, outcomes)
    return outcomes
