"""Use cases of policies: versions added by finance, the version in force, regrades."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from domain.aggregates import (
    DEFAULT_POLICY_DOCUMENTS,
    POLICY_KINDS,
    PolicyBook,
)
from domain.application.access import MAY, Actor
from domain.application.ledger import replayed
from domain.application.results import PolicyAdded, Recorded, Regraded
from domain.exceptions import (
    ConcurrencyConflict,
    InvalidInput,
    NotAllowed,
    NotFound,
)
from domain.policy import IncentivePolicy, in_force

SYSTEM = "system"


def _unversioned(document: dict) -> dict:
    return {k: v for k, v in document.items() if k != "version"}


class Policies:
    """Use cases of policies: versions added by finance, the version in force, regrades."""

    def add_policy(self, actor: Actor, kind: str, document: object) -> Recorded:
        """Add a validated, effective-dated version of a policy (finance or admin).

        A new account or opportunity grading version already in force regrades every account or
        open opportunity (each in its own transaction, right after the version is saved). The
        same document as the latest version again adds nothing: the answer names that version,
        and its regrade runs again (so a retry after a crash finishes it).
        """
        if actor.role not in MAY["set policy"]:
            raise NotAllowed("only finance or an admin defines policies")
        book = self._policy_book(kind)
        policy = book.add_version(document, actor.member_id)
        regrade = {"account-grading": self._regrade_accounts,
                   "opportunity-grading": self._regrade_opportunities}.get(kind)
        regrades = regrade is not None and policy.effective_from <= self.clock().date()
        latest = book.versions()[-2] if len(book.documents) > 1 else None
        if latest is not None and _unversioned(latest.document()) == _unversioned(policy.document()):
            recorded = PolicyAdded(str(latest.version), self._head(), latest.version, latest.hash)
        else:
            try:  # the answer is kept with the version unless a regrade follows (it adds to it)
                recorded = self._saved(PolicyAdded(str(policy.version), version=policy.version,
                                                   hash=policy.hash), book, answers=not regrades)
            except IntegrityError:
                raise ConcurrencyConflict("another version was added meanwhile; retry") from None
            self._policy_versions[kind] = (book.version, book.versions())
        if regrades:
            regraded = regrade(actor.member_id)
            return replace(recorded, position=max(recorded.position, regraded.position),
                           regraded=regraded.regraded)
        return recorded

    def policies(self, kind: str) -> list[Any]:
        """Every version of a kind of policy, oldest first."""
        return list(self._versions(kind))

    def policy_in_force(self, kind: str, on: date, field: str = "date") -> Any:
        """The version of a kind of policy in force on a date."""
        policy = in_force(self._versions(kind), on)
        if policy is None:
            raise InvalidInput(f"no {kind} policy is in force on {on}", field=field)
        return policy

    def incentive_policy_in_force(self, on: date) -> IncentivePolicy:
        return self.policy_in_force("incentive", on, field="closed_on")

    def _ensure_default_policies(self) -> None:
        for kind, document in DEFAULT_POLICY_DOCUMENTS.items():
            if PolicyBook.create_id(kind) in self.repository:
                continue
            book = PolicyBook(kind=kind, actor=SYSTEM)
            book.add_version(document, SYSTEM)
            try:
                self.save(book)
            except IntegrityError:
                pass  # another process created it first

    def _policy_book(self, kind: str) -> PolicyBook:
        if kind not in POLICY_KINDS:
            raise NotFound(f"no policy kind {kind!r}; known kinds: {', '.join(POLICY_KINDS)}",
                           field="kind")
        return self.repository.get(PolicyBook.create_id(kind), projector_func=replayed)

    def _versions(self, kind: str) -> list[Any]:
        """The versions of a kind of policy, kept between commands (read on nearly every one).

        Another process may have added a version: one indexed read of the book's events after
        the version kept says whether it did, and only then is the book loaded again.
        """
        kept = self._policy_versions.get(kind)
        if kept is not None and not self.recorder.select_events(
                PolicyBook.create_id(kind), gt=kept[0], limit=1):
            return kept[1]
        book = self._policy_book(kind)
        versions = book.versions()
        self._policy_versions[kind] = (book.version, versions)
        return versions

    def _regrade(self, created: type, load: Callable[[UUID], Any],
                 regrade: Callable[[Any], None]) -> Recorded:
        """Grade again every aggregate created by `created`; how many changed, and the head."""
        position = self._head()
        changed: dict[UUID, bool] = {}

        def decide(aggregate: Any) -> None:
            regrade(aggregate)
            changed[aggregate.id] = bool(aggregate.pending_events)  # the last attempt is the one saved

        for aggregate_id in self._created(created):
            recorded = self._update(aggregate_id, load, decide, answers=False)  # not the answer
            position = max(position, recorded.position)
        regraded = sum(changed.values())
        return Regraded("regrade", position, regraded)
