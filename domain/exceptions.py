"""One exception base for the domain, with intention-named subclasses.

The API maps each class to an HTTP status in one table (api/errors.py); the domain never
raises HTTP errors. `field` names the offending input where there is one.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every refusal the domain makes."""

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


# 422: the input itself is wrong.
class InvalidInput(DomainError):
    """A value is malformed or out of range."""


class InvalidAmount(InvalidInput):
    """A money amount is not a positive number with the currency's decimals."""


class UnknownCurrency(InvalidInput):
    """A currency code is not ISO 4217."""


class UnknownContributionKind(InvalidInput):
    """A contribution kind the incentive policy in force does not know."""


class InvalidPolicy(InvalidInput):
    """A policy document fails validation."""


# 404: something named does not exist.
class NotFound(DomainError):
    """Base for lookups that found nothing."""


class MemberNotFound(NotFound):
    pass


class OpportunityNotFound(NotFound):
    pass


class ContributionNotFound(NotFound):
    pass


class AllocationNotFound(NotFound):
    pass


class AccountNotFound(NotFound):
    pass


class TaskNotFound(NotFound):
    pass


class RequestNotFound(NotFound):
    pass


class DisputeNotFound(NotFound):
    pass


class AskNotFound(NotFound):
    pass


class NotOnAccountTeam(NotFound):
    """The member holds no seat on the account team to take away."""


# 403: the actor may not do this here.
class NotAllowed(DomainError):
    """The actor's role or place on the opportunity does not allow the command."""


class LeadsCall(NotAllowed):
    """The fact would raise the decider's own amount or lower a teammate's: a lead who has no
    stake in the deal decides it, with a reason (the AR may ask one)."""


# 409: the state does not allow the command now.
class Conflict(DomainError):
    """The command conflicts with the current state."""


class MemberAlreadyExists(Conflict):
    pass


class OpportunityAlreadyExists(Conflict):
    pass


class OpportunityClosed(Conflict):
    """The opportunity is won or lost; its record of work is final."""


class ContributorNotOnOpportunity(Conflict):
    """The contributor is neither in the triangle nor a supporter."""


class ContributionAlreadyRecorded(Conflict):
    pass


class ContributionAlreadyConfirmed(Conflict):
    pass


class ContributionAlreadyReversed(Conflict):
    pass


class SupporterAlreadyAdded(Conflict):
    pass


class AccountAlreadyExists(Conflict):
    pass




class AllocationAlreadyApproved(Conflict):
    pass


class PeriodClosed(Conflict):
    """A closed period never changes."""


class PeriodNotOver(InvalidInput):
    """A period is closed only once its last day is past."""


class TransitionRefused(Conflict):
    """A task or support request cannot move to that state from the one it is in."""


class ConcurrencyConflict(Conflict):
    """Another command changed the same aggregate first; retry."""
