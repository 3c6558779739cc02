"""The four policy documents as request bodies: one model per kind, each stating in OpenAPI the
format and the bounds domain/policy.py, domain/grading.py, domain/scoring.py and
domain/relationship.py enforce (docs/policies.md describes them).

The domain stays the one place that validates a policy: a model checks the document's shape
(types, required and unknown keys, fixed sets, counts and numeric bounds), and then hands the
document on to the domain exactly as it was posted (`PolicyDocument.document`). Where the model
refuses a document, the domain is asked first, so the answer is its refusal, which names the field
the way docs/policies.md does (`win_probability[1].from_score`) and says the rule in words
("must be at most 1000 points, got 5000"); only what the model alone refuses keeps pydantic's
words. Patterns are documented, not checked here (as in api/schemas.py): the domain checks them.

What no JSON Schema can state stays the domain's and is said in the descriptions: weights and
role shares that sum to 1, bands that start from 0 and ascend, grades and probabilities that never
fall as the amount or the score rises, an amount band's decimals (its currency's), a band's
`from_minor` agreeing with its `from`.

JSON Schema counts 65.0 as an integer; the domain does not: scores, points, steps and grade
minimums are JSON integers written without a point, and numbers that are not whole are decimal
strings, so every document is hashed as it is spelled.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StrictInt, StrictStr, model_validator

from api.schemas import _BIDI, _BREAKS, _CONTROL, _S, _SPACE, AMOUNT_OR_ZERO, DATE, NAME, Currency, Grade
from domain.aggregates import DEFAULT_POLICY_DOCUMENTS
from domain.grading import ACCOUNT_GRADES, AccountGradingPolicy, OpportunityGradingPolicy
from domain.money import MAX_WHOLE_DIGITS
from domain.policy import (
    MAX_ENTRIES,
    MAX_KIND_WEIGHT,
    MAX_PLACES,
    TRIANGLE_ROLES,
    IncentivePolicy,
    Versioned,
)
from domain.relationship import RelationshipStandard

# -- decimal strings (domain/values.py plain_decimal): digits, one optional point, at most
# MAX_PLACES decimals, at most 30 digits before the point, spaces around trimmed --------------------
_PLACES = f"(?:\\.[0-9]{{1,{MAX_PLACES}}})?"
_NOT_ALL_ZEROS = "|".join(  # MAX_PLACES decimals at most, one of them not 0
    f"{'0' * zeros}[1-9][0-9]{{0,{MAX_PLACES - 1 - zeros}}}" for zeros in range(MAX_PLACES))
_ZERO = "0{1,30}"  # the whole part of a fraction below 1
_ONE = f"0{{0,29}}1(?:\\.0{{1,{MAX_PLACES}}})?"  # exactly 1


def _decimal(core: str) -> str:
    return f"^{_S}(?:{core}){_S}$"


FROM_0_TO_1 = _decimal(f"{_ZERO}{_PLACES}|{_ONE}")
FROM_0_TO_HALF = _decimal(f"{_ZERO}(?:\\.(?:[0-4][0-9]{{0,{MAX_PLACES - 1}}}|50{{0,{MAX_PLACES - 1}}}))?")
ABOVE_0_TO_1 = _decimal(f"{_ZERO}\\.(?:{_NOT_ALL_ZEROS})|{_ONE}")
FROM_0_BELOW_1 = _decimal(f"{_ZERO}{_PLACES}")
# a band's start: a number from 0, below 10^15 (domain/money.py MAX_WHOLE_DIGITS)
BAND_START = _decimal(f"0{{0,{30 - MAX_WHOLE_DIGITS}}}[0-9]{{1,{MAX_WHOLE_DIGITS}}}{_PLACES}")
# a policy's name: trimmed, then one line, not blank, without control or bidi override characters
_INNER = f"[^{_CONTROL}{_BIDI}{_BREAKS}]"
_VISIBLE = f"[^{_CONTROL}{_BIDI}{_BREAKS}{_SPACE}]"
POLICY_NAME = f"^[{_SPACE}]*{_VISIBLE}(?:{_INNER}*{_VISIBLE})?[{_SPACE}]*$"
_ABOVE_MONEY = 10**MAX_WHOLE_DIGITS - 1


def _no_default(schema: dict[str, Any]) -> None:
    """An optional key without a default to show (the domain's default depends on other keys)."""
    schema.pop("default", None)


def Fraction(pattern: str, spelled: str, whole: tuple[int, int], *, default: Any = ...,
             nullable: str | None = None) -> Any:
    """A fraction: a plain decimal string (or a JSON integer, read as its digits)."""
    low, high = whole
    number = Annotated[StrictStr, Field(json_schema_extra={"pattern": pattern})] | \
        Annotated[StrictInt, Field(ge=low, le=high)]
    description = (f"{spelled}: a plain decimal string such as \"0.35\" (digits, one optional point, "
                   f"at most {MAX_PLACES} decimals, no sign or exponent; spaces around are trimmed), "
                   f"or the JSON integer{'s' if high > low else ''} "
                   f"{' or '.join(str(n) for n in range(low, high + 1))}")
    if nullable:
        return Annotated[number | None, Field(default, description=f"{nullable}; else {description}")]
    return Annotated[number, Field(default, description=description)]




def Names(what: str, *, at_least: int = 0) -> dict[str, Any]:
    """A dict field keyed by lower_snake_case names: its bounds and its propertyNames."""
    return {"min_length": at_least or None, "max_length": MAX_ENTRIES,
            "description": f"{what}: {'at least one and ' if at_least else ''}at most {MAX_ENTRIES}, "
                           "each named in lower_snake_case (a lower-case letter, then lower-case "
                           "letters, digits or _, at most 64 characters)",
            "json_schema_extra": {"propertyNames": {"pattern": NAME}}}


Score = Annotated[StrictInt, Field(ge=0, le=100, description="a whole score from 0 to 100")]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PolicyDocument(_Part):
    """What every kind's document starts with; the document itself, as posted, for the domain."""

    kind: ClassVar[str]
    parses: ClassVar[type[Versioned]]

    name: StrictStr = Field(
        "default", min_length=1, max_length=100,
        description="a label for people: at most 100 characters on one line, not blank, without "
                    "control or bidi override characters; trimmed",
        json_schema_extra={"pattern": POLICY_NAME})
    effective_from: StrictStr = Field(
        description="the date it applies from, YYYY-MM-DD, from 2000-01-01 (the version in force on "
                    "a date is the highest one whose effective_from is on or before it)",
        json_schema_extra={"pattern": DATE, "format": "date"})

    _document: dict[str, Any] = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _the_domain_answers(cls, data: Any, handler: Any) -> PolicyDocument:
        """The model's checks; a document they refuse is read by the domain first, so its refusal
        (InvalidPolicy, naming the field and the rule) is the answer wherever it has one."""
        try:
            checked = handler(data)
        except ValueError:  # pydantic's ValidationError
            if isinstance(data, dict) and cls is not PolicyDocument:
                cls.parses.from_document(data, version=1)  # pure: raises, or the model alone refuses
            raise
        checked._document = data
        return checked

    @property
    def document(self) -> dict[str, Any]:
        """The document exactly as it was posted."""
        return self._document


# -- incentive --------------------------------------------------------------------------------------

PoolRate = Fraction(FROM_0_TO_HALF, "from 0 to 0.5", (0, 0), default="0")
Share = Fraction(FROM_0_TO_1, "from 0 to 1", (0, 1), default="0")


class PoolRates(_Part):
    """The share of the won amount that becomes the bonus pool, per opportunity grade."""

    A: PoolRate
    B: PoolRate
    C: PoolRate


class RoleShares(_Part):
    """The share of the pool of each role; the shares sum to exactly 1."""

    AR: Share
    SR: Share
    FR: Share
    SUPPORT: Share


class IncentivePolicyIn(PolicyDocument):
    """A version of the incentive policy (docs/policies.md#incentive)."""

    kind: ClassVar[str] = "incentive"
    parses: ClassVar[type[Versioned]] = IncentivePolicy

    pool_rate_by_grade: PoolRates = Field(description="per grade A, B, C, from 0 to 0.5; a grade "
                                                      "left out is 0")
    role_shares: RoleShares = Field(description="per role AR, SR, FR, SUPPORT, from 0 to 1, summing "
                                                "to exactly 1; a role left out is 0")
    kind_weights: dict[str, Annotated[StrictInt, Field(ge=0, le=MAX_KIND_WEIGHT)]] = Field(
        **Names("the points one confirmed contribution of each kind earns, a whole number from 0 to "
                f"{MAX_KIND_WEIGHT}; the contribution kinds", at_least=1))
    member_cap: Fraction(ABOVE_0_TO_1, "above 0, at most 1", (1, 1), default=None,
                         nullable="the largest share of the pool one member may get; null: no cap")
    holdback: Fraction(FROM_0_BELOW_1, "from 0, below 1", (0, 0), default=None,
                       nullable="the part of each line paid only as cash is collected; null: none")

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {**DEFAULT_POLICY_DOCUMENTS["incentive"], "name": "2027 incentive", "effective_from": "2027-01-01",
         "member_cap": "0.35", "holdback": "0.2"}]})


# -- weighted criteria (account grading, the relationship standard) ----------------------------------

Weight = Fraction(FROM_0_TO_1, "from 0 to 1; the weights of a policy sum to exactly 1", (0, 1))
Levels = Annotated[dict[str, Score], Field(**Names("named levels, each with its score from 0 to 100",
                                                   at_least=1))]


def Start(pattern: str, spelled: str) -> Any:
    """Where a band starts: a plain decimal string or a JSON integer, from 0, below 10^15."""
    return Annotated[Annotated[StrictStr, Field(json_schema_extra={"pattern": pattern})] |
                     Annotated[StrictInt, Field(ge=0, le=_ABOVE_MONEY)],
                     Field(alias="from", description=f"where the band starts: {spelled}, from 0, below "
                                                     "10^15 (or a JSON integer); the first band starts "
                                                     "from 0 and each starts above the one before")]


class ScoreBand(_Part):
    """From a number on (up to the next band's), this score."""

    from_: Start(BAND_START, f"a plain decimal string with at most {MAX_PLACES} decimals")
    score: Score


class CriterionByLevels(_Part):
    """A criterion answered with one of its named levels."""

    weight: Weight
    levels: Levels


class CriterionByBands(_Part):
    """A criterion over a number: the band with the largest `from` at or below it gives the score."""

    weight: Weight
    bands: list[ScoreBand] = Field(min_length=1, max_length=MAX_ENTRIES,
                                   description=f"at least one and at most {MAX_ENTRIES} bands, "
                                               "ascending from 0")


def Criteria(criterion: Any, what: str) -> Any:
    return Annotated[dict[str, criterion], Field(**Names(
        f"the weighted criteria ({what}); their weights sum to exactly 1; the criteria", at_least=1))]


# -- account grading --------------------------------------------------------------------------------

class GradeMinimums(_Part):
    """The minimum score of each grade: strictly falling from S to C, and C is 0."""

    S: Score
    A: Score
    B: Score
    C: Annotated[StrictInt, Field(ge=0, le=0, description="0, so every account has a grade")]


class AccountGradingPolicyIn(PolicyDocument):
    """A version of the account grading policy (docs/policies.md#account-grading)."""

    kind: ClassVar[str] = "account-grading"
    parses: ClassVar[type[Versioned]] = AccountGradingPolicy

    criteria: Criteria(CriterionByLevels | CriterionByBands,
                       "each with levels or bands, exactly one of them, and each reading the "
                       "account attribute of its name")
    grades: GradeMinimums = Field(description=f"the minimum score of each of {', '.join(ACCOUNT_GRADES)}")

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {**DEFAULT_POLICY_DOCUMENTS["account-grading"], "name": "2027 grading",
         "effective_from": "2027-01-01"}]})


# -- opportunity grading ----------------------------------------------------------------------------

class AmountBand(_Part):
    """From an amount on (up to the next band's), this grade."""

    from_: Start(AMOUNT_OR_ZERO, "an amount in the currency, a plain decimal string with at most the "
                                 "currency's decimals (0 to 4)")
    grade: Grade = Field(description="a larger amount never gives a lower grade (C, then B, then A)")
    from_minor: StrictInt = Field(
        None, ge=0, le=10**(MAX_WHOLE_DIGITS + 4) - 1,
        description="`from` in the currency's minor units, as GET shows it; may be left out, and "
                    "if given must agree with `from`",
        json_schema_extra=_no_default)


Roles = Annotated[list[Literal[TRIANGLE_ROLES]], Field(  # type: ignore[valid-type]
    max_length=len(TRIANGLE_ROLES), description="distinct triangle roles",
    json_schema_extra={"uniqueItems": True})]


class RequiredRoles(_Part):
    """The triangle roles a deal of each grade must have seated."""

    A: Roles
    B: Roles
    C: Roles


class OpportunityGradingPolicyIn(PolicyDocument):
    """A version of the opportunity grading policy (docs/policies.md#opportunity-grading)."""

    kind: ClassVar[str] = "opportunity-grading"
    parses: ClassVar[type[Versioned]] = OpportunityGradingPolicy

    amount_bands: dict[Currency, Annotated[list[AmountBand], Field(min_length=1, max_length=MAX_ENTRIES)]] = \
        Field(description="per ISO 4217 currency, at least one and at most "
                          f"{MAX_ENTRIES} bands, ascending from 0; a currency without bands starts at C")
    strategic_attributes: dict[str, Annotated[StrictInt, Field(ge=0, le=2)]] = Field(
        **Names("opportunity attributes that raise the grade by 0, 1 or 2 steps (up to A) when JSON "
                "true; the attributes"))
    required_roles: RequiredRoles

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {**DEFAULT_POLICY_DOCUMENTS["opportunity-grading"], "name": "2027 grading",
         "effective_from": "2027-01-01"}]})


# -- relationship standard --------------------------------------------------------------------------

class ProbabilityBand(_Part):
    """From a score on (up to the next band's), this win probability."""

    from_score: Annotated[StrictInt, Field(ge=0, le=100, description="a whole score from 0 to 100; "
                                                                     "the first band starts from 0 and "
                                                                     "each starts above the one before")]
    probability: Fraction(FROM_0_TO_1, "from 0 to 1, never lower than the band's before", (0, 1))


class RelationshipStandardIn(PolicyDocument):
    """A version of the relationship standard (docs/policies.md#relationship-standard)."""

    kind: ClassVar[str] = "relationship-standard"
    parses: ClassVar[type[Versioned]] = RelationshipStandard

    criteria: Criteria(CriterionByLevels, "each with levels")
    win_probability: list[ProbabilityBand] = Field(min_length=1, max_length=MAX_ENTRIES,
                                                   description=f"at least one and at most {MAX_ENTRIES} "
                                                               "bands, ascending from score 0")

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {**DEFAULT_POLICY_DOCUMENTS["relationship-standard"], "name": "2027 standard",
         "effective_from": "2027-01-01"}]})


POLICY_DOCUMENTS: dict[str, type[PolicyDocument]] = {
    model.kind: model for model in (AccountGradingPolicyIn, OpportunityGradingPolicyIn,
                                    RelationshipStandardIn, IncentivePolicyIn)}
