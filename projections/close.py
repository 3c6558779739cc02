"""Period close: prove every payable number by replaying the log, then lock the period.

The replay reads the event log from position 1 to the cut-off (the head when the close starts)
in large batches, rebuilds every aggregate from its events in fresh memory (nothing of the read
models), and at each money event recomputes what it should have booked with the same domain rules:
a proposal's lines by the allocation arithmetic, and every entry as payable-now minus
payable-already. It recomputes the audit chain as it reads. Then it reconciles the period's entries
with the payables read model. Any difference refuses the close and is shown; without one, the
months are closed with the counts, totals per currency and the chain head at the cut-off.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID

from domain.aggregates import Allocation, Dispute, Opportunity, Period, PolicyBook
from domain.application import Actor, Goldsplit
from domain.exceptions import Conflict
from domain.money import format_amount
from domain.payables import as_targets, due, month_of, months_of, split, targets_of, within_pool
from domain.policy import IncentivePolicy, in_force
from projections.audit import GENESIS, digest_of, head_at, link
from projections.payables import PAYABLE, PERIOD
from projections.store import ViewStore

BATCH = 5000
Progress = Callable[[int, int], None]


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
    entries: dict[tuple[str, str], list[dict]] = field(default_factory=dict)  # (month, member)
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
    """Replay positions 1..cutoff into fresh state, recompute, and reconcile the period's months."""
    proof = Proof(period=period, months=months_of(period), cutoff=cutoff)
    closes = _earlier_cutoffs(app, cutoff)
    aggregates: dict[UUID, Any] = {}
    chain = GENESIS
    position = 0
    while position < cutoff:
        batch = app.recorder.select_notifications(position, BATCH, stop=cutoff,
                                                  inclusive_of_start=False)
        if not batch:
            break
        for notification in batch:
            chain = link(chain, digest_of(notification))
            proof.events += 1
            if notification.id in closes:
                proof.heads[notification.id] = chain.hex()
            try:
                event = app.mapper.to_domain_event(notification)
                before = aggregates.get(event.originator_id)
                if isinstance(event, Allocation.Event):
                    _check(proof, event, notification.id, before, aggregates)
                aggregates[event.originator_id] = event.mutate(before)
            except Exception as error:  # a stored event that does not replay is a difference, not a crash
                proof.differences.append({"where": "replay", "position": notification.id,
                                          "detail": f"{type(error).__name__}: {error}"})
        position = batch[-1].id
        if progress:
            progress(position, cutoff)
    proof.chain_head = chain.hex()
    recorded = head_at(store, cutoff)
    if recorded != proof.chain_head:
        proof.differences.append({"where": "audit chain", "position": cutoff,
                                  "replayed": proof.chain_head, "recorded": recorded})
    for found in aggregates.values():  # the heads earlier closes recorded must still hold
        if isinstance(found, Period) and found.closed and found.report.get("chain_head"):
            earlier = proof.heads.get(found.cutoff)
            if earlier is not None and earlier != found.report["chain_head"]:
                proof.differences.append({"where": "audit chain at an earlier close",
                                          "position": found.cutoff, "replayed": earlier,
                                          "recorded": found.report["chain_head"]})
    for month in proof.months:
        found = aggregates.get(Period.create_id(month))
        proof.versions[month] = found.version if found else 0
    _reconcile(proof, store)
    return proof


def close(app: Goldsplit, store: ViewStore, actor: Actor, period: str,
          catch_up: Callable[[int], Any], progress: Progress | None = None) -> dict:
    """Prove the period and lock it, or raise CloseRefused with the differences."""
    app.require_closable(actor, period)
    cutoff = app.recorder.max_notification_id() or 0
    catch_up(cutoff)
    proof = prove(app, store, period, cutoff, progress)
    if proof.differences:
        raise CloseRefused(f"the replay differs from the books in {len(proof.differences)} place(s); "
                           "the period stays open", proof.differences)
    report = proof.report()
    closed = app.close_period(actor, period, cutoff=cutoff, report=report, versions=proof.versions)
    return {**report, "position": closed.position}


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

def _check(proof: Proof, event: Any, position: int, before: Allocation | None,
           aggregates: dict[UUID, Any]) -> None:
    """Recompute what one allocation event should say from the facts replayed before it."""
    opportunity: Opportunity | None = aggregates.get(
        event.opportunity_id if isinstance(event, Allocation.Proposed) else getattr(
            before, "opportunity_id", None))
    if opportunity is None:
        proof.differences.append({"where": "allocation", "position": position,
                                  "detail": "no opportunity (or no proposal) before this allocation event"})
        return
    if isinstance(event, Allocation.Proposed):
        book = aggregates.get(PolicyBook.create_id("incentive"))
        then = in_force(book.versions(), date.fromisoformat(opportunity.closed_on)) if book else None
        _compare(proof, position, "policy in force on the close date",
                 then.reference() if then else None, {k: event.policy.get(k) for k in ("name", "version", "hash")})
        expected = split(opportunity, IncentivePolicy.from_stored(event.policy))
        _compare(proof, position, "proposed lines", _lines(expected), _lines(event.result))
        return
    policy = IncentivePolicy.from_stored(before.policy)
    targets = before.targets
    if isinstance(event, Allocation.Adjusted):
        result = None if opportunity.stage == "cancelled" else split(opportunity, policy)
        overrides = dict(before.overrides)
        if event.cause.startswith("dispute:"):  # only an upheld dispute adds an upheld amount
            dispute = aggregates.get(_uuid(event.cause.partition(":")[2]))
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
        _check_entry(proof, entry, position, before.currency, kinds, getattr(event, "at", ""), aggregates)
        if entry["period"] in proof.months:
            proof.entries.setdefault((entry["period"], entry["member_id"]), []).append(
                {**entry, "position": position})


def _check_entry(proof: Proof, entry: dict, position: int, currency: str, kinds: tuple[str, ...],
                 at: str, aggregates: dict[UUID, Any]) -> None:
    """An entry's currency, kind and month are what the rules give."""
    wrong = []
    if entry["currency"] != currency:
        wrong.append(f"currency {entry['currency']} (the deal's is {currency})")
    if entry["kind"] not in kinds or (entry["kind"] != "adjustment" and entry["pays"] != entry["kind"]):
        wrong.append(f"kind {entry['kind']} paying {entry['pays']}")
    month = month_of(date.fromisoformat(entry["on"]))
    was = aggregates.get(Period.create_id(month))
    expected = month_of(date.fromisoformat(at[:10])) if was is not None and was.closed and at else month
    if entry["period"] != expected:
        wrong.append(f"period {entry['period']} (the rules give {expected})")
    if wrong:
        proof.differences.append({"where": "entry", "position": position, "entry_id": entry["entry_id"],
                                  "member_id": entry["member_id"], "detail": "; ".join(wrong)})


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
    shown: dict[tuple[str, str], dict[str, int]] = {}
    for key, doc in store.all(PAYABLE).items():
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
