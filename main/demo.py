"""`goldsplit demo`: the whole story (`_story`) on a throwaway embedded (SQLite) store, run through
the Application on a clock the demo moves, then printed from the read models.
"""

from __future__ import annotations

import random
import tempfile
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from pydantic import BaseModel

from books.close import close
from domain.application import Actor
from domain.payables import month_of
from main.services import Services
from main.settings import Settings

TEAM = [  # id, name, department, team
    ("lena", "Lena Zhou", "management", "east"),
    ("alice", "Alice Wang", "sales", "east"),
    ("bob", "Bob Li", "presales", "east"),
    ("carol", "Carol Chen", "delivery", "east"),
    ("dave", "Dave Sun", "finance", "east"),
    ("fiona", "Fiona Ma", "finance", "east"),
    ("erin", "Erin Zhao", "commercial", "east"),
    ("mia", "Mia Huang", "sales", "east"),
    ("noah", "Noah Xu", "sales", "west"),
    ("olga", "Olga Lin", "sales", "west"),
    ("tom", "Tom Gao", "finance", "east"),  # the auditor the web app offers
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

# Two assessments of the next deal: the second after the PoC found a coach and a budget.
FIRST_LOOK = {"decision_maker_stance": "neutral", "coach_inside": "none", "budget_confirmed": "estimated",
              "technical_preference": "open", "competitive_position": "even",
              "executive_relationship": "met"}
AFTER_POC = {**FIRST_LOOK, "decision_maker_stance": "supportive", "coach_inside": "active",
             "budget_confirmed": "approved", "technical_preference": "ours"}

SIGNIN_LINK_SECONDS = 60 * 60
HISTORY = 200           # seeded closed deals for calibration
HISTORY_DAYS = 400      # spread over this many days before today
OPTIMISM = {"mia": 0, "noah": 2, "olga": -1}  # how many levels each rep's answers run high or low


class DemoClock:
    """The application's clock, which the story moves (history first, then today); once the story
    is told (`now` None) it is the real clock, for whoever then works in the web app."""

    def __init__(self) -> None:
        self.now: datetime | None = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now or datetime.now(UTC)


PERSONAS = [  # who the demo's web app offers to sign in as: member id, role, who they are
    ("alice", "member", "a sales rep, the AR of both deals"),
    ("bob", "member", "a presales engineer"),
    ("lena", "lead", "the team's lead"),
    ("fiona", "finance", "finance"),
    ("tom", "auditor", "an auditor"),
]


def run(keep: str | None = None, serve: bool = True, settings: Settings | None = None) -> int:
    """Play the story on a fresh embedded store (in `keep`, or a temporary folder), print it, and
    unless `serve` is False serve the web app on that store until Ctrl-C."""
    if keep:
        return _play(Path(keep), serve, settings or Settings())
    with tempfile.TemporaryDirectory(prefix="goldsplit-demo-") as folder:
        return _play(Path(folder), serve, settings or Settings())


def _play(folder: Path, serve: bool, settings: Settings) -> int:
    settings = settings.model_copy(update={"database_url": f"sqlite:///{folder / 'goldsplit.db'}"})
    clock = DemoClock()
    with Services.build(settings, clock=clock) as services:
        _story(services, clock)
        clock.now = None
        if serve:
            _serve(services, settings)
    return 0


def _serve(services: Services, settings: Settings) -> None:
    """The web app on the story's store, with a sign-in link per persona, until Ctrl-C."""
    import uvicorn

    from main.serve import process, signin_url

    _rule(f"The web app: open a link (each works once, for {SIGNIN_LINK_SECONDS // 60} minutes); Ctrl-C stops")
    for member_id, role, who in PERSONAS:
        code = services.sessions.issue_code(member_id, role, SIGNIN_LINK_SECONDS)
        print(f"{who:<36} {signin_url(settings, code)}")
    uvicorn.run(process(settings, services=services), host=settings.host, port=settings.port,
                log_level="warning", timeout_graceful_shutdown=2)


def _story(services: Services, clock: DemoClock) -> None:
    """A graded account with its team and account-plan tasks; a won deal, from the first visit to
    the split of its bonus pool (redone by hand in the README); the next deal on the same account,
    where sales asks delivery for help that is delivered, rated and rewarded, and two assessments
    by the relationship standard move the win probability; and calibration over a seeded history
    of about 200 closed deals."""
    app = services.app
    today = clock.now.date()
    admin, lead = Actor("admin", "admin"), Actor("lena", "lead")
    alice, finance = Actor("alice", "member"), Actor("fiona", "finance")  # dave, of finance, has a line
    for member_id, name, department, team in TEAM:
        app.register_member(admin, member_id, name, department, team=team)

    _seed_history(services, clock, lead, finance)

    real_now = datetime.now(UTC).replace(microsecond=0)
    won_on = today.replace(day=1) - timedelta(days=1)  # the last day of last month: closable now
    clock.now = real_now - timedelta(days=20)
    app.add_policy(finance, "incentive", {
        **_without_version(app.policies("incentive")[0].document()), "name": "team selling",
        "effective_from": won_on.replace(month=1, day=1).isoformat(), "member_cap": "0.35",
        "holdback": "0.20"})
    account = _account_plan(services, clock, alice)
    clock.now = real_now - timedelta(days=4)
    next_deal = _next_deal(services, clock, alice, account)
    clock.now = datetime.combine(won_on, time(18), UTC)
    won = _won_deal(services, lead, alice, account)
    clock.now = real_now
    paid = _pay_the_team(services, finance, won, won_on)

    position = app.recorder.max_notification_id()
    services.runner.wait_for(position)
    read = services.queries  # as finance reads them: every deal and the books
    _print_account(_shown(read.accounts.board(finance, account)))
    _print_board(_shown(read.boards.board(finance, won.id)))
    _print_allocation(_shown(read.allocations.get(finance, won.allocation_id)))
    _print_explanation(_shown(read.allocations.explain(finance, won.allocation_id, "bob")))
    _print_next_deal(_shown(read.boards.board(finance, next_deal)))
    _print_member(_shown(read.members.board(finance, "carol")))
    for by in ("member", "standard_version"):
        _print_calibration(_shown(read.calibration.by(finance, by)))
    _print_money(paid, services, finance)


def _shown(answer: BaseModel) -> dict:
    """A query's answer as the JSON API gives it."""
    return answer.model_dump(by_alias=True)


def _pay_the_team(services: Services, finance: Actor, won, won_on: date) -> dict:
    """Finance approves the split, books 60 % of the deal as paid, and closes the month by replay."""
    app = services.app
    app.approve_allocation(finance, won.allocation_id)
    app.receive_payment(finance, won.id, amount="2902590.00", currency="CNY",
                        received_on=won_on.isoformat(), payment_id="erp-4711")
    return close(app, services.views, finance, month_of(won_on),
                 catch_up=lambda position: services.runner.wait_for(position, timeout=60))


def _without_version(document: dict) -> dict:
    """A policy document to post again: the book numbers the versions."""
    return {k: v for k, v in document.items() if k != "version"}


def _seed_history(services: Services, clock: DemoClock, lead: Actor, finance: Actor) -> None:
    """About 200 closed deals of three reps over the past year, each assessed before it closed.

    Each deal has a hidden strength; a rep answers the standard's criteria from it, some reps
    too optimistic, and the deal is won with a chance equal to its strength. Half-way through,
    finance recalibrates the standard's score-to-probability mapping (version 2).
    """
    app = services.app
    rng = random.Random(20261126)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=HISTORY_DAYS)
    standard = app.policies("relationship-standard")[0]
    reps = list(OPTIMISM)
    for n in range(HISTORY):
        clock.now = start + timedelta(days=n * HISTORY_DAYS // HISTORY)
        if n == HISTORY // 2:
            app.add_policy(finance, "relationship-standard", {
                **_without_version(standard.document()),
                "name": "recalibrated", "effective_from": clock.now.date().isoformat(),
                "win_probability": [
                    {"from_score": 0, "probability": "0.05"}, {"from_score": 30, "probability": "0.20"},
                    {"from_score": 45, "probability": "0.40"}, {"from_score": 60, "probability": "0.55"},
                    {"from_score": 75, "probability": "0.75"}, {"from_score": 90, "probability": "0.90"}]})
        rep = reps[n % len(reps)]
        strength = rng.random()
        amount = rng.choice(["180000.00", "650000.00", "1400000.00", "3600000.00"])
        opened = app.open_opportunity(
            lead, account_id=f"history-{n % 40:02d}", name=f"Past deal {n + 1}", amount=amount,
            currency="CNY", expected_close=clock.now.date().isoformat())
        app.assign_triangle_role(lead, opened.id, "AR", rep)
        answers = {}
        for name, criterion in standard.criteria.items():
            levels = list(criterion.levels)
            honest = round(strength * (len(levels) - 1))
            answers[name] = levels[max(0, min(len(levels) - 1, honest + OPTIMISM[rep]))]
        app.assess(Actor(rep, "member"), opened.id, answers)
        closed_on = clock.now.date().isoformat()
        if rng.random() < strength:
            app.win(lead, opened.id, closed_on=closed_on)
        else:
            app.lose(lead, opened.id, reason="lost to a competitor", closed_on=closed_on)


def _account_plan(services: Services, clock: DemoClock, alice: Actor) -> str:
    """Northwind is graded, staffed and planned; one task is verified, one done, one overdue."""
    app = services.app
    account = app.register_account(
        alice, account_id="northwind-logistics", name="Northwind Logistics", industry="logistics",
        attributes={"annual_potential": "12000000", "strategic_fit": "high",
                    "relationship_depth": "contact", "share_of_wallet": "0.1"}).id
    app.add_account_team_member(alice, account, "bob", "solution_lead")
    app.add_account_team_member(alice, account, "carol", "delivery_lead")
    app.add_account_team_member(alice, account, "lena", "executive_sponsor")
    day = clock.now.date()
    mapped = app.create_task(alice, account, title="Map the buying centre of the group",
                             assignee="bob", due=(day + timedelta(days=7)).isoformat()).id
    review = app.create_task(alice, account, title="Quarterly service review with the COO",
                             assignee="carol", due=(day + timedelta(days=30)).isoformat()).id
    app.create_task(alice, account, title="Executive dinner with the group CFO",
                    assignee="lena", due=(day + timedelta(days=5)).isoformat())
    app.complete_task(Actor("bob", "member"), mapped, note="Org chart and influence map in the CRM")
    app.reopen_task(alice, mapped, "The procurement director is missing")
    app.complete_task(Actor("bob", "member"), mapped, note="Procurement added")
    app.verify_task(alice, mapped)
    app.complete_task(Actor("carol", "member"), review, note="Minutes sent")
    app.change_account_attributes(alice, account, {"relationship_depth": "trusted",
                                                   "share_of_wallet": "0.25"})
    return account


def _won_deal(services: Services, lead: Actor, alice: Actor, account: str):
    """Phase 2: twenty contributions, one reversed, one unconfirmed, won today."""
    app = services.app
    opened = app.open_opportunity(
        lead, account_id=account, name="Warehouse automation, phase 2",
        amount="4837650.00", currency="CNY",
        expected_close=app.clock().date().isoformat(), grade="A",
        reason="a strategic logistics account",
        attributes={"industry": "logistics", "lighthouse": True})
    oid = opened.id
    app.assign_triangle_role(lead, oid, "AR", "alice")
    app.assign_triangle_role(lead, oid, "SR", "bob")
    app.assign_triangle_role(lead, oid, "FR", "carol")
    app.add_supporter(alice, oid, "dave")
    app.add_supporter(alice, oid, "erin")

    now = app.clock()
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
    return app.win(alice, oid, closed_on=now.date().isoformat())


def _next_deal(services: Services, clock: DemoClock, alice: Actor, account: str) -> str:
    """Phase 3, over the last four days: B by its amount, A once the lead marks it a lighthouse
    reference, with no FR yet; delivery helps on request (and
    is timed); a contract review runs overdue; two assessments."""
    app = services.app
    oid = app.open_opportunity(
        alice, account_id=account, name="Warehouse automation, phase 3", amount="2400000.00",
        currency="CNY", expected_close=(clock.now.date() + timedelta(days=90)).isoformat()).id
    app.assign_triangle_role(alice, oid, "SR", "bob")
    # a lighthouse reference raises the grade (and the pool rate): the lead's call; A requires an FR
    app.correct_opportunity(Actor("lena", "lead"), oid, attributes={"lighthouse": True})
    app.assess(alice, oid, FIRST_LOOK)
    request = app.open_request(
        alice, oid, to_department="delivery", kind="delivery_plan",
        summary="Sizing and a phased plan for the two new sites",
        due=(clock.now.date() + timedelta(days=5)).isoformat()).id
    carol = Actor("carol", "member")
    clock.now += timedelta(hours=3, minutes=30)
    app.accept_request(carol, request)
    clock.now += timedelta(days=2)
    delivered = app.deliver_request(carol, request, summary="Plan for both sites, 14 weeks, three waves",
                                    hours="10", evidence_url="https://crm.example/northwind/plan-3")
    clock.now += timedelta(hours=1)
    app.confirm_contribution(alice, oid, delivered.contribution_id)  # the AR, not carol
    app.rate_request(alice, request, 4, comment="Solid; the wave plan convinced the COO")
    late = app.open_request(alice, oid, to_member="erin", kind="contract_review",
                            summary="Review the customer's framework amendments",
                            due=clock.now.date().isoformat()).id
    clock.now += timedelta(minutes=45)
    app.accept_request(Actor("erin", "member"), late)
    app.assess(alice, oid, AFTER_POC)
    return oid


def _rule(title: str) -> None:
    print(f"\n{title}\n{'=' * len(title)}")


def _print_account(board: dict) -> None:
    _rule(f"Account: {board['name']} ({board['account_id']}), grade {board['grade']}")
    for change in board["grade_history"]:
        print(f"  grade {change['grade']} (score {change['score']}) - {change['reason']}, "
              f"policy v{change['policy']['version']}")
    print("Team: " + ", ".join(f"{m} {role}" for m, role in board["team"].items()))
    print(f"\n{'task':<40} {'assignee':<8} {'due':<10} {'status':<9} overdue")
    for task in board["tasks"]:
        print(f"{task['title'][:40]:<40} {task['assignee'] or '-':<8} {task['due']:<10} {task['status']:<9} "
              f"{'OVERDUE' if task['overdue'] else '-'}")
    print("\nOpportunities: " + "; ".join(
        f"{o['name']} ({o['grade']}, {o['stage']})" for o in board["opportunities"]))


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


def _print_next_deal(board: dict) -> None:
    _rule(f"Board: {board['name']}, grade {board['grade']}, {board['stage']}")
    print("Triangle: " + ", ".join(f"{r} {board['triangle'][r] or '-'}" for r in ("AR", "SR", "FR"))
          + f"; supporters: {', '.join(board['supporters']) or '-'}")
    for warning in board["warnings"]:
        print(f"WARNING: {warning['message']}")
    print("\nSupport requests:")
    for r in board["requests"]:
        to = r["to_member"] or f"department {r['to_department']}"
        print(f"  {r['kind']:<16} to {to:<20} due {r['due']}  {r['status']:<9} {r['due_state']:<17} "
              f"response {r['response_hours'] or '-'} h, delivery {r['delivery_hours'] or '-'} h"
              + (f", rated {r['rating']}/5" if r.get("rating") else ""))
    print("\nAssessments (relationship standard):")
    for a in board["assessments"]:
        print(f"  score {a['score']:>3} -> win probability {a['win_probability']} "
              f"(standard v{a['standard_version']}, by {a['by']})")
    split = board["projected_split"]
    print(f"\nIf won today: pool {split['pool']['amount']} {split['pool']['currency']}: " + ", ".join(
        f"{line['member_id']} {line['amount']}" for line in split["lines"]))


def _print_member(board: dict) -> None:
    _rule(f"Member board: {board['member_id']}")
    for task in board["tasks"]:
        print(f"  task     {task['title'][:44]:<44} {task['status']:<9} due {task['due']}")
    for r in board["requests_to_me"]:
        print(f"  request  {r['summary'][:44]:<44} {r['status']:<9} due {r['due']}")
    for c in board["contributions"]:
        print(f"  work     {c['kind']:<44} {c['status']:<9} {c['points']} points")
    earned, projected = board["earned"]["totals"], board["projected"]["totals"]
    for status in ("approved", "proposed"):
        print(f"  earned   {status:<9} " + (", ".join(
            f"{amount} {currency}" for currency, amount in earned.get(status, {}).items()) or "-"))
    print("  projected if won today " + (", ".join(
        f"{amount} {currency}" for currency, amount in projected.items()) or "-"))


def _print_calibration(calibration: dict) -> None:
    _rule(f"Calibration by {calibration['by']} (closed deals, last assessment before close)")
    print(f"{'group':<22} {'deals':>5} {'brier':>7}   reliability: predicted/observed per bin")
    for group in calibration["groups"]:
        cells = "  ".join(f"{b['predicted']}/{b['observed']}" for b in group["bins"] if b["count"])
        print(f"{group['key']:<22} {group['count']:>5} {group['brier']:>7}   {cells}")


def _print_money(report: dict, services: Services, finance: Actor) -> None:
    period = report["period"]
    _rule(f"Paying the team: period {period}, approved, 60 % of the deal paid, closed by replay")
    print(f"Replayed {report['events']} events up to position {report['cutoff']}: "
          f"{report['entries']} entries, {', '.join(f'{a} {c}' for c, a in report['totals'].items())}")
    print(f"Audit chain head at the cut-off: {report['chain_head']}")
    read = services.queries
    bob = _shown(read.periods.statement(finance, period, "bob"))
    print("\nbob's statement:")
    for line in bob["lines"]:
        print(f"  {line['kind']:<10} {line['amount']:>12} {line['currency']}  payable from {line['on']}")
    print("  " + ", ".join(f"total {amount} {currency}" for currency, amount in bob["currency_totals"].items()))
    books = _shown(read.periods.journal(finance, period))
    print("\nJournal: " + "; ".join(
        f"{currency}: debit {t['debit']} = credit {t['credit']}" for currency, t in books["totals"].items()))
    checked = _shown(read.audit.verify(finance))
    print(f"Audit chain verified over {checked['checked']} events: {'ok' if checked['ok'] else 'PROBLEMS'}")
