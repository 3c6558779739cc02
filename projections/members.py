"""The member board: my tasks, requests to me and from me, my contributions and my deals, one
document per member (and one per department for the requests addressed to it).

A document is bounded, so an event costs the same however long a member's history: the latest
`LATEST` contributions with counts per (status, kind) of all of them, every open task, request and
dispute, and the `LATEST` latest closed ones. queries/members.py reads the documents.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from domain.aggregates import Allocation, Dispute, Member, Opportunity, SupportRequest, Task
from projections.base import STATUS_AFTER, Changes, Projection, on_event
from projections.board import OPEN_STATUSES, apply_request, new_request

VIEW = "member"
REQUESTS = "member_request"  # request id -> {request, places: [[doc key, list name], ...]}
TASKS = "member_task"  # task id -> {assignee, task}
CONTRIBUTIONS = "member_contribution"  # "<opportunity id>:<contribution id>" -> {member_id, kind, status}
DISPUTES = "member_dispute"  # dispute id -> {member_id}
MEMBER = "member_id"  # the parent a dispute's or a contribution's document names (Changes.link)

LATEST = 100  # contributions listed, and closed tasks, requests and disputes kept, per document
COUNTS = "contribution_counts"  # status -> kind -> how many of the member's contributions
ROWS = "member_row"  # member id -> what the directory shows and filters on (queries/lists.py)
ROW_FIELDS = ("member_id", "registered", "name", "department", "team")

FROM_ME, TO_ME = "requests_from_me", "requests_to_me"


def department_key(department: str) -> str:
    return f"department:{department}"


def _member(member_id: str) -> dict:
    return {"member_id": member_id, "registered": False, "name": None, "department": None,
            "team": None, "tasks": {}, FROM_ME: [], TO_ME: [], "opportunities": [],
            "contributions": [], COUNTS: {}, "position": 0}


def _department(key: str) -> dict:
    return {"member_id": None, "department": key.split(":", 1)[1], TO_ME: [], "position": 0}


class MemberBoardProjection(Projection):
    """Keeps one document per member (and per department asked for help) with what their board shows."""

    name = "member_board"
    views = (VIEW, REQUESTS, TASKS, CONTRIBUTIONS, DISPUTES, ROWS)
    rows = {VIEW: (ROWS, lambda key, doc: None if key.startswith("department:")
                   else {name: doc.get(name) for name in ROW_FIELDS})}

    def process(self, event: Any, position: int, changes: Changes) -> None:
        self._on(event, position, changes)

    @on_event
    def _on(self, event: Any, position: int, changes: Changes) -> None:
        """An event no member board shows."""

    @_on.register(Member.Registered)
    def _registered(self, event: Member.Registered, position: int, changes: Changes) -> None:
        doc = self._doc(changes, event.member_id)
        doc.update(registered=True, name=event.name, department=event.department,
                   team=getattr(event, "team", None) or event.department)
        self._put(changes, event.member_id, doc, position)

    @staticmethod
    def _doc(changes: Changes, key: str) -> dict:
        found = changes.get(VIEW, key)
        if found is not None:
            return upgraded(found, changes)
        return _department(key) if key.startswith("department:") else _member(key)

    @staticmethod
    def _put(changes: Changes, key: str, doc: dict, position: int) -> None:
        doc["position"] = position
        _bound(doc)
        changes.put(VIEW, key, doc)

    # -- disputes: mine, and how finance resolved them (open ones show first on my board) --------

    @_on.register(Dispute.Raised)
    def _dispute_raised(self, event: Dispute.Raised, position: int, changes: Changes) -> None:
        dispute_id = str(event.originator_id)
        member = changes.link(DISPUTES, dispute_id, MEMBER, event.member_id)
        doc = self._doc(changes, member)
        doc.setdefault("disputes", []).append({
            "id": dispute_id, "allocation_id": str(event.allocation_id), "reason": event.reason,
            "status": "open", "position": position})
        self._put(changes, member, doc, position)

    @_on.register(Dispute.Rejected)
    @_on.register(Dispute.Upheld)
    def _dispute_resolved(self, event: Dispute.Event, position: int, changes: Changes) -> None:
        dispute_id = str(event.originator_id)
        member = changes.parent(DISPUTES, dispute_id, MEMBER)
        if member is None:
            return
        doc = self._doc(changes, member)
        item = next((d for d in doc.setdefault("disputes", []) if d["id"] == dispute_id), None)
        if item is None:
            return
        item["status"] = STATUS_AFTER[type(event)]
        item["resolution"] = getattr(event, "reason", None)
        self._put(changes, member, doc, position)

    # -- my money: the board reads it from the allocations and payables at query time ------------

    @_on.register(Allocation.Proposed)
    @_on.register(Allocation.Approved)
    @_on.register(Allocation.Released)
    @_on.register(Allocation.Adjusted)
    def _money_moved(self, event: Allocation.Event, position: int, changes: Changes) -> None:
        """An allocation event changes what the board shows of its members' money (their lines,
        what is payable, held and paid), though the board keeps none of it: it moves the position
        of the boards of those it names, so their pages' `member` topic signals."""
        named = {entry["member_id"] for entry in getattr(event, "entries", None) or []}
        named |= set(getattr(event, "targets", None) or {})
        named |= {line["member_id"] for line in (getattr(event, "result", None) or {}).get("lines", [])}
        for member in sorted(named):
            self._put(changes, member, self._doc(changes, member), position)

    # -- opportunities: where I sit and the work I did ----------------------------------------

    @_on.register(Opportunity.TriangleRoleAssigned)
    @_on.register(Opportunity.SupporterAdded)
    def _seated(self, event: Opportunity.Event, position: int, changes: Changes) -> None:
        oid = str(event.originator_id)
        doc = self._doc(changes, event.member_id)
        if oid in doc["opportunities"]:
            return
        doc["opportunities"].append(oid)
        self._put(changes, event.member_id, doc, position)

    @_on.register(Opportunity.ContributionRecorded)
    def _recorded(self, event: Opportunity.ContributionRecorded, position: int, changes: Changes) -> None:
        oid = str(event.originator_id)
        doc = self._doc(changes, event.member_id)
        changes.put(CONTRIBUTIONS, f"{oid}:{event.contribution_id}",
                    {"member_id": event.member_id, "kind": event.kind, "status": "recorded"})
        if oid not in doc["opportunities"]:
            doc["opportunities"].append(oid)
        doc["contributions"].append({
            "opportunity_id": oid, "contribution_id": event.contribution_id, "kind": event.kind,
            "role": event.role, "status": "recorded", "summary": event.summary,
            "hours": event.hours, "occurred_at": event.occurred_at,
            "request_id": getattr(event, "request_id", None), "position": position})
        _count(doc[COUNTS], "recorded", event.kind, +1)
        self._put(changes, event.member_id, doc, position)

    @_on.register(Opportunity.ContributionConfirmed)
    @_on.register(Opportunity.ContributionReversed)
    def _contribution_moved(self, event: Opportunity.Event, position: int, changes: Changes) -> None:
        status = STATUS_AFTER[type(event)]
        oid = str(event.originator_id)
        key = f"{oid}:{event.contribution_id}"
        member = changes.parent(CONTRIBUTIONS, key, MEMBER)
        if member is None:
            return
        doc = self._doc(changes, member)
        known = changes.get(CONTRIBUTIONS, key)  # the upgrade of an older document fills it in
        if known is None or "kind" not in known:
            return
        _count(doc[COUNTS], known["status"], known["kind"], -1)
        _count(doc[COUNTS], status, known["kind"], +1)
        changes.put(CONTRIBUTIONS, key, {**known, "status": status})
        item = next((c for c in doc["contributions"] if c["opportunity_id"] == oid
                     and c["contribution_id"] == event.contribution_id), None)
        if item is not None:
            item["status"] = status
        self._put(changes, member, doc, position)

    # -- tasks: a reassigned task leaves the old assignee's board ------------------------------

    @_on.register(Task.Created)
    def _task_created(self, event: Task.Created, position: int, changes: Changes) -> None:
        task_id = str(event.originator_id)
        self._task_shown(task_id, None, {"assignee": event.assignee, "task": {
            "task_id": task_id, "account_id": event.account_id, "title": event.title,
            "due": event.due, "status": "assigned" if event.assignee else "created",
            "position": position}}, position, changes)

    @_on.register(Task.Assigned)
    def _task_assigned(self, event: Task.Assigned, position: int, changes: Changes) -> None:
        self._task_moved(event, "assigned", position, changes, assignee=event.assignee)

    @_on.register(Task.Completed)
    def _task_completed(self, event: Task.Completed, position: int, changes: Changes) -> None:
        self._task_moved(event, "done", position, changes)

    @_on.register(Task.Verified)
    def _task_verified(self, event: Task.Verified, position: int, changes: Changes) -> None:
        self._task_moved(event, "verified", position, changes)

    @_on.register(Task.Reopened)
    def _task_reopened(self, event: Task.Reopened, position: int, changes: Changes) -> None:
        self._task_moved(event, "assigned", position, changes)

    def _task_moved(self, event: Task.Event, status: str, position: int, changes: Changes,
                    **assignee: str | None) -> None:
        """A task's new status (and, given `assignee`, its new assignee)."""
        task_id = str(event.originator_id)
        known = changes.get(TASKS, task_id)
        if known is None:
            return
        previous = known["assignee"]
        known["task"]["status"] = status
        known.update(assignee)
        self._task_shown(task_id, previous, known, position, changes)

    def _task_shown(self, task_id: str, previous: str | None, known: dict, position: int,
                    changes: Changes) -> None:
        """Keep the task's document and show it on its assignee's board (off the previous one's)."""
        changes.put(TASKS, task_id, known)
        assignee = known["assignee"]
        if previous is not None and previous != assignee:
            doc = self._doc(changes, previous)
            doc["tasks"].pop(task_id, None)
            self._put(changes, previous, doc, position)
        if assignee is not None:
            doc = self._doc(changes, assignee)
            doc["tasks"][task_id] = copy.deepcopy(known["task"])
            self._put(changes, assignee, doc, position)

    # -- support requests: on the requester's, the addressee's and the supporter's boards ------

    @_on.register(SupportRequest.Opened)
    def _request_opened(self, event: SupportRequest.Opened, position: int, changes: Changes) -> None:
        addressee = event.to_member or department_key(event.to_department)
        self._request_shown(str(event.originator_id), {
            "request": new_request(event, position),
            "places": [[event.requested_by, FROM_ME], [addressee, TO_ME]]}, position, changes)

    @_on.register(SupportRequest.Event)
    def _request_moved(self, event: SupportRequest.Event, position: int, changes: Changes) -> None:
        request_id = str(event.originator_id)
        known = changes.get(REQUESTS, request_id)
        if known is None:
            return
        apply_request(known["request"], event, position)
        self._request_shown(request_id, known, position, changes)

    @_on.register(SupportRequest.Accepted)
    def _request_accepted(self, event: SupportRequest.Accepted, position: int, changes: Changes) -> None:
        """The supporter who accepted it sees it on their board too."""
        request_id = str(event.originator_id)
        known = changes.get(REQUESTS, request_id)
        if known is None:
            return
        apply_request(known["request"], event, position)
        supporter = known["request"]["supporter"]
        if [supporter, TO_ME] not in known["places"]:
            known["places"].append([supporter, TO_ME])
        self._request_shown(request_id, known, position, changes)

    def _request_shown(self, request_id: str, known: dict, position: int, changes: Changes) -> None:
        """Keep the request's document and show it, as it now is, in each of its places."""
        changes.put(REQUESTS, request_id, known)
        for key, listed in known["places"]:
            doc = self._doc(changes, key)
            items = doc[listed]
            index = next((i for i, r in enumerate(items) if r["id"] == request_id), None)
            if index is None:  # new here, or closed and dropped as no longer among the latest
                _insert_by_position(items, copy.deepcopy(known["request"]))
            else:
                items[index] = copy.deepcopy(known["request"])
            self._put(changes, key, doc, position)


# -- keeping a document bounded ------------------------------------------------------------------

def _count(counts: dict, status: str, kind: str, change: int) -> None:
    """Move counts[status][kind] by `change`, leaving no zero behind (so every path gives one shape)."""
    kinds = counts.setdefault(status, {})
    kinds[kind] = kinds.get(kind, 0) + change
    if kinds[kind] == 0:
        del kinds[kind]
    if not kinds:
        del counts[status]


def _insert_by_position(items: list[dict], item: dict) -> None:
    index = next((i for i, x in enumerate(items) if x["position"] > item["position"]), len(items))
    items.insert(index, item)


def request_closed(request: dict) -> bool:
    return request["status"] not in OPEN_STATUSES


def latest_closed(items: list[dict], closed: Callable[[dict], bool]) -> list[dict]:
    """`items` in their order, with every open one and only the `LATEST` latest-opened closed ones."""
    ended = [item["position"] for item in items if closed(item)]
    if len(ended) <= LATEST:
        return items
    cut = sorted(ended)[-LATEST]
    return [item for item in items if not closed(item) or item["position"] >= cut]


def _bound(doc: dict) -> None:
    """Drop what a document no longer shows: older contributions, older closed requests, verified
    tasks and resolved disputes. Idempotent, so it runs on every write."""
    for listed in (TO_ME, FROM_ME):
        if listed in doc:
            doc[listed] = latest_closed(doc[listed], request_closed)
    if "contributions" in doc:
        del doc["contributions"][:-LATEST]
    if "disputes" in doc:
        doc["disputes"] = latest_closed(doc["disputes"], lambda d: d["status"] != "open")
    if "tasks" in doc:
        kept = latest_closed(list(doc["tasks"].values()), lambda t: t["status"] == "verified")
        if len(kept) < len(doc["tasks"]):
            doc["tasks"] = {t["task_id"]: t for t in kept}


def upgraded(doc: dict, changes: Changes | None = None) -> dict:
    """A member document as it is now kept. One written before the board kept only the latest
    contributions held every one of them, so their counts come from that list, and (given
    `changes`) each gets its kind and status on its own document; then it is bounded."""
    if doc.get("member_id") is None or COUNTS in doc:
        return doc
    doc = {**doc, COUNTS: {}, "contributions": list(doc.get("contributions", []))}
    for c in doc["contributions"]:
        _count(doc[COUNTS], c["status"], c["kind"], +1)
        if changes is not None:
            changes.put(CONTRIBUTIONS, f"{c['opportunity_id']}:{c['contribution_id']}",
                        {"member_id": doc["member_id"], "kind": c["kind"], "status": c["status"]})
    _bound(doc)
    return doc

