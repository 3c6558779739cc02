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
from queries.models import Absent, Out, no_default

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


# -- command answers: closed like the read side's answer models (queries/models.py) -----------

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
                          json_schema_extra=no_default)

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"id": "2", "position": 42, "version": 2,
         "hash": "sha256:a2ff138d8c2aca46f2caabb45979c6a5d30b1cb635813c2c3da251ec9467cdeb"}]})


class PolicyVersionsOut(Out):
    kind: str
    versions: list[dict[str, Any]] = Field(description="oldest first, each with its hash; for the "
                                                       "incentive kind see IncentivePolicyOut")


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
