"""How the ledger loads, decides and saves: one helper for every use case, with the storage
speed-ups (writer locks, retries, kept aggregates, snapshots) kept out of the use cases.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from domain import values
from domain.aggregates import (
    Account,
    Allocation,
    Ask,
    Dispute,
    Member,
    Opportunity,
    Period,
    PolicyBook,
    SupportRequest,
    Task,
)
from domain.application.access import Actor
from domain.application.results import Recorded
from domain.backoff import Backoff
from domain.exceptions import (
    AccountNotFound,
    AllocationNotFound,
    AskNotFound,
    ConcurrencyConflict,
    DisputeNotFound,
    MemberNotFound,
    NotFound,
    OpportunityNotFound,
    RequestNotFound,
    TaskNotFound,
)

log = logging.getLogger(__name__)

NAMES = {SupportRequest: "support request", PolicyBook: "policy"}  # in refusals
ATTEMPTS = 8  # optimistic retries against writers in other processes


KEPT_AGGREGATES = 256  # aggregates kept between commands on them (see Goldsplit._keep)
# a command's answer, from the aggregate it decided on (its position is the save's)
Answer = Callable[[Any], Recorded]


def replayed(aggregate: Any, events: Iterable[Any]) -> Any:
    """eventsourcing's project_aggregate without its isinstance check against a runtime Protocol,
    which cost as much as applying the events."""
    for domain_event in events:
        aggregate = domain_event.mutate(aggregate)
    return aggregate


class Ledger(Application):
    """The event store's side of every use case: load, decide, save."""

    # Loaded on every command about them, a busy opportunity and a month's Period (touched by
    # every booking into it) come from a snapshot, not from all their events.
    snapshotting_intervals: ClassVar[dict[type[Aggregate], int]] = {Opportunity: 50, Period: 50}

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env)
        self._writers = [threading.Lock() for _ in range(64)]
        self._kept: dict[UUID, Any] = {}  # aggregates as last saved here, oldest first (see _keep)
        self._kept_lock = threading.Lock()

    def _take_snapshots(self, processing_event: Any) -> None:
        """Snapshot an aggregate whose save crossed its interval, from the state in hand.

        The library would read the aggregate back from the store at the crossing version; the one
        just saved is that state or a later one, and costs no query.
        """
        if self.snapshots is None:
            return
        aggregates = processing_event.aggregates
        crossed = {}
        for event in processing_event.events:  # once over the events: a batch saves hundreds
            aggregate = aggregates.get(event.originator_id)
            interval = self.snapshotting_intervals.get(type(aggregate))
            if interval is not None and event.originator_version % interval == 0:
                crossed[event.originator_id] = aggregate
        for aggregate in crossed.values():
            self.snapshots.put([type(aggregate).Snapshot.take(aggregate)])

    def _claimed(self, claim_id: UUID) -> str | None:
        """The opportunity a source message was recorded on, if it was."""
        try:
            return self.repository.get(claim_id).opportunity_id
        except AggregateNotFoundError:
            return None

    def _update_all(self, aggregate_ids: Sequence[UUID], load: Callable[[UUID], Any],
                    decide: Callable[[Any, bool], Sequence[Aggregate] | None],
                    answer: Callable[[list[Any]], Recorded],
                    answers: bool = True) -> tuple[Recorded, set[UUID]]:
        """The one load-decide-save: load each aggregate (`load` answers None for one that does
        not exist), decide on it (with the other aggregates to save with it), and save every one
        that changed in one transaction, with the command's answer (`answer(loaded)`, see `_saved`).

        Writers in this process take turns per aggregate, taking their locks in one order; a
        save the store refuses (a writer in another process got to one of them first, or an
        aggregate to create exists already) makes us load and decide on all of them again, with
        `decide`'s second argument, `retrying`, true. Answers the command's answer and the ids
        that named no aggregate.
        """
        stripes = sorted({a.int % len(self._writers) for a in aggregate_ids})
        with contextlib.ExitStack() as held:
            for stripe in stripes:
                held.enter_context(self._writers[stripe])
            backoff = Backoff(0.005, 0.2, jitter=True)
            for attempt in range(ATTEMPTS):
                loaded, others, missing = [], [], set()
                for aggregate_id in aggregate_ids:
                    aggregate = self._kept_up_to_date(aggregate_id) or load(aggregate_id)
                    if aggregate is None:
                        missing.add(aggregate_id)
                        continue
                    others += decide(aggregate, attempt > 0) or ()
                    loaded.append(aggregate)
                said = answer(loaded)
                changed = [a for a in loaded if a.pending_events] + list(others)
                try:
                    recorded = (self._saved(said, *changed, answers=answers) if changed
                                else said.at(self._head()))  # nothing changed
                except IntegrityError:
                    time.sleep(backoff.pause())
                    continue
                for aggregate in loaded:
                    self._keep(aggregate)
                return recorded, missing
        what = (type(loaded[0]).__name__.lower() if len(aggregate_ids) == 1 and loaded
                else f"one of {len(aggregate_ids)} aggregates")
        raise ConcurrencyConflict(f"the {what} kept changing; retry")

    def _allocation(self, allocation_id: str | UUID) -> Allocation:
        aid = values.identifier(allocation_id, "allocation", AllocationNotFound)
        return self._get(aid, Allocation, AllocationNotFound, "allocation_id", allocation_id)

    def _ask(self, ask_id: str | UUID) -> Ask:
        aid = values.identifier(ask_id, "ask", AskNotFound)
        return self._get(aid, Ask, AskNotFound, "ask_id", ask_id)

    def _dispute(self, dispute_id: str | UUID) -> Dispute:
        did = values.identifier(dispute_id, "dispute", DisputeNotFound)
        return self._get(did, Dispute, DisputeNotFound, "dispute_id", dispute_id)

    def _period(self, month: str) -> Period:
        try:
            return self.repository.get(Period.create_id(month), projector_func=replayed)
        except AggregateNotFoundError:
            return Period(month=month)

    def _created(self, created: type) -> list[UUID]:
        """The ids of every aggregate whose first event is of this class, oldest first."""
        topic = f"{created.__module__}:{created.__qualname__}"
        ids, start = [], 1
        while True:
            batch = self.recorder.select_notifications(start, 500, topics=[topic])
            ids += [n.originator_id for n in batch]
            if len(batch) < 500:
                return ids
            start = batch[-1].id + 1

    def _account_id(self, account_id: str) -> UUID:
        return Account.create_id(str(account_id))

    def _account(self, account_id: str | UUID) -> Account:
        aid = account_id if isinstance(account_id, UUID) else self._account_id(account_id)
        return self._get(aid, Account, AccountNotFound, "account_id", account_id)

    def _task(self, task_id: str | UUID) -> Task:
        tid = values.identifier(task_id, "task", TaskNotFound)
        return self._get(tid, Task, TaskNotFound, "task_id", task_id)

    def _request(self, request_id: str | UUID) -> SupportRequest:
        rid = values.identifier(request_id, "request", RequestNotFound)
        return self._get(rid, SupportRequest, RequestNotFound, "request_id", request_id)

    def _member(self, member_id: str, field_name: str) -> Member:
        return self._get(Member.create_id(str(member_id)), Member, MemberNotFound, field_name,
                         member_id)

    def _opportunity(self, opportunity_id: str | UUID) -> Opportunity:
        oid = values.identifier(opportunity_id, "opportunity", OpportunityNotFound)
        return self._get(oid, Opportunity, OpportunityNotFound, "opportunity_id", opportunity_id)

    def _found_opportunity(self, opportunity_id: UUID) -> Opportunity | None:
        try:
            return self._opportunity(opportunity_id)
        except OpportunityNotFound:
            return None

    def _get(self, aggregate_id: UUID, cls: type, not_found: type[NotFound], field_name: str,
             given: object) -> Any:
        """The aggregate of that class with that id, or `not_found` naming the field."""
        try:
            aggregate = self.repository.get(aggregate_id, projector_func=replayed)
        except AggregateNotFoundError:
            aggregate = None
        if not isinstance(aggregate, cls):
            raise self._missing(cls, not_found, field_name, given)
        return aggregate

    @staticmethod
    def _missing(cls: type, not_found: type[NotFound], field_name: str, given: object) -> NotFound:
        return not_found(f"no {NAMES.get(cls, cls.__name__.lower())} {given}", field=field_name)

    def _change(self, opportunity_id: str,
                decide: Callable[[Opportunity], Sequence[Aggregate] | None],
                actor: Actor | None = None, answer: Answer | None = None) -> Recorded:
        """Load the opportunity, decide, save it with what `decide` returns, in one transaction;
        to an `actor` who may not see it, it does not exist."""
        oid = values.identifier(opportunity_id, "opportunity", OpportunityNotFound)

        def seen(opportunity: Opportunity) -> Sequence[Aggregate] | None:
            if actor is not None:
                self._require_seen(opportunity, oid, actor, OpportunityNotFound, "opportunity_id", oid)
            return decide(opportunity)

        return self._update(oid, self._opportunity, seen, answer=answer)

    def _update(self, aggregate_id: UUID, load: Callable[[UUID], Any],
                decide: Callable[[Any], Sequence[Aggregate] | None],
                ident: str | None = None, answer: Answer | None = None,
                answers: bool = True) -> Recorded:
        """Load one aggregate (`load` refuses one that does not exist), decide and save, as
        `_update_all`. The command answers `Recorded(ident)`, or what `answer(aggregate)` gives once
        `decide` has run."""
        ident = ident or str(aggregate_id)
        recorded, _ = self._update_all(
            [aggregate_id], load, lambda aggregate, _: decide(aggregate),
            lambda loaded: answer(loaded[0]) if answer else Recorded(ident), answers)
        return recorded

    def _keep(self, aggregate: Any) -> None:
        """Keep an aggregate as it was just saved (or loaded, unchanged) for this process's next
        command on it. Only `_update` hands it out, under the aggregate's writer lock, and takes
        it back after a save: a command that fails leaves nothing half-applied behind."""
        with self._kept_lock:
            self._kept.pop(aggregate.id, None)
            self._kept[aggregate.id] = aggregate
            while len(self._kept) > KEPT_AGGREGATES:
                del self._kept[next(iter(self._kept))]

    def _kept_up_to_date(self, aggregate_id: UUID) -> Any | None:
        """The kept aggregate with whatever was saved after it (by any process), or None.

        One read of the events after its version instead of a snapshot, the events after the
        snapshot and their replay."""
        with self._kept_lock:
            aggregate = self._kept.pop(aggregate_id, None)
        if aggregate is None:
            return None
        try:
            return replayed(aggregate, self.events.get(aggregate_id, gt=aggregate.version))
        except Exception:  # whatever went wrong, a fresh load decides
            log.warning("a kept %s could not be brought up to date; loading it afresh",
                        type(aggregate).__name__, exc_info=True)
            return None

    def _saved(self, answer: Recorded, *aggregates: Any, answers: bool = True) -> Recorded:
        """Save, and answer `answer` at the position of the last event. The answer goes to the
        store with the events, so a store that keeps a keyed request's answer commits it in their
        transaction (storage/answers.py); a save that is not its command's last passes
        `answers=False`."""
        recordings = self.save(*aggregates, answer=answer) if answers else self.save(*aggregates)
        return answer.at(recordings[-1].notification.id)

    def _head(self) -> int:
        return self.recorder.max_notification_id() or 0
