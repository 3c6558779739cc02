"""Request bodies. Separate from events and aggregates; unknown fields are refused by name."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MemberIn(In):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]*$")
    name: str = Field(min_length=1, max_length=200)
    department: str


class OpportunityIn(In):
    account_id: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=200)
    amount: str = Field(description='decimal string in the currency, e.g. "1250000.00"')
    currency: str = Field(description="ISO 4217 code")
    expected_close: str = Field(description="ISO date")
    grade: str | None = Field(default=None, description="A, B or C (default C until graded)")
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


class LoseIn(In):
    reason: str = Field(min_length=1, max_length=2000)
    closed_on: str


class IncentivePolicyIn(In):
    name: str = "default"
    effective_from: str
    pool_rate_by_grade: dict[str, Any]
    role_shares: dict[str, Any]
    kind_weights: dict[str, Any]
    member_cap: Any = None
    holdback: Any = None


def recorded(result: Any) -> dict:
    """A command's answer: `{id, position}` plus what the use case adds."""
    return {"id": result.id, "position": result.position, **result.extra}
