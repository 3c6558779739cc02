"""Use cases of contributions: record (one or a batch), confirm, reverse."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from domain import values
from domain.aggregates import (
    Opportunity,
    SourceClaim,
)
from domain.application.access import Actor
from domain.application.results import Recorded
from domain.exceptions import (
    Conflict,
    DomainError,
    InvalidInput,
    NotAllowed,
    OpportunityNotFound,
    UnknownContributionKind,
)

SUPPORT_DELIVERED = "support_delivered"


def hours_worked(value: object) -> str:
    if value is None:
        return "0"
    hours = values.plain_decimal(value, "hours", places=2, what="number of hours")
    if hours > 10_000:
        raise InvalidInput("must be at most 10000 hours", field="hours")
    return str(hours)


class Contributions:
    """Use cases of contributions: record (one or a batch), confirm, reverse."""

    def record_contribution(self, actor: Actor, opportunity_id: str, *, member_id: str, kind: str,
                            summary: str, occurred_at: str, hours: object = None,
                            evidence_url: str | None = None, role: str | None = None,
                            contribution_id: UUID | None = None) -> Recorded:
        """Record one piece of work; a member records only their own, on opportunities they are on."""
        weights = self.incentive_policy_in_force(self.clock().date()).kind_weights
        fields = self._contribution(actor, weights, member_id=member_id, kind=kind, summary=summary,
                                    occurred_at=occurred_at, hours=hours, evidence_url=evidence_url,
                                    role=role, contribution_id=contribution_id)

        def decide(opportunity: Opportunity) -> None:
            opportunity.record_contribution(**fields)

        return self._change(opportunity_id, decide, actor, lambda _: Recorded(fields["contribution_id"]))

    def record_contributions(self, batch: Mapping[str, Sequence[tuple[Actor, dict]]]
                             ) -> dict[str, list[str | DomainError]]:
        """Record a consumer's batch of contributions, on many opportunities, in one save.

        `batch` maps an opportunity id to its (actor, arguments of record_contribution) pairs, each
        with the contribution id derived from its source message. Each is checked as
        record_contribution checks it and answers its contribution id or the refusal it got (every
        one of an opportunity that does not exist: OpportunityNotFound); the refused ones take no
        part in the save. A SourceClaim saved with each makes its id unique across the ledger: the
        same message naming another opportunity is refused (Conflict on `source_id`).
        """
        weights = self.incentive_policy_in_force(self.clock().date()).kind_weights
        answers: dict[str, list[str | DomainError]] = {}
        checked: dict[UUID, list[tuple[int, dict]]] = {}
        ids: dict[str, UUID] = {}
        claims_in_batch: dict[str, UUID] = {}  # contribution id -> the opportunity it is for
        for opportunity_id, contributions in batch.items():
            answers[opportunity_id] = []
            try:
                oid = ids[opportunity_id] = values.identifier(opportunity_id, "opportunity",
                                                              OpportunityNotFound)
            except DomainError as refusal:
                answers[opportunity_id] = [refusal] * len(contributions)
                continue
            for index, (actor, arguments) in enumerate(contributions):
                try:
                    fields = self._contribution(actor, weights, **arguments)
                    first_on = claims_in_batch.setdefault(fields["contribution_id"], oid)
                    if first_on != oid:
                        raise Conflict("this source_id is in the batch already, for another "
                                       "opportunity", field="source_id")
                    checked.setdefault(oid, []).append((index, fields))
                    answers[opportunity_id].append(fields["contribution_id"])
                except DomainError as refusal:
                    answers[opportunity_id].append(refusal)
        refused: dict[UUID, dict[int, DomainError]] = {}

        def decide(opportunity: Opportunity, retrying: bool) -> list[Aggregate]:
            refused[opportunity.id] = {}
            claims = []
            for index, fields in checked[opportunity.id]:
                cid = UUID(fields["contribution_id"])
                try:
                    if retrying and cid not in opportunity.contributions and self._claimed(cid):
                        raise Conflict("this source_id is recorded already, on another opportunity",
                                       field="source_id")
                    opportunity.record_contribution(**fields)
                except DomainError as refusal:  # checked before its event: nothing of it applied
                    refused[opportunity.id][index] = refusal
                    continue
                claims.append(SourceClaim(opportunity_id=str(opportunity.id), id=cid))
            return claims

        _, missing = self._update_all(list(checked), self._found_opportunity, decide,
                                      lambda _: Recorded("batch"), answers=False)
        for opportunity_id, oid in ids.items():
            given = answers[opportunity_id]
            if oid in missing:
                given[:] = [OpportunityNotFound(f"no opportunity {opportunity_id}",
                                                field="opportunity_id")] * len(given)
            else:
                given[:] = [refused.get(oid, {}).get(i, answer) for i, answer in enumerate(given)]
        return answers

    def _contribution(self, actor: Actor, weights: dict, *, member_id: str, kind: str, summary: str,
                      occurred_at: str, hours: object = None, evidence_url: str | None = None,
                      role: str | None = None, contribution_id: UUID | None = None) -> dict:
        """A contribution's fields for Opportunity.record_contribution, checked as far as they can
        be without the opportunity (`weights`: the kinds of work the policy in force knows)."""
        if not actor.leads and actor.member_id != member_id:
            raise NotAllowed("a member records only their own contributions", field="member_id")
        if kind == SUPPORT_DELIVERED:
            raise InvalidInput(f"{SUPPORT_DELIVERED} is recorded when a support request is delivered "
                               "(POST /v1/requests/{id}/deliver)", field="kind")
        if kind not in weights:
            raise UnknownContributionKind(
                f"{kind!r} is not a contribution kind; known kinds: {sorted(weights)}", field="kind")
        return dict(
            contribution_id=str(contribution_id or uuid4()), member_id=member_id, role=role,
            kind=kind, summary=values.text(summary, "summary"), hours=hours_worked(hours),
            occurred_at=values.iso_datetime(occurred_at, "occurred_at"),
            evidence_url=values.evidence_url(evidence_url),
            actor=actor.member_id, now=self.clock())

    def confirm_contribution(self, actor: Actor, opportunity_id: str, contribution_id: str) -> Recorded:
        """The AR (or a lead) confirms that a contribution happened as recorded."""

        def decide(opportunity: Opportunity) -> None:
            self._require_ar_or_lead(opportunity, actor, "confirm contributions")
            if opportunity.contribution(contribution_id)["member_id"] == actor.member_id:
                raise NotAllowed("a contribution is confirmed by someone other than its author "
                                 "(a lead confirms the AR's own work)")
            opportunity.confirm_contribution(contribution_id, actor.member_id)

        return self._change(opportunity_id, decide, actor, lambda _: Recorded(contribution_id))

    def reverse_contribution(self, actor: Actor, opportunity_id: str, contribution_id: str,
                             reason: str) -> Recorded:
        """Reverse a contribution with a reason; it stays on the record, never edited or deleted.
        Someone else's confirmed work is a lead's call."""
        reason = values.text(reason, "reason")

        def decide(opportunity: Opportunity) -> list[Aggregate]:
            self._require_ar_or_lead(opportunity, actor, "reverse contributions")
            return self._reversed(opportunity, actor, contribution_id, reason)

        return self._change(opportunity_id, decide, actor, lambda _: Recorded(contribution_id))

    def _reversed(self, opportunity: Opportunity, actor: Actor, contribution_id: str,
                  reason: str) -> list[Aggregate]:
        self._require_lead_after_win(opportunity, actor, "reverse contributions")
        contribution = opportunity.contribution(contribution_id)
        if contribution["status"] == "confirmed" and contribution["member_id"] != actor.member_id:
            self._require_lead_call(opportunity, actor, ["reverse_confirmed"], "contribution_id",
                                    reason)
        opportunity.reverse_contribution(contribution_id, reason, actor.member_id)
        return self._follow_late_fact(opportunity, f"reversal:{contribution_id}",
                                      f"contribution {contribution_id} reversed: {reason}", actor)
