"""Inbound messages refused, without a broker: `consumers.inbound.accept` on the in-memory ledger.

Anything malformed, oversized, of an unknown schema or against a rule raises `Rejected` with a
reason that names the field (or the message, when no field is to blame) and records nothing; what
is no reason to reject is accepted (good messages of each topic: test_inbound_effects.py).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumers import inbound
from consumers.inbound import (
    ACCEPTED,
    CONTRIBUTIONS,
    DUPLICATE,
    MAX_BYTES,
    MODELS,
    OPPORTUNITIES,
    PAYMENTS,
    TOPICS,
    UNKNOWN_OPPORTUNITY,
    Rejected,
    accept,
    derived_id,
)
from domain.aggregates import Member
from domain.application import Goldsplit
from domain.exceptions import ConcurrencyConflict
from tests.builders import in_memory
from tests.ledger import ADMIN, Clock, head

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
TODAY = NOW.date().isoformat()
EARLIER = (NOW - timedelta(hours=2)).isoformat()
MEMBERS = {"alice": "sales", "bob": "presales", "erin": "presales"}
FIELDS = {topic: tuple(name for name in model.model_fields if name != "schema_version")
          for topic, model in MODELS.items()}
REQUIRED = {topic: tuple(name for name, field in model.model_fields.items() if field.is_required())
            for topic, model in MODELS.items()}
NUMBERS = ("amount", "hours")  # the fields that may be JSON numbers
# a reason names the field it is about; these are about the message as a whole
MESSAGE_REASONS = ("the value ", "the message ", "topic ")


def upsert(source_id: str = "OPP-1", /, **changes: object) -> dict:
    return {"source": "crm", "source_id": source_id, "account_id": "acme", "name": "Acme renewal",
            "amount": "5000.00", "currency": "USD", "expected_close": "2026-01-31", **changes}


def contribution(opportunity_id: str, source_id: str = "T-1", /, **changes: object) -> dict:
    return {"source": "timesheet", "source_id": source_id, "opportunity_id": opportunity_id,
            "member_id": "alice", "kind": "visit", "summary": "on site", "hours": "3",
            "occurred_at": EARLIER, **changes}


def payment(opportunity_id: str, source_id: str = "INV-1", /, **changes: object) -> dict:
    return {"source": "erp", "source_id": source_id, "opportunity_id": opportunity_id,
            "amount": "400.00", "currency": "USD", "received_on": TODAY, **changes}


def encoded(message: object) -> bytes:
    return message if isinstance(message, bytes) else json.dumps(message).encode()


def send(app: Goldsplit, topic: str, message: object, offset: int = 0) -> str:
    return accept(app, topic, encoded(message), 0, offset)


def rejected(app: Goldsplit, topic: str, message: object, offset: int = 0) -> Rejected:
    """Assert the message is rejected (only with Rejected) and records nothing; the refusal."""
    before = head(app)
    with pytest.raises(Rejected) as refusal:
        accept(app, topic, message if message is None else encoded(message), 0, offset)
    assert head(app) == before, "a rejected message recorded something"
    refusal.value.reason.encode("utf-8")  # it travels as a Kafka header
    assert len(refusal.value.reason) <= inbound.MAX_REASON
    return refusal.value


def opened(app: Goldsplit, source_id: str = "OPP-1", **changes: object) -> str:
    """An opportunity the CRM opened, with alice as its AR; its id."""
    assert send(app, OPPORTUNITIES, upsert(source_id, **changes)) == ACCEPTED
    oid = str(derived_id("opportunity", "crm", source_id))
    app.assign_triangle_role(ADMIN, oid, "AR", "alice")
    return oid


def won(app: Goldsplit, source_id: str = "WON-1") -> str:
    oid = opened(app, source_id)
    assert send(app, OPPORTUNITIES, upsert(source_id, stage="won"), offset=1) == ACCEPTED
    return oid


def deal(app: Goldsplit, oid: str):
    return app.repository.get(UUID(oid))


# -- what is not a message ----------------------------------------------------------------------


@pytest.mark.parametrize("value, problem", [
    (b"\xff\xfe{}", "the value is not UTF-8 JSON"),
    (b'{"source": "crm", "name": "\xe9t\xe9"}', "the value is not UTF-8 JSON"),  # latin-1
    (b"{not json", "the value is not UTF-8 JSON"),
    (b"", "the value is not UTF-8 JSON"),
    (b'{"source": "crm",}', "the value is not UTF-8 JSON"),
    (b"[]", "the value must be a JSON object, not list"),
    (b'[{"source": "crm"}]', "the value must be a JSON object, not list"),
    (b"42", "the value must be a JSON object, not int"),
    (b"1.5", "the value must be a JSON object, not float"),
    (b"null", "the value must be a JSON object, not NoneType"),
    (b'"text"', "the value must be a JSON object, not str"),
    (b"true", "the value must be a JSON object, not bool"),
    (b"[" * 20_000 + b"]" * 20_000, "the value nests too deeply"),  # was a RecursionError
    (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "the value nests too deeply"),
    (b'{"amount": 1' + b"0" * 5000 + b"}", "the value is not UTF-8 JSON"),  # over the parser's digits
], ids=lambda v: repr(v[:20]) if isinstance(v, bytes) else None)
@pytest.mark.parametrize("topic", TOPICS)
def test_a_value_that_is_not_a_json_object_is_rejected(app: Goldsplit, topic: str, value: bytes,
                                                       problem: str) -> None:
    assert rejected(app, topic, value).reason.startswith(problem)


@pytest.mark.parametrize("topic", TOPICS)
def test_a_message_without_a_value_is_rejected(app: Goldsplit, topic: str) -> None:
    assert rejected(app, topic, None).reason == "the message has no value"


def test_a_message_over_64_kib_is_rejected_for_its_size_before_it_is_read(app: Goldsplit) -> None:
    oid = opened(app)
    message = encoded(contribution(oid, summary="x" * MAX_BYTES))
    assert rejected(app, CONTRIBUTIONS, message).reason == (
        f"the message is {len(message)} bytes; at most {MAX_BYTES} are accepted")
    assert rejected(app, CONTRIBUTIONS, b" " * (MAX_BYTES + 1)).reason.startswith("the message is")


def test_a_message_of_exactly_64_kib_is_read(app: Goldsplit) -> None:
    oid = opened(app)
    message = encoded(contribution(oid, summary="x"))
    message = message[:-1] + b" " * (MAX_BYTES - len(message)) + b"}"
    assert len(message) == MAX_BYTES
    assert send(app, CONTRIBUTIONS, message) == ACCEPTED


@pytest.mark.parametrize("topic", ["goldsplit.events.v1", "goldsplit.contributions.v1.dlq",
                                   "goldsplit.contributions.v2", ""])
def test_a_topic_the_consumer_does_not_read_is_rejected(app: Goldsplit, topic: str) -> None:
    oid = opened(app)
    assert rejected(app, topic, contribution(oid)).reason.startswith("topic ")


# -- the schema ---------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [2, 0, "1", "v1", None, True, 1.0, [1], {"v": 1}])
def test_a_schema_version_other_than_the_integer_1_is_rejected(app: Goldsplit, version: object) -> None:
    oid = opened(app)
    reason = rejected(app, CONTRIBUTIONS, contribution(oid, schema_version=version)).reason
    assert reason.startswith("schema_version: ")  # True and 1.0 used to pass for 1


def test_a_message_that_spells_a_field_twice_is_rejected(app: Goldsplit) -> None:
    oid = opened(app)
    good = json.dumps(contribution(oid))
    value = good[:-1] + ', "summary": "the other one"}'
    assert rejected(app, CONTRIBUTIONS, value.encode()).reason.startswith(
        "'summary': the field appears more than once")


@pytest.mark.parametrize("name", ["colour", "Source", "source ", "", "opportunityId", "id"])
def test_an_unknown_field_is_rejected_by_its_name(app: Goldsplit, name: str) -> None:
    oid = opened(app)
    assert rejected(app, CONTRIBUTIONS, contribution(oid, **{name: "x"})).reason.startswith(
        f"{name!r}: unknown field")


@pytest.mark.parametrize("name", ["\ud800", "a\x00b", "x" * 20_000])
def test_an_unknown_field_with_an_unprintable_or_huge_name_gives_a_header_kafka_takes(
        app: Goldsplit, name: str) -> None:
    oid = opened(app)
    refusal = rejected(app, CONTRIBUTIONS, contribution(oid, **{name: 1}))
    assert "unknown field" in refusal.reason


@pytest.mark.parametrize("topic, field", [(t, f) for t in TOPICS for f in REQUIRED[t]])
def test_a_required_field_that_is_missing_or_null_is_rejected_by_its_name(
        app: Goldsplit, topic: str, field: str) -> None:
    message = {CONTRIBUTIONS: contribution(opened(app)), PAYMENTS: payment(won(app)),
               OPPORTUNITIES: upsert("OPP-NEW")}[topic]
    missing = {k: v for k, v in message.items() if k != field}
    assert rejected(app, topic, missing).reason == f"{field}: required"
    assert rejected(app, topic, {**message, field: None}).reason == f"{field}: required"


@pytest.mark.parametrize("value", [["a"], {"a": 1}, True, False, 42, 1.5],
                         ids=["list", "dict", "true", "false", "int", "float"])
@pytest.mark.parametrize("topic, field", [(t, f) for t in TOPICS for f in FIELDS[t]
                                          if f not in NUMBERS])
def test_a_string_field_of_another_type_is_rejected_by_its_name(
        app: Goldsplit, topic: str, field: str, value: object) -> None:
    message = {CONTRIBUTIONS: contribution(opened(app)), PAYMENTS: payment(won(app)),
               OPPORTUNITIES: upsert("OPP-NEW")}[topic]
    assert rejected(app, topic, {**message, field: value}).reason.startswith(f"{field}: must be a string")


@pytest.mark.parametrize("value", [["1"], {"a": 1}, True], ids=["list", "dict", "bool"])
@pytest.mark.parametrize("topic, field", [(CONTRIBUTIONS, "hours"), (PAYMENTS, "amount"),
                                          (OPPORTUNITIES, "amount")])
def test_a_number_field_of_another_type_is_rejected_by_its_name(
        app: Goldsplit, topic: str, field: str, value: object) -> None:
    message = {CONTRIBUTIONS: contribution(opened(app)), PAYMENTS: payment(won(app)),
               OPPORTUNITIES: upsert("OPP-NEW")}[topic]
    assert rejected(app, topic, {**message, field: value}).reason == (
        f"{field}: must be a string or a number")


# -- the values ---------------------------------------------------------------------------------


@pytest.mark.parametrize("changes, field", [
    ({"hours": 1.5}, "hours"),  # a float: money and hours are never floats
    ({"hours": 1e300}, "hours"),
    ({"hours": -1}, "hours"),
    ({"hours": "1.234"}, "hours"),
    ({"hours": "1e3"}, "hours"),
    ({"hours": 10_001}, "hours"),
    ({"hours": 10**40}, "hours"),
    ({"hours": int("9" * 4000)}, "hours"),
    ({"kind": "karaoke"}, "kind"),
    ({"kind": "Visit"}, "kind"),
    ({"kind": "support_delivered"}, "kind"),
    ({"kind": "k" * 60_000}, "kind"),
    ({"member_id": "erin"}, "member_id"),  # not on the opportunity
    ({"member_id": ""}, "member_id"),
    ({"member_id": "m" * 65}, "member_id"),
    ({"summary": ""}, "summary"),
    ({"summary": "   "}, "summary"),
    ({"summary": "s" * 2001}, "summary"),
    ({"summary": "a\x00b"}, "summary"),
    ({"summary": "a\ud800b"}, "summary"),
    ({"occurred_at": "yesterday"}, "occurred_at"),
    ({"occurred_at": "2026-13-01T00:00:00"}, "occurred_at"),
    ({"occurred_at": "2026-03-15T12:00:00+25:00"}, "occurred_at"),
    ({"occurred_at": "2026-03-16T00:00:00Z"}, "occurred_at"),  # in the future
    ({"occurred_at": "1999-12-31T23:00:00"}, "occurred_at"),
    ({"occurred_at": "0001-01-01T00:00:00+01:00"}, "occurred_at"),
    ({"occurred_at": ""}, "occurred_at"),
    ({"opportunity_id": "nope"}, "opportunity_id"),
    ({"opportunity_id": ""}, "opportunity_id"),
    ({"opportunity_id": "12345678-1234-1234-1234-1234567890123"}, "opportunity_id"),
    ({"source": "time sheet"}, "source"),
    ({"source": ".."}, "source"),
    ({"source": "s" * 65}, "source"),
    ({"source": ""}, "source"),
    ({"source_id": ""}, "source_id"),
    ({"source_id": "i" * 201}, "source_id"),
    ({"source_id": "a\x00"}, "source_id"),
    ({"evidence_url": "u" * 2001}, "evidence_url"),
])
def test_a_contribution_with_a_bad_value_is_rejected_by_the_field(
        app: Goldsplit, changes: dict, field: str) -> None:
    oid = opened(app)
    assert rejected(app, CONTRIBUTIONS, contribution(oid, **changes)).reason.startswith(f"{field}: ")


@pytest.mark.parametrize("changes, field", [
    ({"evidence_url": "javascript:alert(1)"}, "evidence_url"),
    ({"evidence_url": "file:///etc/passwd"}, "evidence_url"),
    ({"evidence_url": "https://ana:secret@crm.example/1"}, "evidence_url"),
    ({"summary": "on site\u202e"}, "summary"),
    ({"summary": "on\x1b[2Jsite"}, "summary"),
])
def test_a_contribution_with_an_unsafe_link_or_hidden_characters_goes_to_the_dlq_naming_the_field(
        app: Goldsplit, changes: dict, field: str) -> None:
    oid = opened(app)
    reason = rejected(app, CONTRIBUTIONS, contribution(oid, **changes)).reason
    assert reason.startswith(f"{field}: must ")
    assert all(hidden not in reason for hidden in ("\x1b", "\u202e", "secret"))  # the DLQ header quotes none


@pytest.mark.parametrize("changes, field", [
    ({"amount": 1.5}, "amount"),
    ({"amount": 400.0}, "amount"),
    ({"amount": 10**40}, "amount"),
    ({"amount": "-1.00"}, "amount"),
    ({"amount": "0"}, "amount"),
    ({"amount": "1.001"}, "amount"),
    ({"amount": "4e2"}, "amount"),
    ({"amount": "1,000.00"}, "amount"),
    ({"amount": "5000.01"}, "amount"),  # over what is outstanding
    ({"currency": "EUR"}, "currency"),  # not the deal's
    ({"currency": "usd"}, "currency"),
    ({"currency": "XXX"}, "currency"),
    ({"currency": ""}, "currency"),
    ({"received_on": "2026-02-30"}, "received_on"),
    ({"received_on": "20260301"}, "received_on"),
    ({"received_on": "2026-03-01T00:00:00"}, "received_on"),
    ({"received_on": "2026-03-16"}, "received_on"),  # in the future
    ({"received_on": "2026-01-30"}, "received_on"),  # before the win
    ({"opportunity_id": "not-a-uuid"}, "opportunity_id"),
])
def test_a_payment_with_a_bad_value_is_rejected_by_the_field(
        app: Goldsplit, changes: dict, field: str) -> None:
    oid = won(app)
    assert rejected(app, PAYMENTS, payment(oid, **changes)).reason.startswith(f"{field}: ")


def test_a_payment_on_a_deal_that_is_not_won_is_rejected_naming_the_opportunity(app: Goldsplit) -> None:
    oid = opened(app)
    reason = rejected(app, PAYMENTS, payment(oid)).reason
    assert reason.startswith("opportunity_id: ") and "won" in reason


def test_a_payment_source_id_sent_again_with_another_amount_is_rejected_naming_it(app: Goldsplit) -> None:
    oid = won(app)
    send(app, PAYMENTS, payment(oid))
    assert rejected(app, PAYMENTS, payment(oid, amount="1.00")).reason.startswith("source_id: ")


def test_a_contribution_to_a_closed_deal_is_rejected_naming_the_opportunity(app: Goldsplit) -> None:
    oid = won(app)
    assert rejected(app, CONTRIBUTIONS, contribution(oid)).reason.startswith("opportunity_id: ")


@pytest.mark.parametrize("changes, field", [
    ({"amount": 5000.0}, "amount"),
    ({"amount": 10**40}, "amount"),
    ({"amount": "0.00"}, "amount"),
    ({"amount": "12.345"}, "amount"),
    ({"amount": "9" * 16}, "amount"),
    ({"currency": "XTS"}, "currency"),
    ({"currency": "usd"}, "currency"),
    ({"currency": "US Dollar"}, "currency"),
    ({"expected_close": "31/01/2026"}, "expected_close"),
    ({"expected_close": "2026-02-30"}, "expected_close"),
    ({"expected_close": "1999-12-31"}, "expected_close"),
    ({"name": ""}, "name"),
    ({"name": "n" * 201}, "name"),
    ({"name": "a\x00"}, "name"),
    ({"name": "a\udfff"}, "name"),
    ({"account_id": "a" * 201}, "account_id"),
    ({"stage": ""}, "stage"),
    ({"stage": "s" * 65}, "stage"),
    ({"stage": "won\x00"}, "stage"),
])
def test_an_upsert_with_a_bad_value_is_rejected_by_the_field(
        app: Goldsplit, changes: dict, field: str) -> None:
    assert rejected(app, OPPORTUNITIES, upsert("OPP-NEW", **changes)).reason.startswith(f"{field}: ")


def test_an_upsert_that_changes_the_currency_of_a_deal_is_rejected(app: Goldsplit) -> None:
    opened(app)
    assert rejected(app, OPPORTUNITIES, upsert(currency="EUR"), offset=1).reason.startswith("currency: ")


@pytest.mark.parametrize("changes, field", [
    ({"amount": "1.001"}, "amount"),
    ({"expected_close": "soon"}, "expected_close"),
    ({"stage": "won", "amount": 1.5}, "amount"),
])
def test_a_bad_upsert_of_an_existing_deal_corrects_nothing_and_wins_nothing(
        app: Goldsplit, changes: dict, field: str) -> None:
    oid = opened(app)
    assert rejected(app, OPPORTUNITIES, upsert(**changes), offset=1).reason.startswith(f"{field}: ")
    assert (deal(app, oid).stage, deal(app, oid).amount) == ("open", 500000)


# -- unknown opportunities ----------------------------------------------------------------------


@pytest.mark.parametrize("topic, message", [(CONTRIBUTIONS, contribution), (PAYMENTS, payment)])
def test_a_message_for_an_unknown_opportunity_is_counted_as_such_and_records_nothing(
        app: Goldsplit, topic: str, message) -> None:
    opened(app)
    for oid in (str(uuid4()), str(derived_id("opportunity", "crm", "nope"))):
        refusal = rejected(app, topic, message(oid))
        assert refusal.outcome == UNKNOWN_OPPORTUNITY
        assert refusal.reason.startswith("opportunity_id: ")


def test_a_message_naming_another_kind_of_aggregate_is_for_an_unknown_opportunity(app: Goldsplit) -> None:
    member_id = str(Member.create_id("alice"))
    refusal = rejected(app, CONTRIBUTIONS, contribution(member_id))
    assert refusal.outcome == UNKNOWN_OPPORTUNITY


# -- a polled batch -----------------------------------------------------------------------------


def test_a_batch_takes_its_good_messages_once_and_rejects_the_bad_ones_without_recording_them(
        app: Goldsplit) -> None:
    oid = opened(app)
    batch = [contribution(oid, "T-1"), contribution(oid, "T-2", kind="karaoke"),
             contribution(oid, "T-1"), contribution(str(uuid4()), "T-4"), b"{not json",
             contribution(oid, "T-5", member_id="erin"), contribution(oid, "T-6", summary="last")]

    outcomes = inbound.accept_batch(app, [(CONTRIBUTIONS, encoded(m), 0, n) for n, m in enumerate(batch)])

    assert [o if isinstance(o, str) else (o.outcome, o.reason.split(":")[0]) for o in outcomes] == [
        ACCEPTED, ("rejected", "kind"), DUPLICATE, (UNKNOWN_OPPORTUNITY, "opportunity_id"),
        ("rejected", "the value is not UTF-8 JSON"), ("rejected", "member_id"), ACCEPTED]
    assert sorted(deal(app, oid).contributions) == sorted(
        str(derived_id("contribution", "timesheet", s)) for s in ("T-1", "T-6"))


def test_a_batch_read_again_changes_nothing(app: Goldsplit) -> None:
    oid = won(app)
    batch = [(CONTRIBUTIONS, encoded(contribution(oid)), 0, 10),
             (PAYMENTS, encoded(payment(oid)), 0, 11),
             (OPPORTUNITIES, encoded(upsert("OPP-2")), 0, 12),
             (OPPORTUNITIES, encoded(upsert("OPP-2", amount="7.00")), 0, 13)]
    first = inbound.accept_batch(app, batch)
    before = head(app)

    again = inbound.accept_batch(app, batch)

    assert head(app) == before
    assert [o if isinstance(o, str) else o.outcome for o in first] == [
        "rejected", ACCEPTED, ACCEPTED, ACCEPTED]  # the deal is won: no more contributions
    assert [o if isinstance(o, str) else o.outcome for o in again] == [
        "rejected", DUPLICATE, DUPLICATE, DUPLICATE]


# -- what is no reason to reject ----------------------------------------------------------------


@pytest.mark.parametrize("topic, command", [(PAYMENTS, "receive_payment"),
                                            (OPPORTUNITIES, "upsert_opportunity")])
def test_a_concurrency_conflict_propagates_to_be_retried_not_rejected(
        app: Goldsplit, topic: str, command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    oid = won(app)

    def conflict(*_: object, **__: object) -> None:
        raise ConcurrencyConflict("the opportunity kept changing; retry")

    monkeypatch.setattr(app, command, conflict)
    message = payment(oid) if topic == PAYMENTS else upsert("OPP-X")
    with pytest.raises(ConcurrencyConflict):
        send(app, topic, message)


def test_a_store_that_fails_propagates_to_be_retried_not_rejected(
        app: Goldsplit, monkeypatch: pytest.MonkeyPatch) -> None:
    oid = opened(app)

    def down(*_: object, **__: object) -> None:
        raise OSError("connection refused")

    monkeypatch.setattr(app, "save", down)
    with pytest.raises(OSError):
        send(app, CONTRIBUTIONS, contribution(oid))


# -- any object of the real fields --------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6)
NEAR_MISSES = st.sampled_from(["", " ", "karaoke", "EUR", "usd", "0.001", "-1", "1e3", "2026-02-30",
                               "2026-03-16", "erin", "a\x00b", "\ud800", "x" * 300, "won", "lost",
                               str(uuid4()), "1", 1, 0, 1.0, True])


def _good(topic: str, open_id: str, won_id: str) -> dict[str, st.SearchStrategy]:
    """Values of each field that pass, so that examples get past the first check."""
    return {
        "source": st.sampled_from(["crm", "erp", "timesheet"]),
        "source_id": st.sampled_from(["S-1", "S-2", "S-3"]) | st.text(min_size=1, max_size=8),
        "opportunity_id": st.just(won_id if topic == PAYMENTS else open_id),
        "member_id": st.just("alice"),
        "kind": st.sampled_from(["visit", "demo"]),
        "summary": st.text(min_size=1, max_size=30),
        "hours": st.sampled_from(["1", "2.5", 3, 0]),
        "occurred_at": st.sampled_from([EARLIER, "2026-03-14", "2026-03-15T08:00:00-02:00"]),
        "evidence_url": st.sampled_from(["https://x.example/1", ""]),
        "amount": st.sampled_from(["1.00", "10", 7]),
        "currency": st.just("USD"),
        "received_on": st.sampled_from([TODAY, "2026-02-01"]),
        "account_id": st.sampled_from(["acme", "globex"]),
        "name": st.text(min_size=1, max_size=30),
        "expected_close": st.sampled_from(["2026-01-31", "2026-06-30"]),
        "stage": st.sampled_from(["open", "negotiation", "won", "lost", "Closed Won"]),
    }


@st.composite
def messages(draw: st.DrawFn, open_id: str, won_id: str) -> tuple[str, dict]:
    """A good message of a topic, with a few of its fields (or schema_version, or a field of
    another topic) left out, null, a near miss or any JSON value."""
    topic = draw(st.sampled_from(TOPICS))
    good = _good(topic, open_id, won_id)
    doc = {name: draw(good[name]) for name in FIELDS[topic]}
    others = [n for t in TOPICS for n in FIELDS[t] if n not in FIELDS[topic]]
    for name in draw(st.lists(st.sampled_from([*FIELDS[topic], "schema_version", *others]),
                              max_size=3, unique=True)):
        how = draw(st.sampled_from(["absent", "null", "near miss", "any"]))
        if how == "absent":
            doc.pop(name, None)
        else:
            doc[name] = draw({"null": st.none(), "near miss": NEAR_MISSES, "any": JSON}[how])
    return topic, doc


def test_any_object_of_the_real_fields_takes_effect_or_is_rejected_and_records_nothing() -> None:
    with in_memory(Clock(NOW), MEMBERS) as app:
        open_id, won_id = opened(app, "OPEN"), won(app, "WON")
        offsets = iter(range(10, 10**6))
        seen: dict[str, int] = {}

        def one(message: tuple[str, dict]) -> None:
            topic, doc = message
            before = head(app)
            try:
                outcome = accept(app, topic, json.dumps(doc).encode(), 0, next(offsets))
            except Rejected as refusal:
                assert head(app) == before, f"rejected ({refusal.reason}) but recorded"
                refusal.reason.encode("utf-8")
                named = tuple(f"{f}: " for f in (*FIELDS[topic], "schema_version"))
                assert refusal.reason.startswith((*named, *MESSAGE_REASONS, "'")), refusal.reason
                outcome = refusal.outcome
            else:
                assert outcome in (ACCEPTED, DUPLICATE)
                assert (head(app) > before) == (outcome == ACCEPTED), outcome
            seen[outcome] = seen.get(outcome, 0) + 1

        @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(messages(open_id, won_id))
        def check(message: tuple[str, dict]) -> None:
            one(message)

        check()
        for _ in range(2):  # a message sent again, whether or not the examples drew one
            one((CONTRIBUTIONS, contribution(open_id, "T-again")))
        assert seen.get(ACCEPTED) and seen.get(DUPLICATE) and seen.get("rejected")  # all were tried
