"""The member board: my tasks, requests to me and from me, my contributions, what I earned and
what I would if my open deals were won today.

One document per member id; requests addressed to a department live on a document of their own,
`department:<dept>`, which the board of each member of that department shows as well. A document
exists once the member is registered; events about someone not registered (a lead who asks for
support, say) make a stub that registration fills in.

What a document holds is bounded, so an event costs the same however long a member's history:
the latest `LATEST` contributions and, per (status, kind), how many there are in all (the board's
points come from those counts and the policy in force when it is read); every open task, request
and dispute and the `LATEST` latest (by when they were created, opened or raised) closed ones.
A contribution's kind and status live on its own small document too, so confirming or reversing
one that is no longer listed still moves the counts.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from domain.aggregates import Dispute, Member, Opportunity, SupportRequest, Task
from domain.grading import OpportunityGradingPolicy
from domain.money import exponent, format_amount
from domain.policy import IncentivePolicy
from projections.accounts import is_overdue
from projections.allocations import line_figures
from projections.base import STATUS_AFTER, Changes, Projection, on_event
from projections.board import OPEN_STATUSES, apply_request, new_request, present_board, present_request

VIEW = "member"
REQUESTS = "member_request"  # request id -> {request, places: [[doc key, list name], ...]}
TASKS = "member_task"  # task id -> {assignee, task}
CONTRIBUTIONS = "member_contribution"  # "<opportunity id>:<contribution id>" -> {member_id, kind, status}
DISPUTES = "member_dispute"  # dispute id -> {member_id}
MEMBER = "member_id"  # the parent a dispute's or a contribution's document names (Changes.link)

LATEST = 100  # contributions listed, and closed tasks, requests and disputes kept, per document
COUNTS = "contribution_counts"  # status -> kind -> how many of the member's contributions

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
    views = (VIEW, REQUESTS, TASKS, CONTRIBUTIONS, DISPUTES)

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
            return _upgraded(found, changes)
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


def _request_closed(request: dict) -> bool:
    return request["status"] not in OPEN_STATUSES


def _latest_closed(items: list[dict], closed: Callable[[dict], bool]) -> list[dict]:
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
            doc[listed] = _latest_closed(doc[listed], _request_closed)
    if "contributions" in doc:
        del doc["contributions"][:-LATEST]
    if "disputes" in doc:
        doc["disputes"] = _latest_closed(doc["disputes"], lambda d: d["status"] != "open")
    if "tasks" in doc:
        kept = _latest_closed(list(doc["tasks"].values()), lambda t: t["status"] == "verified")
        if len(kept) < len(doc["tasks"]):
            doc["tasks"] = {t["task_id"]: t for t in kept}


def _upgraded(doc: dict, changes: Changes | None = None) -> dict:
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


def _minor(amount: str, currency: str) -> int:
    """A decimal string of `currency` back to integer minor units, exactly."""
    return int(Decimal(amount).scaleb(exponent(currency)))


def present_member_board(doc: dict, *, today: date, position: int, policy: IncentivePolicy,
                         board_of: Callable[[str], dict | None],
                         allocation_of: Callable[[str], dict | None],
                         department_doc: dict | None = None,
                         grading: OpportunityGradingPolicy | None = None) -> dict:
    """The member board as clients read it, as of `today`.

    Tasks (a list, soonest due first) are flagged overdue; requests carry their due state and
    measured times, and the requests to the member's department are merged into `requests_to_me`
    with `via_department`. Tasks, requests and disputes are every open one and the `LATEST`
    latest closed ones (a verified task, a declined, delivered or rated request, a resolved
    dispute). `contributions` are the latest `LATEST` of `contributions_total`, each with its
    points by `policy` (reversed: 0); `points` counts them all, confirmed and pending, by
    `policy`. `list_limits` says how many of each are kept.
    `earned` lists the allocations of won deals the member has a line in (`allocation_of(opportunity_id)`
    gives the allocation document), each with its current amount and what is paid, totals per
    allocation status and currency; `projected` their line of the split if each open deal they
    are on were won today (`board_of(opportunity_id)` gives the board document; `grading` grades
    it), totals per currency. The two are never added up (`projected_earnings` is `projected`).
    """
    doc = _upgraded(doc)
    member_id = doc["member_id"]
    tasks = sorted(({**t, "overdue": is_overdue(t, today)} for t in doc.get("tasks", {}).values()),
                   key=lambda t: (t["due"], t["task_id"]))
    to_me = [{**present_request(r, today), "via_department": r.get("to_department")}
             for r in doc.get(TO_ME, [])]
    mine = {r["id"] for r in to_me}
    if department_doc is not None:
        to_me += [{**present_request(r, today), "via_department": r.get("to_department")}
                  for r in department_doc.get(TO_ME, []) if r["id"] not in mine]
    to_me.sort(key=lambda r: r["position"])
    to_me = _latest_closed(to_me, _request_closed)  # each document keeps its latest: so do both
    from_me = [present_request(r, today) for r in doc.get(FROM_ME, [])]
    weights = policy.kind_weights
    contributions = [{**c, "points": 0 if c["status"] == "reversed" else weights.get(c["kind"], 0)}
                     for c in doc.get("contributions", [])]
    counts = doc.get(COUNTS, {})

    def points(status: str) -> int:
        return sum(n * weights.get(kind, 0) for kind, n in counts.get(status, {}).items())

    positions = [doc["position"], *([department_doc["position"]] if department_doc else [])]
    earned, projected = _earnings(member_id, doc.get("opportunities", []), today, position, policy,
                                  board_of, allocation_of, grading)
    return {
        **{k: v for k, v in doc.items()
           if k not in ("tasks", TO_ME, FROM_ME, "contributions", COUNTS, "position")},
        "position": max(position, *positions), "changed_at": max(positions),
        "tasks": tasks,
        "overdue_tasks": sum(t["overdue"] for t in tasks),
        TO_ME: to_me,
        FROM_ME: from_me,
        "open_requests_to_me": sum(r["status"] in OPEN_STATUSES for r in to_me),
        "overdue_requests_to_me": sum(r["due_state"] == "overdue" for r in to_me),
        "contributions": contributions,
        "contributions_total": sum(n for kinds in counts.values() for n in kinds.values()),
        "list_limits": {"contributions": LATEST, "closed_tasks": LATEST, "closed_requests": LATEST,
                        "closed_disputes": LATEST},
        "disputes": doc.get("disputes", []),
        "open_disputes": sum(d["status"] == "open" for d in doc.get("disputes", [])),
        "points": {"confirmed": points("confirmed"), "pending": points("recorded")},
        "earned": earned,
        "projected": projected,
        "projected_earnings": projected,
    }


def _add(tally: dict[str, int], currency: str, minor: int) -> None:
    tally[currency] = tally.get(currency, 0) + minor


def _formatted(tally: dict[str, int]) -> dict[str, str]:
    return {c: format_amount(m, c) for c, m in sorted(tally.items())}


def _earnings(member_id: str | None, opportunities: list[str], today: date, position: int,
              policy: IncentivePolicy, board_of: Callable[[str], dict | None],
              allocation_of: Callable[[str], dict | None],
              grading: OpportunityGradingPolicy | None) -> tuple[dict, dict]:
    """(earned, projected): the member's lines of won deals' allocations, and of the open deals'
    splits if won today; lost deals show in neither, a cancelled one earns 0."""
    earned: list[dict] = []
    by_status: dict[str, dict[str, int]] = {"proposed": {}, "approved": {}}
    paid: dict[str, int] = {}
    projected: list[dict] = []
    projected_totals: dict[str, int] = {}
    for oid in opportunities:
        board = board_of(oid)
        if board is None or board["stage"] == "lost":
            continue
        if board["stage"] == "open":
            split = present_board(board, policy, today, position, only_member=member_id,
                                  grading=grading)["projected_split"]
            currency = board["currency"]
            minor = _minor(split["lines"][0]["amount"], currency) if split["lines"] else 0
            projected.append({"opportunity_id": oid, "name": board["name"], "stage": "open",
                              "currency": currency, "basis": "projected_split",
                              "grade": split["grade"], "amount": format_amount(minor, currency)})
            _add(projected_totals, currency, minor)
            continue
        allocation = allocation_of(oid)
        figures = None if allocation is None else line_figures(allocation, member_id or "")
        if figures is None:
            continue
        currency = allocation["currency"]
        cancelled = bool(allocation.get("cancelled"))
        earned.append({
            "opportunity_id": oid, "name": board["name"],
            "stage": "cancelled" if cancelled else board["stage"], "currency": currency,
            "allocation_id": allocation["id"], "allocation_status": allocation["status"],
            "amount": format_amount(figures["amount"], currency),
            "approved": None if figures["approved"] is None else format_amount(figures["approved"],
                                                                               currency),
            "current": format_amount(figures["current"], currency),
            "paid": format_amount(figures["paid"], currency)})
        _add(by_status.setdefault(allocation["status"], {}), currency, figures["current"])
        _add(paid, currency, figures["paid"])
    return ({"allocations": earned,
             "totals": {status: _formatted(tally) for status, tally in by_status.items()},
             "paid_totals": _formatted(paid)},
            {"as_of": today.isoformat(), "opportunities": projected,
             "totals": _formatted(projected_totals)})
