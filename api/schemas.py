"""Request bodies and responses, with every constraint the API enforces written into the schema.

Unknown fields are refused by name. The value types below are defined once and reused: each
states in OpenAPI (`pattern`, `format`, `enum`, lengths) what domain/values.py and domain/money.py
accept, so a client and a fuzzer read the same rules the ledger applies. Patterns are documented,
not checked here: the domain checks them, and its refusal names the field and the rule in words
("must not contain control characters (U+0002 at 1)") rather than quoting a regular expression.
Types, lengths and fixed sets are checked here, by pydantic, before any command runs.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticUndefined

from domain.aggregates import ACCOUNT_TEAM_ROLES, DEPARTMENTS
from domain.money import EXPONENTS
from domain.policy import GRADES, TRIANGLE_ROLES
from domain.values import MAX_ATTRIBUTE_DEPTH, MAX_NUMBER

# -- characters (domain/values.py): what text may not hold, and what strip() trims ----------------
_CONTROL = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"  # C0 but tab, LF, CR; DEL; C1
_BIDI = r"\u202a-\u202e\u2066-\u2069"  # embeddings, overrides, isolates
_BREAKS = r"\t\n\r\u2028\u2029"  # not in a single-line value
_SPACE = (r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f"
          r"\u3000")  # exactly what str.strip() trims


def _text_pattern(*, single_line: bool, required: bool) -> str:
    allowed = f"[^{_CONTROL}{_BIDI}{_BREAKS if single_line else ''}]"
    if not required:
        return f"^{allowed}*$"
    visible = f"[^{_CONTROL}{_BIDI}{_BREAKS if single_line else ''}{_SPACE}]"  # one not blank
    return f"^{allowed}*{visible}{allowed}*$"


def _documented(**keywords: Any) -> dict[str, Any]:
    return {"json_schema_extra": keywords}


def Text(limit: int = 2000, *, single_line: bool = False, default: Any = PydanticUndefined,
         description: str | None = None) -> Any:
    """A text that is not blank: at least one visible character, at most `limit` characters, none
    of those refused above. With a default (None), it may be left out, but not sent blank."""
    return Field(default, min_length=1, max_length=limit, description=description,
                 **_documented(pattern=_text_pattern(single_line=single_line, required=True)))


def OptionalText(limit: int = 2000, *, single_line: bool = False, default: Any = None,
                 description: str | None = None) -> Any:
    """An optional text: blank is as good as absent; no character refused above."""
    return Field(default, max_length=limit, description=description,
                 **_documented(pattern=_text_pattern(single_line=single_line, required=False)))


_S = f"[{_SPACE}]*"  # decimals: spaces around are trimmed
# a plain decimal (digits, one optional point), at most 30 digits before the point and a value
# under 10^15 (domain/money.py MAX_WHOLE_DIGITS); at most 4 decimals (the most any currency has)
_FRACTION = r"(?:\.[0-9]{1,4})?"
_POSITIVE = (r"(?:0{0,15}[1-9][0-9]{0,14}" + _FRACTION
             + r"|0{1,15}\.(?:[1-9][0-9]{0,3}|0[1-9][0-9]{0,2}|00[1-9][0-9]?|000[1-9]))")
AMOUNT = f"^{_S}{_POSITIVE}{_S}$"
AMOUNT_OR_ZERO = f"^{_S}0{{0,15}}[0-9]{{1,15}}{_FRACTION}{_S}$"
HOURS = f"^{_S}(?:0{{0,26}}[0-9]{{1,4}}(?:\\.[0-9]{{1,2}})?|0{{0,25}}10000(?:\\.0{{1,2}})?){_S}$"
DATE = r"^[2-9][0-9]{3}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$"  # from 2000-01-01
_YEAR = r"(?:[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"  # 2000 to 9998
DATE_TIME = (f"^{_YEAR}" + r"-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])[T ](?:[01][0-9]|2[0-3]):[0-5][0-9]"
             r"(?::[0-5][0-9](?:\.[0-9]{1,6})?)?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])?$")
KEY = r"^[A-Za-z0-9._:-]{1,64}$"  # an id a caller chooses (domain/values.py key), not . or ..
MEMBER = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"
NAME = r"^[a-z][a-z0-9_]{0,63}$"  # lower_snake_case
PERIOD = r"^[2-9][0-9]{3}-(?:0[1-9]|1[0-2]|Q[1-4])$"  # a month or a quarter, from 2000
REGRADE = "regrade"  # /v1/accounts/regrade is an action, so no account is called that
NOT_THE_ACTION = {405: {"description": f"the id is `{REGRADE}`: that path is the {REGRADE} action "
                                       "(POST only)"}}

Amount = Annotated[str, Field(description='a positive plain decimal in the currency, e.g. "1250000.00": '
                                         "digits and one optional point, no sign or exponent, at "
                                         "most the currency's decimals (0 to 4), under 10^15",
                             **_documented(pattern=AMOUNT, examples=["1250000.00"]))]
AmountOrZero = Annotated[str, Field(description="as an amount, and zero allowed",
                                   **_documented(pattern=AMOUNT_OR_ZERO, examples=["0.00"]))]
Hours = Annotated[str, Field(description='hours worked: a plain decimal with at most 2 decimals, at '
                                         'most 10000, e.g. "2.5"', **_documented(pattern=HOURS))]
Currency = Literal[tuple(sorted(EXPONENTS))]  # type: ignore[valid-type]  # ISO 4217, active codes
IsoDate = Annotated[str, Field(description="an ISO date, YYYY-MM-DD, from 2000-01-01",
                               **_documented(pattern=DATE, format="date"))]
IsoDateTime = Annotated[str, Field(
    description="an ISO 8601 date-time, YYYY-MM-DDTHH:MM[:SS[.ffffff]] with Z, an offset or none "
                "(none: UTC), from 2000 to 9998", **_documented(pattern=DATE_TIME))]
MemberId = Annotated[str, Field(min_length=1, max_length=64, description="a member's id",
                                **_documented(pattern=MEMBER))]
Key = Annotated[str, Field(min_length=1, max_length=64, description="letters, digits, '.', '_', ':' "
                                                                    "or '-' (not . or ..)",
                           **_documented(pattern=KEY, **{"not": {"enum": [".", ".."]}}))]
Kind = Annotated[str, Field(min_length=1, max_length=64, description="lower_snake_case",
                            **_documented(pattern=NAME))]
Grade = Literal[GRADES]  # type: ignore[valid-type]
Department = Literal[DEPARTMENTS]  # type: ignore[valid-type]
TeamRole = Literal[ACCOUNT_TEAM_ROLES]  # type: ignore[valid-type]
TriangleRole = Literal[TRIANGLE_ROLES]  # type: ignore[valid-type]
_PORT = r"(?::(?:[0-9]{0,4}|[0-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?"
_VISIBLE = f"[^{_SPACE}{_CONTROL}{_BIDI}]"
URL = (f"^{_S}(?:[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9._~%!$&'()*+,;=-]+{_PORT}(?:[/?#]{_VISIBLE}*)?)?"
       f"{_S}$")
Url = Annotated[str, Field(max_length=2000, description="an absolute http or https link naming a "
                                                        "host, without credentials (blank: none)",
                           **_documented(pattern=URL))]
_ATTRIBUTE_TEXT = _text_pattern(single_line=False, required=False)


def _attribute(depth: int) -> dict[str, Any]:
    """Any JSON value domain/values.py `attributes` keeps at this depth: text it can store, a
    number under 2^63 in size, and nothing deeper than MAX_ATTRIBUTE_DEPTH."""
    scalars: list[dict[str, Any]] = [
        {"type": "null"}, {"type": "boolean"}, {"type": "string", "pattern": _ATTRIBUTE_TEXT},
        {"type": "number", "minimum": -MAX_NUMBER, "maximum": MAX_NUMBER}]
    if depth >= MAX_ATTRIBUTE_DEPTH:  # nothing deeper: an empty array or object at most
        return {"anyOf": [*scalars, {"type": "array", "maxItems": 0}, {"type": "object", "maxProperties": 0}]}
    inner = _attribute(depth + 1)
    return {"anyOf": [*scalars, {"type": "array", "items": inner},
                      {"type": "object", "propertyNames": {"pattern": _ATTRIBUTE_TEXT,
                                                           "not": {"enum": ["_type_", "_data_"]}},
                       "additionalProperties": inner}]}


Attributes = Annotated[dict[str, Any], Field(
    description="a JSON object of business attributes: text without control or bidi override "
                "characters, numbers under 2^63 in size, at most 6 levels deep, at most 16000 "
                "characters in all; the keys _type_ and _data_ are the store's",
    json_schema_extra={"propertyNames": {"pattern": _ATTRIBUTE_TEXT, "not": {"enum": ["_type_", "_data_"]}},
                       "additionalProperties": _attribute(1)})]


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MemberIn(In):
    id: str = Field(min_length=1, max_length=64, pattern=MEMBER,
                    description="letters, digits, '.', '_', '@' or '-', beginning with a letter or digit")
    name: str = Text(200, single_line=True)
    department: Department
    team: str | None = Text(100, single_line=True, default=None,
                            description="the selling team, for calibration; default the "
                                                "department")
    employee_id: str | None = Text(64, single_line=True, default=None, description="payroll's employee "
                                                                                 "number")
    cost_center: str | None = Text(64, single_line=True, default=None, description="payroll's cost "
                                                                                 "center")

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"id": "ana", "name": "Ana Lima", "department": "sales", "team": "east",
         "employee_id": "E-1042", "cost_center": "CC-SALES-EAST"}]})


class AccountIn(In):
    id: Key | None = Field(default=None, description="a CRM id to keep (letters, digits, . _ : -; not "
                                                     f"{REGRADE}); default a new id",
                           **_documented(pattern=KEY, **{"not": {"enum": [".", "..", REGRADE]}}))
    name: str = Text(200, single_line=True)
    industry: str | None = OptionalText(100, single_line=True)
    attributes: Attributes = Field(default_factory=dict, description="what the account grading policy "
                                                                     "reads")

    @field_validator("id")
    @classmethod
    def _not_an_action(cls, value: str | None) -> str | None:
        if value == REGRADE:  # PATCH /v1/accounts/regrade could never reach it
            raise ValueError(f"{REGRADE!r} is reserved: /v1/accounts/{REGRADE} regrades every account")
        return value

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"id": "acme", "name": "Acme Logistics", "industry": "logistics",
         "attributes": {"annual_revenue": 120000000, "strategic": False}}]})


class AttributesIn(In):
    attributes: Attributes = Field(description="merged into the current ones; null removes one")

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"attributes": {"annual_revenue": 150000000, "region": None}}]})


class TeamSeatIn(In):
    member_id: MemberId
    role: TeamRole

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"member_id": "sam", "role": "solution_lead"}]})


class TaskIn(In):
    title: str = Text(500, single_line=True)
    assignee: MemberId | None = None
    due: IsoDate = Field(description="ISO date, not in the past")

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"title": "Quarterly business review", "assignee": "ana", "due": "2030-03-31"}]})


class AssigneeIn(In):
    assignee: MemberId

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"assignee": "sam"}]})


class NoteIn(In):
    note: str | None = OptionalText()

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"note": "Minutes filed in the CRM"}]})


class OpportunityPatchIn(In):
    amount: Amount | None = None
    expected_close: IsoDate | None = None
    attributes: Attributes | None = Field(default=None, description="merged; null removes one")
    grade: Grade | None = Field(default=None, description="a lead's override of the policy's grade; "
                                                          "null gives the grade back to the policy")
    reason: str | None = Text(default=None, description="why, for a lead's call: a grade override, raising the "
                                          "amount, any correction after the win")
    # a reason, when given, is read (values.text): a blank one is refused, not dropped

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"amount": "1300000.00", "expected_close": "2030-06-30",
         "reason": "the customer added a second site"}]})


class RequestIn(In):
    to_member: MemberId | None = Field(default=None, description="exactly one of to_member and "
                                                                 "to_department")
    to_department: Department | None = None
    kind: Kind = Field(description="lower_snake_case, e.g. solution_design")
    summary: str = Text()
    due: IsoDate = Field(description="ISO date, not in the past")

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"to_department": "delivery", "kind": "solution_design",
         "summary": "A delivery plan for the three sites", "due": "2030-02-15"}]})


class AcceptIn(In):
    member_id: MemberId | None = Field(default=None, description="a lead accepting for a member")

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"member_id": "fay"}]})


class DeliverIn(In):
    summary: str | None = OptionalText()
    hours: Hours | None = None
    evidence_url: Url | None = None

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"summary": "Delivery plan sent", "hours": "12", "evidence_url": "https://crm.example/docs/7"}]})


class RateIn(In):
    score: int = Field(ge=1, le=5, description="a whole number from 1 to 5")
    comment: str | None = OptionalText()

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"score": 5, "comment": "Exactly what the customer needed"}]})

    @field_validator("score", mode="before")
    @classmethod
    def _whole(cls, value: Any) -> Any:
        """A JSON integer: 4, or 4.0 (the same number to JSON), never 4.5, "4" or true."""
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"must be a whole number from 1 to 5, got {value!r}")
        return value


class AssessmentIn(In):
    answers: dict[str, str] = Field(description="one level per criterion of the standard in force "
                                                "(GET /v1/policies/relationship-standard)")

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"answers": {"decision_maker_stance": "supportive", "coach_inside": "active",
                     "budget_confirmed": "approved", "technical_preference": "ours",
                     "competitive_position": "ahead", "executive_relationship": "trusted"}}]})


class OpportunityIn(In):
    account_id: str = Text(200, single_line=True, description="the account's id (free text: a CRM "
                                                              "may file deals before the account)")
    name: str = Text(200, single_line=True)
    amount: Amount
    currency: Currency = Field(description="ISO 4217 code")
    expected_close: IsoDate
    grade: Grade | None = Field(default=None, description="a lead's override; by default the "
                                                          "opportunity grading policy gives it")
    reason: str | None = Text(default=None, description="why the lead overrides the grade (required with grade)")
    attributes: Attributes = Field(default_factory=dict)

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"account_id": "acme", "name": "Acme warehouse automation", "amount": "1250000.00",
         "currency": "EUR", "expected_close": "2030-06-30", "attributes": {"segment": "logistics"}}]})


class SeatIn(In):
    member_id: MemberId

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"member_id": "sam"}]})


class ContributionIn(In):
    member_id: MemberId
    kind: Kind = Field(description="a kind the incentive policy in force weighs, e.g. visit")
    summary: str = Text()
    hours: Hours | None = None
    occurred_at: IsoDateTime = Field(description="ISO 8601 date-time; not in the future")
    evidence_url: Url | None = None
    role: Literal["AR", "SR", "FR", "SUPPORT"] | None = Field(
        default=None, description="which of the member's roles, if several")

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"member_id": "ana", "kind": "visit", "summary": "Site walk with the COO", "hours": "3",
         "occurred_at": "2026-01-05T09:00:00Z", "evidence_url": "https://crm.example/notes/1"}]})


class ReasonIn(In):
    reason: str = Text()

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"reason": "recorded twice"}]})


class WinIn(In):
    amount: Amount | None = Field(default=None, description="the won amount; default the opportunity's")
    closed_on: IsoDate = Field(description="ISO date, not in the future")
    reason: str | None = Text(default=None, description="a lead's reason, when the win is a lead's call (above the "
                                          "open amount, or dated back)")

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"closed_on": "2026-01-20"}]})


class AskIn(In):
    action: Literal["win", "correct", "reverse"] = Field(description="the lead's call the AR asks for")
    reason: str = Text()
    amount: Amount | None = Field(default=None, description="win: the won amount; correct: the new "
                                                           "amount (required)")
    closed_on: IsoDate | None = Field(default=None, description="win: the close date (required), "
                                                                "not in the future")
    contribution_id: str | None = Text(64, default=None, description="reverse: the confirmed work (required)")

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"action": "correct", "reason": "the customer widened the scope", "amount": "1500000.00"}]})


class DecisionIn(In):
    reason: str = Text()

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"reason": "the scope change is signed"}]})


class LoseIn(In):
    reason: str = Text()
    closed_on: IsoDate

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"reason": "lost on price", "closed_on": "2026-01-20"}]})


class PaymentIn(In):
    amount: Amount = Field(description="in the deal's currency")
    currency: Currency = Field(description="the deal's currency")
    received_on: IsoDate = Field(description="ISO date, not in the future, not before the win")
    payment_id: Key | None = Field(default=None, description="the ERP's id; a payment is recorded once")

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"amount": "625000.00", "currency": "EUR", "received_on": "2026-02-10",
         "payment_id": "ERP-2026-0042"}]})


class RefundIn(In):
    amount: Amount
    reason: str = Text()
    refund_id: Key | None = None

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"amount": "50000.00", "reason": "one site descoped", "refund_id": "ERP-CN-7"}]})


class DisputeIn(In):
    member_id: MemberId
    reason: str = Text()

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"member_id": "ana", "reason": "my second visit is missing"}]})


class ResolutionIn(In):
    decision: Literal["reject", "uphold"]
    reason: str = Text()
    corrected_amount: AmountOrZero | None = Field(default=None, description="uphold: the line's "
                                                                           "corrected amount (required)")

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"decision": "uphold", "reason": "the visit was confirmed late", "corrected_amount": "15200.00"}]})

    @field_validator("corrected_amount")
    @classmethod
    def _only_to_uphold(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("decision") == "reject":  # not dropped unseen
            raise ValueError("a rejection keeps the line as it is: send no corrected amount")
        return value


def recorded(result: Any) -> dict:
    """A command's answer: `{id, position}` plus what the use case adds."""
    return result.document()


# -- responses: closed, every field a route answers declared (an undeclared one is a 500) ---------
#
# Each model below lists exactly what its route answers: `extra="forbid"` makes any other field
# a validation error of the answer, and `strict=True` keeps a value of another type from being
# quietly converted. A field declared with `Absent` is left out of the answer where it does not
# apply (it is never null there): it is not required in the schema, and the routes that answer
# such a model serialize with `response_model_exclude_unset=True`, so the answer holds the fields
# the presenter gave and no others. "Internal" in a description marks a field a read model keeps
# for itself: it is in the answer today, and no client should build on it.


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def Absent(description: str | None = None) -> Any:
    """A field present only when it applies (see above); never null unless its type says so."""
    return Field(None, description=description, json_schema_extra=_no_default)


INTERNAL = "internal: kept by the read model; not part of the contract"


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class CommandOut(Out):
    id: str
    position: int = Field(description="log position of the command's last event; pass as ?after=")

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"id": "0b6f3c1e-5d1a-5e0c-9a53-2f4b8d7c6e10", "position": 42}]})


class StatusOut(CommandOut):
    """A task, a request or a dispute created: the state it is in now."""

    status: str

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"id": "0b6f3c1e-5d1a-5e0c-9a53-2f4b8d7c6e10", "position": 42, "status": "open"}]})


class WonOut(CommandOut):
    allocation_id: str = Field(description="the allocation the win proposed")

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"id": "9d17cbdf-5090-421d-b4b4-952c73728b6f", "position": 93,
         "allocation_id": "837aadee-ae53-54d6-ba27-3987a1688874"}]})


class DeliveredOut(CommandOut):
    contribution_id: str = Absent("the supporter's contribution the delivery became; left out once "
                                  "the deal is closed (the delivery counts for nothing)")

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"id": "51fa8bea-9a59-45f0-bc07-fc9788f3a736", "position": 76,
         "contribution_id": "6b4c04f4-0f08-5129-8ee7-2ea9ac2d572a"}]})


class PaymentOut(CommandOut):
    """`id` is the payment id (the ERP's, or one the ledger made)."""

    repeated: bool = Absent("true when this payment id was recorded before: nothing changed; "
                            "left out otherwise")

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"id": "ERP-2026-0042", "position": 62}]})


class RegradedOut(CommandOut):
    regraded: int = Field(ge=0, description="how many accounts or open opportunities changed grade")

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"id": "regrade", "position": 28, "regraded": 0}]})


class Money(Out):
    amount: str = Field(description="decimal string with the currency's decimals")
    currency: str


class MemberOut(Out):
    id: str
    name: str
    department: str
    team: str


class GradedOut(CommandOut):
    grade: str

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"id": "0b6f3c1e-5d1a-5e0c-9a53-2f4b8d7c6e10", "position": 42, "grade": "A"}]})


class AssessmentOut(CommandOut):
    score: int = Field(description="0-100")
    win_probability: str = Field(description="decimal string in [0, 1]")
    standard_version: int

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"id": "3f2a9a4e-8c1b-5b7e-a0d4-6c9e1f2b3a45", "position": 57, "score": 84,
         "win_probability": "0.85", "standard_version": 1}]})


class PolicyRef(Out):
    name: str
    version: int
    hash: str


# -- the opportunity board ---------------------------------------------------------------------

class ContributionOut(Out):
    id: str
    member_id: str
    role: str
    kind: str
    points: int = Field(description="the kind's weight under the policy in force; 0 when reversed")
    status: str = Field(description="recorded | confirmed | reversed")
    summary: str
    hours: str
    occurred_at: str
    evidence_url: str | None
    request_id: str | None = Field(description="the support request the work delivered, if any")
    recorded_by: str
    recorded_at: str
    event_id: str
    position: int
    confirmed_by: str = Absent("once confirmed")
    confirmed_position: int = Absent("once confirmed")
    reversed_by: str = Absent("once reversed")
    reversal_reason: str = Absent("once reversed")
    reversed_position: int = Absent("once reversed")


class ProjectedLineOut(Out):
    member_id: str
    roles: list[str]
    points: int
    amount: str


class ProjectedSplitOut(Out):
    as_of: str
    policy: PolicyRef
    grade: str = Field(description="the grade a win today would take: a lead's override, else the "
                                   "grading policy in force today on the current amount")
    pool: Money
    lines: list[ProjectedLineOut]
    visible_lines: str = Field(description="all | own (a member sees only their own line)")
    unallocated: Money


class WarningOut(Out):
    code: str = Field(description="missing_required_role")
    role: str = Field(description="the empty seat")
    message: str


class TriangleOut(Out):
    AR: str | None
    SR: str | None
    FR: str | None


class SeatChangeOut(Out):
    role: str
    member_id: str
    previous: str | None
    by: str
    at: str
    position: int


class DeliveryOut(Out):
    summary: str | None
    hours: str | None
    evidence_url: str | None
    by: str


class RequestOut(Out):
    """A support request as a board shows it, with its due state and measured times."""

    id: str
    opportunity_id: str
    kind: str
    summary: str
    requested_by: str
    to_member: str | None
    to_department: str | None
    due: str
    status: str = Field(description="open | accepted | declined | delivered | rated")
    opened_at: str | None
    accepted_at: str | None
    declined_at: str | None
    delivered_at: str | None
    rated_at: str | None
    supporter: str | None
    decline_reason: str | None
    delivery: DeliveryOut | None
    rating: int | None
    comment: str | None
    contribution_id: str | None
    not_counted: str | None = Field(description="why a delivery earns no points (the deal was closed)")
    position: int = Field(description="where the request was opened")
    changed_at: int = Field(description="the last event that changed it")
    due_state: str = Field(description="open_on_time | due_today | overdue | delivered_on_time | "
                                       "delivered_late | declined")
    response_hours: str | None
    delivery_hours: str | None


class RequestToMeOut(RequestOut):
    via_department: str | None = Field(description="the department the request was addressed to, "
                                                   "when it was")


class AssessmentRecordOut(Out):
    id: str
    score: int
    win_probability: str
    standard_version: int
    standard: PolicyRef
    answers: dict[str, str] = Field(description="the level answered, per criterion")
    scores: dict[str, int] = Field(description="the score of each answer, per criterion")
    by: str
    at: str
    position: int


class GradingOut(Out):
    reasons: list[str]
    policy: PolicyRef
    overridden: bool


class CorrectedFieldsOut(Out):
    amount: Money
    expected_close: str
    attributes: dict[str, Any]


class CorrectionOut(CorrectedFieldsOut):
    previous: CorrectedFieldsOut
    by: str
    at: str
    position: int


class BoardDisputeOut(Out):
    id: str
    allocation_id: str
    member_id: str
    reason: str
    status: str = Field(description="open | rejected | upheld")
    raised_at: str
    position: int
    resolved_position: int = Absent("once resolved")


class AskArgumentsOut(Out):
    amount: str = Absent("win, correct: the amount, a decimal string")
    closed_on: str = Absent("win: the close date")
    contribution_id: str = Absent("reverse: the confirmed work")


class AskDecisionOut(Out):
    by: str
    reason: str
    at: str
    position: int


class AskOut(Out):
    id: str
    opportunity_id: str
    action: str = Field(description="win | correct | reverse")
    arguments: AskArgumentsOut = Field(description="what the AR asked for (amount as a decimal string)")
    reason: str
    calls: list[str] = Field(description="why it is a lead's call, e.g. above_open_amount")
    asked_by: str
    asked_at: str
    status: str = Field(description="open | approved | rejected")
    decision: AskDecisionOut | None = Field(description="who decided, why, when")
    position: int
    changed_at: int


class BoardOut(Out):
    opportunity_id: str
    account_id: str
    name: str
    amount: Money
    currency: str
    expected_close: str
    grade: str
    grading: GradingOut | None = Field(description="how the grade was given; null before any grading")
    attributes: dict[str, Any]
    stage: str = Field(description="open | won | lost")
    closed_on: str | None
    loss_reason: str = Absent("once lost")
    opened_by: str
    opened_at: str
    triangle: TriangleOut
    triangle_history: list[SeatChangeOut]
    supporters: list[str]
    contributions: list[ContributionOut]
    points_by_member: dict[str, int] = Field(description="confirmed points per member")
    pending_points_by_member: dict[str, int] = Field(description="points awaiting confirmation")
    projected_split: ProjectedSplitOut | None = Field(description="the split if won today")
    requests: list[RequestOut]
    open_requests: int
    overdue_requests: int
    assessment: AssessmentRecordOut | None = Field(description="the latest assessment")
    assessments: list[AssessmentRecordOut]
    corrections: list[CorrectionOut] = Field(description="each correction of the amount, the close "
                                                         "date or the attributes")
    required_roles: list[str] = Field(description="the triangle roles the grade requires")
    warnings: list[WarningOut]
    disputes: list[BoardDisputeOut] = Field(description="of the allocation; a member sees their own")
    open_disputes: int
    asks: list[AskOut]
    open_asks: int
    position: int = Field(description="the board shows every event up to this log position")
    changed_at: int = Field(description="the last event that changed this board")


# -- allocations -------------------------------------------------------------------------------

class PaidPartsOut(Out):
    amount: str
    upfront: str
    release: str


class TargetOut(Out):
    amount: str
    upfront: str
    held: str


class AllocationLineOut(Out):
    member_id: str
    roles: list[str]
    points: int
    points_by_role: dict[str, int]
    amount: str
    upfront: str
    held: str
    exact: int | str = Field(description="the line in minor units before rounding, after the cap, "
                                         "exactly (an integer or n/d)")
    approved: str | None = Field(description="the line at approval; null before")
    current: str = Field(description="what the member is owed now, after late facts and upheld "
                                     "disputes (the target's upfront + held)")
    paid: str = Field(description="the sum of the member's entries so far")
    paid_parts: PaidPartsOut = Field(description="paid by what it pays for: amount, upfront, release")
    target: TargetOut = Field(description="current by part: amount, upfront, held")


class CurrentSplitOut(Out):
    deal: Money
    grade: str
    pool: Money
    unallocated: Money
    cancelled: bool


class DealCorrectionOut(Out):
    amount: str
    previous: str
    by: str
    at: str
    reason: str | None
    position: int


class ExcludedWorkOut(Out):
    """confirmed_work_excluded: a confirmed contribution after the close date."""

    contribution_id: str
    member_id: str
    kind: str
    role: str
    occurred_on: str
    event_id: str
    position: int | None


class ReversedWorkOut(Out):
    """reversed_after_win: a contribution reversed after the win."""

    contribution_id: str
    member_id: str | None
    kind: str | None
    status_before: str | None
    by: str
    reason: str
    at: str
    position: int


class CappedLineOut(Out):
    member_id: str
    exact: int | str
    capped: int | str
    amount: str


class ReviewFlagOut(Out):
    code: str = Field(description="won_above_pipeline | backdated_close | confirmed_work_excluded | "
                                   "reversed_after_win | cap_reached | unallocated_pool")
    message: str
    opened_amount: str = Absent("won_above_pipeline")
    won_amount: str = Absent("won_above_pipeline")
    won_by: str = Absent("won_above_pipeline, backdated_close")
    win_position: int = Absent("won_above_pipeline, backdated_close")
    corrections: list[DealCorrectionOut] = Absent("won_above_pipeline: the amount's corrections "
                                                  "while open")
    closed_on: str = Absent("backdated_close, confirmed_work_excluded")
    recorded_at: str = Absent("backdated_close: when the win was recorded")
    contributions: list[ExcludedWorkOut | ReversedWorkOut] = Absent(
        "confirmed_work_excluded, reversed_after_win")
    member_cap: str = Absent("cap_reached")
    cap_amount: int | str = Absent("cap_reached: in minor units, exactly")
    lines: list[CappedLineOut] = Absent("cap_reached")
    amount: str = Absent("unallocated_pool: what goes to nobody")
    pool: str = Absent("unallocated_pool")


class AllocationEventOut(Out):
    cause: str = Field(description="payment:<id> | reversal:<cid> | correction:<n> | refund:<id> | "
                                   "cancellation | dispute:<id>")
    reason: str | None
    by: str
    at: str | None
    position: int


class CorrectsOut(Out):
    allocation_id: str
    member_id: str


class EntryOut(Out):
    entry_id: str
    allocation_id: str
    opportunity_id: str
    member_id: str
    kind: str = Field(description="upfront | release | adjustment")
    pays: str = Field(description="upfront | release")
    amount: str
    currency: str
    on: str
    period: str
    cause: str
    reason: str | None
    corrects: CorrectsOut | None = Field(description="an adjustment: the line it corrects")
    position: int


class AllocationDisputeOut(Out):
    id: str
    member_id: str
    reason: str
    status: str
    raised_at: str
    position: int


class AllocationOut(Out):
    id: str
    opportunity_id: str
    status: str = Field(description="proposed | approved")
    grade: str
    closed_on: str
    deal: Money
    rate: str
    pool: Money
    policy: PolicyRef
    lines: list[AllocationLineOut]
    unallocated: Money
    current: CurrentSplitOut = Field(description="the deal, pool and unallocated as the facts stand now")
    visible_lines: str = Field(description="all | own (a member sees only their own line)")
    won_by: str | None
    win_reason: str | None = Field(description="a lead's reason when the win was a lead's call")
    lead_call: list[str] = Field(description="why the win was a lead's call")
    approved_by: str | None
    approved_at: str | None
    overrides: dict[str, str] = Field(description="per member: the corrected amount of an upheld "
                                                  "dispute")
    history: list[AllocationEventOut] = Field(description="each payment and late fact, in log order")
    entries: list[EntryOut] = Field(description="the payable entries it booked (a member: their own)")
    disputes: list[AllocationDisputeOut]
    open_disputes: int
    review: list[ReviewFlagOut] = Field(description="what makes finance look twice; a member sees "
                                                    "only the flags about their own line")
    position: int


class StepOut(Out):
    step: int
    name: str
    formula: str
    value: str


class CitedContributionOut(Out):
    event_id: str
    position: int | None
    kind: str
    role: str
    contribution_id: str
    occurred_on: str


class CountedContributionOut(CitedContributionOut):
    weight: int


class ExcludedContributionOut(CitedContributionOut):
    reason: str


class AdjustmentEntryOut(Out):
    entry_id: str
    amount: str
    pays: str
    kind: str
    period: str


class AdjustmentOut(Out):
    cause: str = Field(description="reversal:<cid> | correction:<n> | refund:<id> | cancellation | "
                                   "dispute:<id>")
    reason: str | None
    event_id: str
    position: int
    by: str
    at: str | None
    before: str
    after: str
    entries: list[AdjustmentEntryOut]


class ExplainOut(Out):
    allocation_id: str
    opportunity_id: str
    member_id: str
    amount: str = Field(description="the line's current amount")
    approved_amount: str | None
    paid: str
    cancelled: bool
    currency: str
    minor_units_per_unit: int
    steps: list[StepOut] = Field(description="the arithmetic in minor units, exact fractions")
    contributions: list[CountedContributionOut]
    excluded: list[ExcludedContributionOut]
    adjustments: list[AdjustmentOut] = Field(description="each fact after the proposal that changed "
                                                         "this member's line")
    policy: PolicyRef


class ResolutionOut(Out):
    decision: str = Field(description="reject | uphold")
    reason: str | None
    corrected_amount: str | None
    by: str
    at: str
    position: int


class DisputeOut(Out):
    id: str
    allocation_id: str
    opportunity_id: str
    member_id: str
    reason: str
    status: str = Field(description="open | rejected | upheld")
    currency: str
    raised_by: str
    raised_at: str
    position: int = Field(description="where it was raised")
    changed_at: int = Field(description="the last event that changed it")
    resolution: ResolutionOut | None


# -- policies ------------------------------------------------------------------------------------

class IncentivePolicyOut(Out):
    name: str
    version: int
    effective_from: str
    pool_rate_by_grade: dict[str, str]
    role_shares: dict[str, str]
    kind_weights: dict[str, int]
    member_cap: str | None
    holdback: str | None
    hash: str


class PolicyAddedOut(CommandOut):
    version: int = Field(description="the version the document became; the same document as the "
                                     "latest version adds none and names that one")
    hash: str = Field(description="sha256: and the hex digest of the version's canonical JSON")
    regraded: int = Field(None, ge=0, description="only for a grading version in force: how many "
                                                  "accounts or open opportunities it regraded",
                          json_schema_extra=_no_default)

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"id": "2", "position": 42, "version": 2,
         "hash": "sha256:a2ff138d8c2aca46f2caabb45979c6a5d30b1cb635813c2c3da251ec9467cdeb"}]})


class PolicyVersionsOut(Out):
    kind: str
    versions: list[dict[str, Any]] = Field(description="oldest first, each with its hash; for the "
                                                       "incentive kind see IncentivePolicyOut")


# -- the account board ---------------------------------------------------------------------------

class GradeChangeOut(Out):
    grade: str
    score: str | None
    reasons: list[str]
    policy: PolicyRef
    reason: str | None
    by: str
    at: str
    position: int


class TeamChangeOut(Out):
    member_id: str
    role: str | None = Field(description="null when a member not on the team was taken off")
    change: str = Field(description="added | removed")
    by: str
    at: str
    position: int


class ReopenedOut(Out):
    reason: str
    by: str
    at: str
    completed_at: str | None


class TaskOut(Out):
    id: str
    title: str
    assignee: str | None
    due: str
    status: str = Field(description="created | assigned | done | verified")
    created_by: str
    created_at: str
    completed_at: str | None
    completion_note: str | None
    verified_at: str | None
    verified_by: str | None
    reopened: list[ReopenedOut]
    position: int
    changed_at: int
    overdue: bool


class TasksByStatusOut(Out):
    created: int
    assigned: int
    done: int
    verified: int


class AccountOpportunityOut(Out):
    opportunity_id: str
    name: str
    grade: str
    stage: str
    amount: Money
    currency: str
    expected_close: str
    closed_on: str | None


class AccountBoardOut(Out):
    account_id: str
    registered: bool = Field(description=f"always true here (an unregistered account is 404); {INTERNAL}")
    name: str | None
    industry: str | None
    attributes: dict[str, Any]
    grade: str | None
    score: str | None
    grade_history: list[GradeChangeOut]
    regrade_due: bool = Field(description="the grade was given by another version than the one in "
                                          "force today")
    team: dict[str, str] = Field(description="each member's role on the account team")
    team_history: list[TeamChangeOut]
    tasks: list[TaskOut]
    overdue_tasks: int
    tasks_by_status: TasksByStatusOut
    opportunities: list[AccountOpportunityOut]
    registered_by: str | None
    registered_at: str | None
    position: int
    changed_at: int


# -- the member board ----------------------------------------------------------------------------

class MemberTaskOut(Out):
    task_id: str
    account_id: str
    title: str
    due: str
    status: str
    position: int
    overdue: bool


class MemberContributionOut(Out):
    opportunity_id: str
    contribution_id: str
    kind: str
    role: str
    status: str
    summary: str
    hours: str
    occurred_at: str
    request_id: str | None
    position: int
    points: int


class MemberDisputeOut(Out):
    id: str
    allocation_id: str
    reason: str
    status: str
    position: int
    resolution: str | None = Absent("once resolved: finance's reason (null when upheld)")


class ListLimitsOut(Out):
    contributions: int
    closed_tasks: int
    closed_requests: int
    closed_disputes: int


class PointsOut(Out):
    confirmed: int
    pending: int


class EarnedAllocationOut(Out):
    opportunity_id: str
    name: str
    stage: str = Field(description="won | cancelled")
    currency: str
    allocation_id: str
    allocation_status: str
    amount: str
    approved: str | None
    current: str
    paid: str


class EarnedOut(Out):
    allocations: list[EarnedAllocationOut]
    totals: dict[str, dict[str, str]] = Field(description="per allocation status, per currency")
    paid_totals: dict[str, str] = Field(description="per currency")


class ProjectedDealOut(Out):
    opportunity_id: str
    name: str
    stage: str
    currency: str
    basis: str
    grade: str
    amount: str


class ProjectedOut(Out):
    as_of: str
    opportunities: list[ProjectedDealOut]
    totals: dict[str, str] = Field(description="per currency")


class MemberBoardOut(Out):
    member_id: str
    registered: bool = Field(description=f"false for a member the ledger saw before registering; {INTERNAL}")
    name: str | None
    department: str | None
    team: str | None
    opportunities: list[str] = Field(description=f"the deals the member sits on or worked on; {INTERNAL} "
                                                 "(what earned and projected are read from)")
    tasks: list[MemberTaskOut]
    overdue_tasks: int
    requests_to_me: list[RequestToMeOut]
    requests_from_me: list[RequestOut]
    open_requests_to_me: int
    overdue_requests_to_me: int
    contributions: list[MemberContributionOut]
    contributions_total: int
    list_limits: ListLimitsOut
    disputes: list[MemberDisputeOut]
    open_disputes: int
    points: PointsOut
    earned: EarnedOut = Field(description="allocations of won deals the member has a line in, "
                                          "their current amounts and totals per status")
    projected: ProjectedOut = Field(description="open deals' lines if won today; never added to "
                                                "what is earned")
    projected_earnings: ProjectedOut = Field(description="the same as projected (kept for clients)")
    position: int
    changed_at: int


# -- calibration -----------------------------------------------------------------------------------

class CalibrationBinOut(Out):
    from_: str = Field(alias="from")
    to: str
    count: int
    predicted: str | None
    observed: str | None


class CalibrationGroupOut(Out):
    key: str
    count: int
    brier: str | None = Field(description="mean squared error of the probabilities; 0 is perfect")
    bins: list[CalibrationBinOut]


class CalibrationOut(Out):
    by: str
    groups: list[CalibrationGroupOut]
    overall: CalibrationGroupOut = Field(description="every closed deal's last assessment")


# -- periods -------------------------------------------------------------------------------------

class CloseReportOut(Out):
    period: str
    months: list[str]
    cutoff: int
    events: int
    entries: int
    members: list[str]
    totals: dict[str, str]
    chain_head: str | None


class MonthOut(Out):
    period: str
    entries: int
    members: list[str]
    totals: dict[str, str] = Field(description="per currency, decimal strings")
    closed: bool
    closed_report: CloseReportOut | None
    cutoff: int | None
    closed_by: str | None
    closed_at: str | None
    closed_position: int | None
    position: int | None = Field(description="the last event that changed the month")


class PeriodOut(Out):
    period: str
    months: list[MonthOut]
    entries: int
    members: list[str]
    totals: dict[str, str]
    closed: bool = Field(description="every month of the period is closed")
    closed_months: list[str]


class StatementLineOut(Out):
    kind: str = Field(description="upfront | release | adjustment")
    pays: str = Field(description="upfront | release")
    allocation_id: str
    member_id: str
    member_name: str | None
    opportunity_id: str
    opportunity_name: str | None
    amount: str
    currency: str
    on: str
    period: str
    cause: str
    reason: str | None
    corrects: CorrectsOut | None
    entry_id: str
    event_id: str = Field(description="the event that booked the entry")
    position: int


class StatementOut(Out):
    member_id: str
    member_name: str | None
    period: str
    months: list[str]
    currency_totals: dict[str, str]
    totals_by_kind: dict[str, dict[str, str]]
    lines: list[StatementLineOut]


class JournalLineOut(Out):
    account: str
    account_code: str | None = Field(description="the account's code in the general ledger (settings)")
    member_id: str
    member_name: str | None
    debit: str
    credit: str
    currency: str


class JournalTotalsOut(Out):
    debit: str
    credit: str
    balance: str = Field(description="always zero")
    net_expense: str


class JournalOut(Out):
    period: str
    lines: list[JournalLineOut]
    totals: dict[str, JournalTotalsOut] = Field(description="per currency")


class PayrollRowOut(Out):
    member_id: str
    member_name: str | None
    employee_id: str | None = Field(description="as registered; null when not given")
    cost_center: str | None = Field(description="as registered; null when not given")
    currency: str
    amount: str


class PayrollOut(Out):
    period: str
    rows: list[PayrollRowOut]
    totals: dict[str, str]


class ClosedOut(Out):
    id: str = Field(description="the period")
    period: str
    months: list[str]
    cutoff: int = Field(description="the log position the replay proved the numbers up to")
    events: int
    entries: int
    members: list[str]
    totals: dict[str, str]
    chain_head: str = Field(description="the audit chain at the cut-off (hex)")
    position: int

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"id": "2026-10", "period": "2026-10", "months": ["2026-10"], "cutoff": 120, "events": 120,
         "entries": 14, "members": ["ana"], "totals": {"EUR": "12500.00"}, "chain_head": "9f2c4e1a0b7d",
         "position": 121}]})


# -- the audit chain -------------------------------------------------------------------------------

class HeadOut(Out):
    position: int
    chain: str


class ChainProblemOut(Out):
    position: int
    kind: str
    detail: str


class VerifyOut(Out):
    ok: bool
    checked: int
    head: HeadOut
    recorded_head: HeadOut
    log_position: int
    problems: list[ChainProblemOut]


class LinkOut(Out):
    position: int
    digest: str
    chain: str


class ChainOut(Out):
    links: list[LinkOut]
    head: HeadOut
    next: int | None


class FieldError(Out):
    field: str
    message: str


class Problem(Out):
    """RFC 9457 problem details. Open: RFC 9457 lets a problem type add members (a refused close
    adds its `differences`), so this is the one answer model that allows fields it does not list."""

    model_config = ConfigDict(extra="allow", strict=True)

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None


PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {"application/problem+json": {}}, "description": text}
    for status, text in ((401, "no valid bearer token"), (403, "the role may not do this"),
                         (404, "not found"), (409, "state or idempotency-key conflict"),
                         (422, "invalid input; `errors` names the fields"))
}
