"""`goldsplit demo`: one won deal, from the first visit to the split of its bonus pool.

It plays the story through the Application on a throwaway embedded (SQLite) store, lets the
projections catch up, and prints the board, the allocation and the explanation of one line, so
the numbers can be redone by hand from DESIGN.md §3.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from api.services import Services
from api.settings import Settings
from domain.application import Actor
from projections.allocations import VIEW as ALLOCATIONS
from projections.allocations import explain, present_allocation
from projections.board import VIEW as BOARDS
from projections.board import present_board

TEAM = [  # id, name, department
    ("lena", "Lena Zhou", "management"),
    ("alice", "Alice Wang", "sales"),
    ("bob", "Bob Li", "presales"),
    ("carol", "Carol Chen", "delivery"),
    ("dave", "Dave Sun", "finance"),
    ("erin", "Erin Zhao", "commercial"),
]

# days before the win, member, kind, summary, hours
WORK = [
    (58, "alice", "visit", "First visit: warehouse throughput pains, CIO and COO present", "3"),
    (55, "alice", "visit", "Site walk of the Kunshan distribution centre", "4"),
    (52, "bob", "solution_design", "Target architecture: WMS integration and AGV fleet", "16"),
    (49, "alice", "visit", "Workshop with the logistics director", "3"),
    (47, "bob", "demo", "Live demo of the picking optimiser", "6"),
    (45, "alice", "visit", "Dinner with the COO (duplicate entry)", "2"),
    (42, "carol", "delivery_plan", "Phased roll-out plan over three sites", "12"),
    (40, "bob", "poc", "Four-week proof of concept on one aisle", "60"),
    (33, "carol", "visit", "Operations interview for the delivery plan", "3"),
    (30, "bob", "bid_document", "Technical bid, 140 pages", "24"),
    (29, "alice", "bid_document", "Commercial bid and references", "10"),
    (27, "dave", "pricing_review", "Margin model and payment milestones", "8"),
    (24, "erin", "contract_review", "Framework contract and SLA schedule", "10"),
    (21, "alice", "visit", "Negotiation round one", "4"),
    (18, "dave", "pricing_review", "Second pricing round after the discount ask", "4"),
    (15, "carol", "delivery_plan", "Acceptance criteria per site", "6"),
    (12, "bob", "demo", "Demo for the group CFO", "4"),
    (9, "erin", "contract_review", "Redlines on liability and penalties", "5"),
    (6, "alice", "visit", "Negotiation round two, verbal award", "3"),
    (2, "carol", "visit", "Kick-off preparation with the customer PMO", "2"),
]
REVERSED = 5    # the duplicate dinner entry
UNCONFIRMED = 19  # the last visit is still waiting for the AR


def run(keep: str | None = None) -> int:
    if keep:
        return _play(Path(keep))
    with tempfile.TemporaryDirectory(prefix="goldsplit-demo-") as folder:
        return _play(Path(folder))


def _play(folder: Path) -> int:
    settings = Settings(database_url=f"sqlite:///{folder / 'goldsplit.db'}")
    with Services.build(settings) as services:
        _story(services)
    return 0


def _story(services: Services) -> None:
    app = services.app
    admin, lead = Actor("admin", "admin"), Actor("lena", "lead")
    alice, finance = Actor("alice", "member"), Actor("dave", "finance")
    for member_id, name, department in TEAM:
        app.register_member(admin, member_id, name, department)
    this_year = datetime.now(UTC).date().replace(month=1, day=1)
    app.add_policy(finance, "incentive", {
        **app.policies("incentive")[0].document(), "name": "team selling",
        "effective_from": this_year.isoformat(), "member_cap": "0.35", "holdback": "0.20"})

    opened = app.open_opportunity(
        lead, account_id="northwind-logistics", name="Warehouse automation, phase 2",
        amount="4837650.00", currency="CNY",
        expected_close=datetime.now(UTC).date().isoformat(), grade="A",
        attributes={"industry": "logistics", "strategic": True})
    oid = opened.id
    app.assign_triangle_role(lead, oid, "AR", "alice")
    app.assign_triangle_role(lead, oid, "SR", "bob")
    app.assign_triangle_role(lead, oid, "FR", "carol")
    app.add_supporter(alice, oid, "dave")
    app.add_supporter(alice, oid, "erin")

    now = datetime.now(UTC).replace(microsecond=0)
    ids = []
    for n, (days, member_id, kind, summary, hours) in enumerate(WORK):
        author = Actor(member_id, "member")
        recorded = app.record_contribution(
            author, oid, member_id=member_id, kind=kind, summary=summary, hours=hours,
            occurred_at=(now - timedelta(days=days)).isoformat(),
            evidence_url=f"https://crm.example/northwind/{n + 1}")
        ids.append(recorded.id)
    for n, cid in enumerate(ids):
        if n == REVERSED:
            app.reverse_contribution(alice, oid, cid, "Entered twice: same dinner as the workshop")
        elif n != UNCONFIRMED:  # nobody confirms their own work: the lead confirms the AR's
            app.confirm_contribution(lead if WORK[n][1] == "alice" else alice, oid, cid)

    won = app.win(alice, oid, closed_on=now.date().isoformat())
    services.runner.wait_for(won.position)

    today = app.clock().date()
    board = present_board(services.views.get(BOARDS, oid), app.incentive_policy_in_force(today),
                          today, won.position)
    allocation_doc = services.views.get(ALLOCATIONS, won.extra["allocation_id"])
    allocation = present_allocation(allocation_doc)
    _print_board(board)
    _print_allocation(allocation)
    _print_explanation(explain(allocation_doc, "bob"))


def _rule(title: str) -> None:
    print(f"\n{title}\n{'=' * len(title)}")


def _print_board(board: dict) -> None:
    _rule(f"Board: {board['name']} ({board['account_id']}), grade {board['grade']}, {board['stage']}")
    print(f"Amount {board['amount']['amount']} {board['amount']['currency']}, "
          f"closed on {board['closed_on']}, log position {board['position']}")
    print("Triangle: " + ", ".join(f"{r} {board['triangle'][r]}" for r in ("AR", "SR", "FR"))
          + f"; supporters: {', '.join(board['supporters'])}")
    print(f"\n{'#':>2}  {'member':<6} {'role':<7} {'kind':<16} {'pts':>3}  {'status':<9} summary")
    for n, c in enumerate(board["contributions"], start=1):
        print(f"{n:>2}  {c['member_id']:<6} {c['role']:<7} {c['kind']:<16} {c['points']:>3}  "
              f"{c['status']:<9} {c['summary'][:48]}")
    print("\nConfirmed points by member: "
          + ", ".join(f"{m} {p}" for m, p in board["points_by_member"].items()))


def _print_allocation(allocation: dict) -> None:
    pool = allocation["pool"]
    policy = allocation["policy"]
    _rule(f"Allocation {allocation['id']} ({allocation['status']})")
    print(f"Deal {allocation['deal']['amount']} {pool['currency']} × rate {allocation['rate']} "
          f"(grade {allocation['grade']}) = pool {pool['amount']} {pool['currency']}")
    print(f"Policy {policy['name']} v{policy['version']} {policy['hash'][:23]}…")
    print(f"\n{'member':<8} {'roles':<10} {'points':>6} {'amount':>14} {'upfront':>14} {'held':>10}")
    for line in allocation["lines"]:
        print(f"{line['member_id']:<8} {','.join(line['roles']):<10} {line['points']:>6} "
              f"{line['amount']:>14} {line['upfront']:>14} {line['held']:>10}")
    print(f"{'unallocated':<26} {allocation['unallocated']['amount']:>14}")
    print(f"{'total = pool':<26} {pool['amount']:>14}")


def _print_explanation(explanation: dict) -> None:
    _rule(f"Why {explanation['member_id']} gets {explanation['amount']} {explanation['currency']} "
          f"(amounts below in minor units, {explanation['minor_units_per_unit']} per "
          f"{explanation['currency']})")
    for step in explanation["steps"]:
        print(f"{step['step']}. {step['name']}: {step['formula']}\n   -> {step['value']}")
    print("\nCounted contributions:")
    for c in explanation["contributions"]:
        print(f"  position {c['position']:>3}  {c['kind']:<16} weight {c['weight']}  "
              f"role {c['role']}  event {c['event_id']}")
