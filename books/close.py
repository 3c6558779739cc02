"""Period close: prove every payable number by replaying the log (`prove`), then lock the period
(`close`). Any difference refuses the close and is shown; books/replay.py reads and replays the log.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any
from uuid import UUID

from books.replay import Replay, stored_events
from domain.aggregates import Allocation, Dispute, Opportunity, Period, PolicyBook
from domain.allocation import CountedContribution, allocate
from domain.application import Actor, Goldsplit
from domain.exceptions import Conflict
from domain.money import format_amount
from domain.payables import as_targets, due, month_of, months_of, targets_of, within_pool
from domain.policy import IncentivePolicy, in_force
from projections.audit import GENESIS, event_digest, head_at, link
from projections.payables import PAYABLE, PERIOD
from projections.store import ViewStore

BATCH = 5000
Progress = Callable[[int, int], None]
INCENTIVE = PolicyBook.create_id("incentive")
ENTRY_FIELDS = ("entry_id", "member_id", "amount", "currency", "kind", "pays", "period", "on")  # of an entry


class CloseRefused(Conflict):
    """The replay found a difference; the period stays open. `differences` says where."""

    def __init__(self, detail: str, differences: list[dict]) -> None:
        super().__init__(detail, field="period")
        self.differences = differences


@dataclass
class Proof:
    """What the replay established up to `cutoff`."""

    period: str
    months: list[str]
    cutoff: int
    events: int = 0
    chain_head: str = ""
    entries: dict[tuple[str, str], list[dict]] = field(default_factory=dict)  # (month, member): ENTRY_FIELDS, position
    versions: dict[str, int] = field(default_factory=dict)
    differences: list[dict] = field(default_factory=list)
    heads: dict[int, str] = field(default_factory=dict)  # the chain at earlier closes' cut-offs

    def totals(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for entries in self.entries.values():
            for entry in entries:
                totals[entry["currency"]] = totals.get(entry["currency"], 0) + entry["amount"]
        return totals

    def report(self) -> dict:
        """What the Closed event records (and the API shows)."""
        count = sum(len(e) for e in self.entries.values())
        return {
            "period": self.period, "months": self.months, "cutoff": self.cutoff, "events": self.events,
            "entries": count, "members": sorted({member for _, member in self.entries}),
            "totals": {c: format_amount(m, c) for c, m in sorted(self.totals().items())},
            "chain_head": self.chain_head,
        }


def prove(app: Goldsplit, store: ViewStore, period: str, cutoff: int,
          progress: Progress | None = None) -> Proof:
    """Replay positions 1..cutoff into fresh state, recompute, and reconcile the period's months.

    One pass over the log rebuilds every aggregate a payable number depends on from its events in
    fresh memory (nothing of the read models; `Replay`), and at each money event recomputes what it
    should have booked with the same domain rules (`_Checks`): a proposal's lines by the allocation
    arithmetic, and every entry as payable-now minus payable-already. Every stored event is hashed
    into the audit chain as it is read, though only the events of the aggregates a number depends on
    (allocations, the opportunities they split, disputes, periods, policy books) are replayed. Then
    the period's entries are reconciled with the payables read model (`_reconcile`).
    """
    proof = Proof(period=period, months=months_of(period), cutoff=cutoff)
    closes = _earlier_cutoffs(app, cutoff)
    checks = _Checks(proof)
    chain, count = GENESIS, 0
    with stored_events(app, cutoff, progress) as (events, ends):
        replay = Replay(app, ends, check=checks.allocation_event, differences=proof.differences)
        for position, originator_id, version, topic, state in events:
            chain = link(chain, event_digest(position, originator_id, version, topic, state))
            count += 1
            if position in closes:
                proof.heads[position] = chain.hex()
            replay.apply(position, originator_id, version, topic, state)
    proof.events, proof.chain_head = count, chain.hex()
    recorded = head_at(store, cutoff)
    if recorded != proof.chain_head:
        proof.differences.append({"where": "audit chain", "position": cutoff,
                                  "replayed": proof.chain_head, "recorded": recorded})
    for found in replay.periods():  # the heads earlier closes recorded must still hold
        if found.closed and found.report.get("chain_head"):
            earlier = proof.heads.get(found.cutoff)
            if earlier is not None and earlier != found.report["chain_head"]:
                proof.differences.append({"where": "audit chain at an earlier close",
                                          "position": found.cutoff, "replayed": earlier,
                                          "recorded": found.report["chain_head"]})
    for month in proof.months:
        found = replay.get(Period.create_id(month))
        proof.versions[month] = found.version if found else 0
    _reconcile(proof, store)
    return proof


def close(app: Goldsplit, store: ViewStore, actor: Actor, period: str,
          catch_up: Callable[[int], Any], progress: Progress | None = None) -> dict:
    """Prove the period and lock it, or raise CloseRefused with the differences. The cut-off is the
    head when the close starts; the months are closed with the counts, totals per currency and the
    chain head at the cut-off (`Proof.report`)."""
    app.require_closable(actor, period)
    cutoff = app.recorder.max_notification_id() or 0
    catch_up(cutoff)
    proof = prove(app, store, period, cutoff, progress)
    if proof.differences:
        raise CloseRefused(f"the replay differs from the books in {len(proof.differences)} place(s); "
                           "the period stays open", proof.differences)
    report = proof.report()
    return app.close_period(actor, period, cutoff=cutoff, report=report,
                            versions=proof.versions).document()


def _earlier_cutoffs(app: Goldsplit, cutoff: int) -> set[int]:
    """The cut-offs of the closes recorded so far (their chain heads are checked again)."""
    topic = f"{Period.Closed.__module__}:{Period.Closed.__qualname__}"
    found: set[int] = set()
    position = 0
    while True:
        batch = app.recorder.select_notifications(position, BATCH, stop=cutoff, topics=[topic],
                                                  inclusive_of_start=False)
        found |= {app.mapper.to_domain_event(n).cutoff for n in batch}
        if len(batch) < BATCH:
            return found
        position = batch[-1].id


# -- recomputing each money event from the replayed facts ---------------------------------------

class _Checks:
    """Recomputes each allocation event from the facts replayed before it, into `proof`."""

    def __init__(self, proof: Proof) -> None:
        self.proof = proof
        self._policies: dict[Any, tuple[dict, IncentivePolicy]] = {}  # hash -> (stored, parsed)
        self._book: tuple[int, list[tuple[IncentivePolicy, dict]]] = (-1, [])  # version, (policy, ref)

    def allocation_event(self, event: Any, position: int, before: Allocation | None,
                         get: Callable[[UUID], Any]) -> None:
        """Recompute what one allocation event should say; `get` finds a replayed aggregate."""
        proof = self.proof
        opportunity: Opportunity | None = get(
            event.opportunity_id if isinstance(event, Allocation.Proposed) else getattr(
                before, "opportunity_id", None))
        if opportunity is None:
            proof.differences.append({"where": "allocation", "position": position,
                                      "detail": "no opportunity (or no proposal) before this allocation event"})
            return
        if isinstance(event, Allocation.Proposed):
            then = self._in_force(get(INCENTIVE), date.fromisoformat(opportunity.closed_on))
            _compare(proof, position, "policy in force on the close date", then,
                     {k: event.policy.get(k) for k in ("name", "version", "hash")})
            expected = _split(opportunity, self._policy(event.policy))
            _compare(proof, position, "proposed lines", _lines(expected), _lines(event.result))
            return
        policy = self._policy(before.policy)
        targets = before.targets
        if isinstance(event, Allocation.Adjusted):
            result = None if opportunity.stage == "cancelled" else _split(opportunity, policy)
            overrides = dict(before.overrides)
            if event.cause.startswith("dispute:"):  # only an upheld dispute adds an upheld amount
                dispute = get(_uuid(event.cause.partition(":")[2]))
                if not isinstance(dispute, Dispute) or dispute.status != "upheld":
                    proof.differences.append({"where": "dispute", "position": position,
                                              "detail": f"{event.cause} is not an upheld dispute"})
                else:
                    overrides[dispute.member_id] = dispute.corrected_amount
            if result is not None:
                overrides = within_pool(result, overrides)
            _compare(proof, position, "upheld amounts", overrides, event.overrides)
            targets = targets_of(result, overrides, policy)
            _compare(proof, position, "adjusted targets", targets, event.targets)
            if not before.approved:
                _compare(proof, position, "entries", {}, _booked(event.entries))
                return
        owed = due(as_targets(targets), before.paid, opportunity.cash, opportunity.amount)
        expected = {(m, bucket): amount for m, buckets in owed.items() for bucket, amount in buckets.items()
                    if amount and (bucket == "release" or not isinstance(event, Allocation.Released))}
        _compare(proof, position, "entries", expected, _booked(event.entries))
        kinds = {Allocation.Approved: ("upfront", "release"), Allocation.Released: ("release",),
                 Allocation.Adjusted: ("adjustment",)}[type(event)]
        for entry in event.entries:
            _check_entry(proof, entry, position, before.currency, kinds, getattr(event, "at", ""), get)
            if entry["period"] in proof.months:  # what the report and the reconciliation read of it
                proof.entries.setdefault((entry["period"], entry["member_id"]), []).append(
                    {key: entry[key] for key in ENTRY_FIELDS} | {"position": position})

    def _policy(self, stored: dict) -> IncentivePolicy:
        """IncentivePolicy.from_stored, parsed once per distinct stored policy."""
        key = stored.get("hash")
        found = self._policies.get(key)
        if found is None or found[0] != stored:
            found = self._policies[key] = (stored, IncentivePolicy.from_stored(stored))
        return found[1]

    def _in_force(self, book: PolicyBook | None, on: date) -> dict | None:
        """The reference of the incentive policy in force on `on` (the book's versions parsed once
        per version of the book)."""
        if book is None:
            return None
        if self._book[0] != book.version:
            self._book = (book.version, [(p, p.reference()) for p in book.versions()])
        then = in_force([policy for policy, _ in self._book[1]], on)
        return next((ref for policy, ref in self._book[1] if policy is then), None)


def _split(opportunity: Opportunity, policy: IncentivePolicy) -> dict:
    """The pool and lines domain.payables.split gives, without the explanation of each line that
    split adds for explain (most of its time, and no check reads it)."""
    result = allocate(amount=opportunity.amount, grade=opportunity.grade,
                      closed_on=date.fromisoformat(opportunity.closed_on),
                      contributions=[CountedContribution.from_record(c)
                                     for c in opportunity.contributions.values()],
                      policy=policy)
    return {"pool": result.pool, "lines": [
        {"member_id": line.member_id, "amount": line.amount, "upfront": line.upfront, "held": line.held}
        for line in result.lines]}


def _check_entry(proof: Proof, entry: dict, position: int, currency: str, kinds: tuple[str, ...],
                 at: str, get: Callable[[UUID], Any]) -> None:
    """An entry's currency, kind and month are what the rules give."""
    wrong = []
    if entry["currency"] != currency:
        wrong.append(f"currency {entry['currency']} (the deal's is {currency})")
    if entry["kind"] not in kinds or (entry["kind"] != "adjustment" and entry["pays"] != entry["kind"]):
        wrong.append(f"kind {entry['kind']} paying {entry['pays']}")
    month = month_of(date.fromisoformat(entry["on"]))
    was = get(_period_id(month))
    expected = month_of(date.fromisoformat(at[:10])) if was is not None and was.closed and at else month
    if entry["period"] != expected:
        wrong.append(f"period {entry['period']} (the rules give {expected})")
    if wrong:
        proof.differences.append({"where": "entry", "position": position, "entry_id": entry["entry_id"],
                                  "member_id": entry["member_id"], "detail": "; ".join(wrong)})


@cache
def _period_id(month: str) -> UUID:
    return Period.create_id(month)


def _uuid(text: str) -> UUID | None:
    try:
        return UUID(text)
    except ValueError:
        return None


def _lines(result: dict) -> dict:
    return {line["member_id"]: (line["amount"], line["upfront"], line["held"]) for line in result["lines"]}


def _booked(entries: list[dict]) -> dict:
    booked: dict[tuple[str, str], int] = {}
    for entry in entries:
        key = (entry["member_id"], entry["pays"])
        booked[key] = booked.get(key, 0) + entry["amount"]
    return {k: v for k, v in booked.items() if v}


def _compare(proof: Proof, position: int, what: str, expected: Any, recorded: Any) -> None:
    if expected != recorded:
        proof.differences.append({"where": what, "position": position,
                                  "replayed": _plain(expected), "recorded": _plain(recorded)})


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {":".join(k) if isinstance(k, tuple) else str(k): _plain(v) for k, v in value.items()}
    return list(value) if isinstance(value, tuple) else value


def _reconcile(proof: Proof, store: ViewStore) -> None:
    """The payables read model holds exactly the replayed entries of the period (up to the cut-off)."""
    shown: dict[tuple[str, str], dict[str, tuple]] = {}
    for key, doc in _payables_of(store, proof.months):
        month, _, member = key.partition(":")
        if month not in proof.months:
            continue
        for entry in doc["entries"]:
            if entry.get("position", 0) <= proof.cutoff:
                shown.setdefault((month, member), {})[entry["entry_id"]] = _seen(entry)
    replayed = {key: {e["entry_id"]: _seen(e) for e in entries} for key, entries in proof.entries.items()}
    for key in sorted(set(shown) | set(replayed)):
        if shown.get(key, {}) != replayed.get(key, {}):
            month, member = key
            proof.differences.append({
                "where": "payables read model", "period": month, "member_id": member,
                "replayed": replayed.get(key, {}), "recorded": shown.get(key, {})})
    for month in proof.months:  # the month's summary (what payroll and the journal start from)
        doc = store.get(PERIOD, month) or {"members": [], "totals": {}}
        members = sorted({member for (m, member), entries in proof.entries.items() if m == month and entries})
        totals: dict[str, int] = {}
        for (m, _), entries in proof.entries.items():
            for entry in entries if m == month else ():
                totals[entry["currency"]] = totals.get(entry["currency"], 0) + entry["amount"]
        if not set(members) <= set(doc["members"]) or {c: t for c, t in doc["totals"].items() if t} != {
                c: t for c, t in totals.items() if t}:
            proof.differences.append({"where": "period read model", "period": month,
                                      "replayed": {"members": members, "totals": totals},
                                      "recorded": {"members": doc["members"], "totals": doc["totals"]}})


def _seen(entry: dict) -> tuple:
    """What of an entry the books must show exactly as the replay has it."""
    return (entry["amount"], entry["currency"], entry["kind"], entry["pays"], entry["period"],
            entry["on"])


def _payables_of(store: ViewStore, months: list[str]) -> Iterator[tuple[str, dict]]:
    """The payables documents of these months (keys `<month>:<member>`), one at a time: the view
    holds every month of the books, and one month's documents can be large."""
    for month in months:
        with store.db.transaction() as cur:  # ViewStore reads one key or a whole view
            cur.execute("SELECT key FROM goldsplit_views WHERE view = ? AND key LIKE ? ORDER BY key",
                        (PAYABLE, f"{month}:%"))
            keys = [row[0] for row in cur.fetchall()]
        for key in keys:
            doc = store.get(PAYABLE, key)
            if doc is not None:
                yield key, doc
