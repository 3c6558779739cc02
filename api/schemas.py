"""Request bodies. Separate from events and aggregates; unknown fields are refused by name."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MemberIn(In):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]*$")
    name: str = Field(min_length=1, max_length=200)
    department: str
    team: str | None = Field(default=None, max_length=100,
                             description="the selling team, for calibration; default the department")
    employee_id: str | None = Field(default=None, max_length=64, description="payroll's employee number")
    cost_center: str | None = Field(default=None, max_length=64, description="payroll's cost center")


class AccountIn(In):
    id: str | None = Field(default=None, description="a CRM id to keep (letters, digits, . _ : -); "
                                                     "default a new id")
    name: str = Field(min_length=1, max_length=200)
    industry: str | None = Field(default=None, max_length=100)
    attributes: dict[str, Any] = Field(default_factory=dict,
                                       description="what the account grading policy reads")


class AttributesIn(In):
    attributes: dict[str, Any] = Field(description="merged into the current ones; null removes one")


class TeamSeatIn(In):
    member_id: str = Field(min_length=1, max_length=64)
    role: str = Field(description="account_manager, solution_lead, delivery_lead, commercial, "
                                  "finance, executive_sponsor or member")


class TaskIn(In):
    title: str = Field(min_length=1, max_length=500)
    assignee: str | None = Field(default=None, max_length=64)
    due: str = Field(description="ISO date, not in the past")


class AssigneeIn(In):
    assignee: str = Field(min_length=1, max_length=64)


class NoteIn(In):
    note: str | None = Field(default=None, max_length=2000)


class OpportunityPatchIn(In):
    amount: str | None = None
    expected_close: str | None = None
    attributes: dict[str, Any] | None = Field(default=None, description="merged; null removes one")
    grade: str | None = Field(default=None, description="a lead's override of the policy's grade; "
                                                        "null gives the grade back to the policy")
    reason: str | None = Field(default=None, max_length=2000,
                               description="why, for a lead's call: a grade override, raising the "
                                           "amount, any correction after the win")


class RequestIn(In):
    to_member: str | None = Field(default=None, max_length=64)
    to_department: str | None = None
    kind: str = Field(description="lower_snake_case, e.g. solution_design")
    summary: str = Field(min_length=1, max_length=2000)
    due: str = Field(description="ISO date, not in the past")


class AcceptIn(In):
    member_id: str | None = Field(default=None, min_length=1, max_length=64,
                                  description="a lead accepting for a member")


class DeliverIn(In):
    summary: str | None = Field(default=None, max_length=2000)
    hours: str | None = Field(default=None, description="decimal string")
    evidence_url: str | None = Field(default=None, max_length=2000)


class RateIn(In):
    score: Any = Field(description="a whole number from 1 to 5")
    comment: str | None = Field(default=None, max_length=2000)


class AssessmentIn(In):
    answers: dict[str, Any] = Field(description="one level per criterion of the standard in force")


class OpportunityIn(In):
    account_id: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=200)
    amount: str = Field(description='decimal string in the currency, e.g. "1250000.00"')
    currency: str = Field(description="ISO 4217 code")
    expected_close: str = Field(description="ISO date")
    grade: str | None = Field(default=None, description="a lead's override; by default the "
                                                        "opportunity grading policy gives it")
    reason: str | None = Field(default=None, max_length=2000,
                               description="why the lead overrides the grade (required with grade)")
    attributes: dict[str, Any] = Field(default_factory=dict)


class SeatIn(In):
    member_id: str = Field(min_length=1, max_length=64)


class ContributionIn(In):
    member_id: str = Field(min_length=1, max_length=64)
    kind: str = Field(min_length=1, max_length=64)
    summary: str = Field(min_length=1, max_length=2000)
    hours: str | None = Field(default=None, description="decimal string")
    occurred_at: str = Field(description="ISO 8601 date-time; not in the future")
    evidence_url: str | None = Field(default=None, max_length=2000)
    role: str | None = Field(default=None, description="which of the member's roles, if several")


class ReasonIn(In):
    reason: str = Field(min_length=1, max_length=2000)


class WinIn(In):
    amount: str | None = Field(default=None, description="the won amount; default the opportunity's")
    closed_on: str = Field(description="ISO date, not in the future")
    reason: str | None = Field(default=None, max_length=2000,
                               description="a lead's reason, when the win is a lead's call (above "
                                           "the open amount, or dated back)")


class AskIn(In):
    action: str = Field(description="win | correct | reverse: the lead's call the AR asks for")
    reason: str = Field(min_length=1, max_length=2000)
    amount: str | None = Field(default=None, description="win: the won amount; correct: the new amount")
    closed_on: str | None = Field(default=None, description="win: the close date")
    contribution_id: str | None = Field(default=None, description="reverse: the confirmed work")


class DecisionIn(In):
    reason: str = Field(min_length=1, max_length=2000)


class LoseIn(In):
    reason: str = Field(min_length=1, max_length=2000)
    closed_on: str


class PaymentIn(In):
    amount: str = Field(description="decimal string in the deal's currency")
    currency: str
    received_on: str = Field(description="ISO date, not in the future, not before the win")
    payment_id: str | None = Field(default=None, description="the ERP's id; a payment is recorded once")


class RefundIn(In):
    amount: str
    reason: str = Field(min_length=1, max_length=2000)
    refund_id: str | None = None


class DisputeIn(In):
    member_id: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=2000)


class ResolutionIn(In):
    decision: str = Field(description="reject | uphold")
    reason: str = Field(min_length=1, max_length=2000)
    corrected_amount: str | None = Field(default=None, description="uphold: the line's corrected amount")

    @field_validator("corrected_amount")
    @classmethod
    def _only_to_uphold(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("decision") == "reject":  # not dropped unseen
            raise ValueError("a rejection keeps the line as it is: send no corrected amount")
        return value


def recorded(result: Any) -> dict:
    """A command's answer: `{id, position}` plus what the use case adds."""
    return {"id": result.id, "position": result.position, **result.extra}


# -- responses (what clients rely on; documents carry more where the read model has it) ----------

class Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class CommandOut(Out):
    id: str
    position: int = Field(description="log position of the command's last event; pass as ?after=")


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


class AssessmentOut(CommandOut):
    score: int = Field(description="0-100")
    win_probability: str = Field(description="decimal string in [0, 1]")
    standard_version: int


class PolicyRef(Out):
    name: str
    version: int
    hash: str


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
    event_id: str
    position: int


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
    unallocated: Money


class WarningOut(Out):
    code: str
    message: str


class BoardOut(Out):
    opportunity_id: str
    account_id: str
    name: str
    amount: Money
    expected_close: str
    grade: str
    stage: str = Field(description="open | won | lost")
    closed_on: str | None
    triangle: dict[str, str | None]
    triangle_history: list[dict[str, Any]]
    supporters: list[str]
    contributions: list[ContributionOut]
    points_by_member: dict[str, int] = Field(description="confirmed points per member")
    pending_points_by_member: dict[str, int] = Field(description="points awaiting confirmation")
    projected_split: ProjectedSplitOut | None = Field(description="the split if won today")
    requests: list[dict[str, Any]]
    assessment: dict[str, Any] | None
    required_roles: list[str] = Field(default_factory=list,
                                      description="the triangle roles the grade requires")
    warnings: list[WarningOut] = Field(default_factory=list)
    position: int = Field(description="the board shows every event up to this log position")


class AllocationLineOut(Out):
    member_id: str
    roles: list[str]
    points: int
    points_by_role: dict[str, int]
    amount: str
    upfront: str
    held: str
    exact: int | str = Field(description="the exact amount in minor units before rounding (n/d)")
    approved: str | None = Field(description="the line at approval; null before")
    current: str = Field(description="what the member is owed now, after late facts and upheld "
                                     "disputes (the target's upfront + held)")
    paid: str = Field(description="the sum of the member's entries so far")
    paid_parts: dict[str, str] = Field(description="paid by what it pays for: amount, upfront, release")
    target: dict[str, str] = Field(description="current by part: amount, upfront, held")


class CurrentSplitOut(Out):
    deal: Money
    grade: str
    pool: Money
    unallocated: Money
    cancelled: bool


class ReviewFlagOut(Out):
    code: str = Field(description="won_above_pipeline | backdated_close | confirmed_work_excluded | "
                                   "reversed_after_win | cap_reached | unallocated_pool")
    message: str


class AllocationOut(Out):
    id: str
    opportunity_id: str
    status: str
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


class PolicyVersionsOut(Out):
    kind: str
    versions: list[dict[str, Any]] = Field(description="oldest first, each with its hash; for the "
                                                       "incentive kind see IncentivePolicyOut")


class AccountBoardOut(Out):
    account_id: str
    name: str
    grade: str | None
    grade_history: list[dict[str, Any]]
    team: dict[str, str]
    tasks: list[dict[str, Any]] = Field(description="each with status and overdue")
    opportunities: list[dict[str, Any]]
    position: int


class MemberBoardOut(Out):
    member_id: str
    tasks: list[dict[str, Any]]
    requests_to_me: list[dict[str, Any]]
    requests_from_me: list[dict[str, Any]]
    contributions: list[dict[str, Any]]
    earned: dict[str, Any] = Field(description="allocations of won deals the member has a line in, "
                                               "their current amounts and totals per status")
    projected: dict[str, Any] = Field(description="open deals' lines if won today; never added to "
                                                  "what is earned")
    projected_earnings: dict[str, Any] = Field(description="the same as projected (kept for clients)")
    position: int


class AskOut(Out):
    id: str
    opportunity_id: str
    action: str = Field(description="win | correct | reverse")
    arguments: dict[str, Any] = Field(description="what the AR asked for (amount as a decimal string)")
    reason: str
    calls: list[str] = Field(description="why it is a lead's call, e.g. above_open_amount")
    asked_by: str
    status: str = Field(description="open | approved | rejected")
    decision: dict[str, Any] | None = Field(description="who decided, why, when")
    position: int


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


class FieldError(Out):
    field: str
    message: str


class Problem(Out):
    """RFC 9457 problem details."""

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
