"""(b) at full size: `books.close.prove` over a log of a million events, next to the raw
read-and-deserialize rate of the same log, measured in the same run. How the log is built, and
what of it is synthetic: `bench_replay`.

  GOLDSPLIT_BENCH_REPLAY_EVENTS   events in the log (default 1,000,000)
  GOLDSPLIT_BENCH_REPLAY_DEALS    deals in the template written through the Application (default 240)
"""

from __future__ import annotations

import json
import os
import random
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4, uuid5

import psycopg

from bench.run import ADMIN, FINANCE, LEAD, SECRET, fresh_database, raw_read_rate, record, say
from books.close import prove
from domain.application import Actor
from domain.payables import entry_id
from domain.policy import DEFAULT_INCENTIVE_DOCUMENT
from main.services import Services
from main.settings import Settings
from projections.audit import AuditChainProjection
from projections.payables import PayablesProjection
from projections.runner import ProjectionRunner

EVENTS = int(os.environ.get("GOLDSPLIT_BENCH_REPLAY_EVENTS", "1000000"))
TEMPLATE_DEALS = int(os.environ.get("GOLDSPLIT_BENCH_REPLAY_DEALS", "240"))
TARGET = 50_000
PROJECTION_BATCH = 50_000  # the payables documents grow with the log; small batches rewrite them often

SALES = ["ava", "ben", "cai", "dan", "eli", "fay", "gus", "hana", "ivo", "jun"]
PRESALES = ["kai", "lea", "max", "nia", "oli", "pia"]
DELIVERY = ["quinn", "ray", "sol", "tia"]
SUPPORT = ["uma", "vic", "wen"]
KINDS = [k for k in DEFAULT_INCENTIVE_DOCUMENT["kind_weights"] if k != "support_delivered"]  # by requests
CLONED = ("Opportunity", "Allocation", "Dispute", "SupportRequest")  # one deal's aggregates
BOOKED = "domain.aggregates:Period.Booked"
UUID_TOKEN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
                        r"|(?<=\"_type_\":\"uuid_hex\",\"_data_\":\")[0-9a-f]{32}(?=\")")
DERIVED_NAMES = ("allocation", "delivered")  # uuid5(parent, name) ids the Application derives


# -- the template, through the Application -----------------------------------------------------

def last_quarter(today: date) -> tuple[str, date, date]:
    """The last full calendar quarter before `today`: its name, first and last day."""
    first_of_this = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    end = first_of_this - timedelta(days=1)
    start = date(end.year, end.month - 2, 1)
    return f"{end.year}-Q{(end.month - 1) // 3 + 1}", start, end


def write_template(services: Services, deals: int, start: date, end: date) -> None:
    """Members, accounts, a policy version, and `deals` deals with their whole money story.

    The policy has a holdback and a member cap. Per deal: a triangle and sometimes a supporter,
    contributions of every kind, most confirmed and a few reversed, support requests delivered,
    then won, lost or left open; won deals approved and paid in one or two payments, some with a
    contribution reversed after approval or a dispute upheld or rejected. About seven deals in ten
    are won, two stay open and one is lost (the close replays only deals with an allocation), and
    contributions and their confirmations are nearly three events in four.
    """
    app = services.app
    app.add_policy(FINANCE, "incentive", {**DEFAULT_INCENTIVE_DOCUMENT, "effective_from": start.isoformat(),
                                          "holdback": "0.25", "member_cap": "0.6"})
    departments = {"lena": "management", "dave": "finance", **dict.fromkeys(SALES, "sales"),
                   **dict.fromkeys(PRESALES, "presales"), **dict.fromkeys(DELIVERY, "delivery"),
                   **dict.fromkeys(SUPPORT, "rnd")}
    for member, department in departments.items():
        app.register_member(ADMIN, member, member.title(), department)
    for n in range(24):
        app.register_account(LEAD, name=f"Account {n}", industry="manufacturing", account_id=f"acct-{n}")
    days = (end - start).days

    def one_deal(index: int) -> None:
        rng = random.Random(index)
        currency = "USD" if index % 7 == 3 else "CNY"
        amount = rng.choice([250_000, 800_000, 1_500_000, 4_000_000, 12_000_000]) + rng.randrange(100) * 1000
        won_on = start + timedelta(days=rng.randrange(days - 5))
        oid = app.open_opportunity(LEAD, account_id=f"acct-{index % 24}", name=f"Deal {index}",
                                   amount=f"{amount}.00", currency=currency,
                                   expected_close=end.isoformat()).id
        team = {"AR": rng.choice(SALES)}
        app.assign_triangle_role(LEAD, oid, "AR", team["AR"])
        for role, pool, chance in (("SR", PRESALES, 0.8), ("FR", DELIVERY, 0.5)):
            if rng.random() < chance:
                team[role] = rng.choice(pool)
                app.assign_triangle_role(LEAD, oid, role, team[role])
        members = list(team.values())
        if rng.random() < 0.3:
            supporter = rng.choice(SUPPORT)
            app.add_supporter(LEAD, oid, supporter)
            members.append(supporter)
        contributions = []
        for n in range(rng.randint(6, 30)):
            member = rng.choice(members)
            occurred = datetime.combine(start + timedelta(days=rng.randrange((won_on - start).days + 1)),
                                        datetime.min.time(), UTC) + timedelta(hours=rng.randrange(8, 19))
            cid = app.record_contribution(LEAD, oid, member_id=member, kind=rng.choice(KINDS),
                                          summary=f"{member} on deal {index}, #{n}", hours=str(rng.randint(1, 9)),
                                          occurred_at=occurred.isoformat()).id
            roll = rng.random()
            if roll < 0.9:
                app.confirm_contribution(LEAD, oid, cid)
                contributions.append(cid)
            elif roll < 0.95:
                app.reverse_contribution(LEAD, oid, cid, "entered on the wrong deal")
        if rng.random() < 0.2:
            asker = Actor(team["AR"], "member")
            request = app.open_request(asker, oid, kind="demo", summary="Help with the demo",
                                       due=end.isoformat(), to_member=rng.choice(SUPPORT)).id
            app.accept_request(LEAD, request)
            app.deliver_request(LEAD, request, summary="Demo given", hours="3")
        outcome = rng.random()
        if outcome < 0.2:
            return  # stays open
        if outcome < 0.3:
            app.lose(LEAD, oid, reason="lost on price", closed_on=won_on.isoformat())
            return
        aid = app.win(LEAD, oid, closed_on=won_on.isoformat(),  # dated back: a lead's call
                      reason="the date the contract was signed").allocation_id
        paid_on = won_on + timedelta(days=rng.randrange((end - won_on).days + 1))
        if rng.random() < 0.2:  # cash before approval: the approval releases it
            app.receive_payment(FINANCE, oid, amount=f"{amount // 3}.00", currency=currency,
                                received_on=paid_on.isoformat())
            amount -= amount // 3
        if rng.random() < 0.1:
            return  # won, not approved yet
        app.approve_allocation(FINANCE, aid)
        roll = rng.random()
        if roll < 0.08 and contributions:
            app.reverse_contribution(LEAD, oid, rng.choice(contributions), "not on this deal after all")
        elif roll < 0.14:
            lines = app.repository.get(UUID(aid)).targets
            member = sorted(lines)[0]
            dispute = app.raise_dispute(Actor(member, "member"), aid, member_id=member,
                                        reason="my demo was not counted").id
            if roll < 0.11:
                corrected = sum(lines[member].values()) * 9 // 10
                app.resolve_dispute(FINANCE, dispute, decision="uphold", reason="it was",
                                    corrected_amount=f"{corrected // 100}.{corrected % 100:02d}")
            else:
                app.resolve_dispute(FINANCE, dispute, decision="reject", reason="it was counted")
        first = amount // 2 if rng.random() < 0.5 else amount
        app.receive_payment(FINANCE, oid, amount=f"{first}.00", currency=currency,
                            received_on=paid_on.isoformat())
        if first < amount:
            app.receive_payment(FINANCE, oid, amount=f"{amount - first}.00", currency=currency,
                                received_on=(paid_on + timedelta(days=(end - paid_on).days // 2)).isoformat())

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one_deal, range(deals)))


# -- the copies --------------------------------------------------------------------------------

@dataclass
class Template:
    """The template log, ready to be copied: each event with its state as a format string whose
    `%s` slots are the ids it holds."""

    rows: list[tuple[UUID, int, str, str, tuple[tuple[UUID, bool], ...]]]  # id, version, topic, fmt, slots
    fresh: list[UUID]  # random ids: each copy draws new ones
    derived: dict[UUID, tuple[UUID, str]]  # id -> (parent id, name): uuid5(parent, name)
    entries: dict[UUID, tuple[UUID, str, str]]  # entry id -> (allocation id, cause, "member:kind:pays")
    versions: dict[UUID, int]  # each shared aggregate's last version in the template (Periods')
    count: int  # events of the template log


def read_template(url: str, table: str) -> Template:
    """The template log as stored; which ids are random and which derived from which."""
    with psycopg.connect(url) as conn:
        stored = conn.execute(f"SELECT originator_id, originator_version, topic, state FROM {table} "
                              "ORDER BY notification_id").fetchall()
    last_version: dict[UUID, int] = {}
    for originator, version, _, _ in stored:
        last_version[originator] = max(version, last_version.get(originator, 0))
    cloned = {row[0] for row in stored if _aggregate(row[2]) in CLONED}
    derived = {uuid5(parent, name): (parent, name) for parent in cloned
               for name in (*DERIVED_NAMES, *map(str, range(1, last_version[parent] + 1)))}
    entries: dict[UUID, tuple[UUID, str, str]] = {}
    rows = []
    tokens: set[UUID] = set()
    for originator, version, topic, state in stored:
        text = bytes(state).decode()
        if topic.startswith("domain.aggregates:Allocation."):
            for entry in json.loads(text).get("entries", []):
                kind = f"{entry['kind']}:{entry['pays']}"
                if entry_id(originator, entry["cause"], entry["member_id"], kind) != entry["entry_id"]:
                    raise RuntimeError(f"entry {entry['entry_id']} is not derived as bench.replay derives it")
                entries[UUID(entry["entry_id"])] = (originator, entry["cause"], f"{entry['member_id']}:{kind}")
        if _aggregate(topic) not in CLONED and topic != BOOKED:
            continue
        slots = tuple((UUID(m.group()), "-" not in m.group()) for m in UUID_TOKEN.finditer(text))
        tokens |= {token for token, _ in slots}
        rows.append((originator, version, topic, UUID_TOKEN.sub("%s", text.replace("%", "%%")), slots))
    shared = set(last_version) - cloned
    if tokens & shared:  # a deal's state naming a Period, a Member...: a copy must keep it, not rename it
        raise RuntimeError(f"the template's deals name shared aggregates: {sorted(tokens & shared)[:3]}")
    fresh = sorted((cloned | tokens) - set(derived) - set(entries))
    unknown = [token for token in fresh if token.version != 4]
    if unknown:  # an id derived in a way this copier does not know would stay random in the copies
        raise RuntimeError(f"ids of unknown derivation in the template: {unknown[:3]}")
    return Template(rows=rows, fresh=fresh, derived=derived, entries=entries,
                    versions={o: v for o, v in last_version.items() if o in shared}, count=len(stored))


class _Renaming:
    """One copy's ids: fresh random ones for the template's random ids, the rest derived again."""

    def __init__(self, template: Template) -> None:
        self.template = template
        self.new: dict[UUID, UUID] = {token: uuid4() for token in template.fresh}

    def __call__(self, token: UUID) -> UUID:
        found = self.new.get(token)
        if found is None:
            if token in self.template.derived:
                parent, name = self.template.derived[token]
                found = uuid5(self(parent), name)
            else:  # a payable entry: uuid5(allocation, "cause:member:kind:pays"), its cause renamed
                allocation, cause, member_kind = self.template.entries[token]
                cause = UUID_TOKEN.sub(lambda m: str(self(UUID(m.group()))), cause)
                found = uuid5(self(allocation), f"{cause}:{member_kind}")
            self.new[token] = found
        return found


def copies(template: Template, events: int) -> Iterator[tuple[str, int, str, bytes]]:
    """`events` stored events: whole copies of the template's deals, the last one cut short.

    A copy is every event of the template's Opportunity, Allocation, Dispute and SupportRequest
    aggregates, in the template's order (its interleaving of deals kept; the copies follow one
    another), with the same topics, versions and timestamps, and every id in the stored states
    rewritten consistently (`_Renaming`): a random id (opportunity, contribution, payment, dispute,
    request) becomes a fresh one, and an id derived from another (an allocation's from its
    opportunity's, a contribution's event id from its opportunity's id and version, a delivered
    request's contribution from the request, a payable entry's from its allocation, cause, member
    and kind) is derived again from the new ids. So a copy is what the Application would have
    stored for the same commands on other deals at the same moments, with the template's numbers.
    Members, Accounts, PolicyBooks and Periods are shared, not copied: a copy's bookings are
    appended to the month's Period as the Application appends them, one Period.Booked each at the
    Period's next version. Snapshots are not copied (the replay reads events only).
    """
    versions = dict(template.versions)
    written = 0
    while written < events:
        renamed = _Renaming(template)
        for originator, version, topic, fmt, slots in template.rows:
            if topic == BOOKED:  # the month's Period is shared: the booking is its next version
                versions[originator] += 1
                originator_id, version = originator, versions[originator]
            else:
                originator_id = renamed(originator)
            state = fmt % tuple(renamed(token).hex if bare else str(renamed(token)) for token, bare in slots)
            yield str(originator_id), version, topic, state.encode()
            written += 1
            if written == events:
                return


def _aggregate(topic: str) -> str:
    return topic.partition(":")[2].partition(".")[0]


def replicate(url: str, table: str, template: Template, events: int) -> int:
    """Append `events` copied events to the log with COPY, in one transaction; how many."""
    written = 0
    with psycopg.connect(url) as conn:
        with conn.cursor().copy(f"COPY {table} (originator_id, originator_version, topic, state) "
                                "FROM STDIN") as copy:
            for row in copies(template, events):
                copy.write_row(row)
                written += 1
        conn.commit()
        conn.autocommit = True
        conn.execute(f"ANALYZE {table}")
    return written


# -- the benchmark -----------------------------------------------------------------------------

def rss_mb(field: str = "VmHWM") -> float:
    """This process's peak (VmHWM) or current (VmRSS) resident memory."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak_rss() -> bool:
    """Reset this process's VmHWM (Linux: writing 5 to clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


def bench_replay() -> None:
    """Build the log, then time prove() of the last full quarter over all of it.

    Writing the whole log through the Application would take far too long, so it is built in
    three steps: a template of TEMPLATE_DEALS deals written through the Application
    (`write_template`), on a clock at the end of the last full quarter, so every entry falls in the
    quarter proved; copies of the template's deals stored with COPY straight into the events table
    up to EVENTS (synthetic: `copies` says what a copy is); and the read models the close
    reconciles with (the audit chain and the payables), projected from the whole log by their own
    projections, not synthesized. prove() must find no difference; the raw baseline is
    `bench.run.raw_read_rate`; peak RSS is the high-water mark during prove() alone (reset just
    before it, where Linux allows).
    """
    say(f"(b) period-close replay over a log of {EVENTS:,} events ({TEMPLATE_DEALS} deals written "
        f"through the Application, the rest copies of them)")
    period, start, end = last_quarter(date.today())
    clock = datetime.combine(end, datetime.min.time(), UTC) + timedelta(hours=20)
    with fresh_database() as url:
        settings = Settings(database_url=url, secret=SECRET, in_process_projections=False)
        with Services.build(settings, clock=lambda: clock) as services:
            app = services.app
            table = app.recorder.events_table_name
            started = time.monotonic()
            write_template(services, TEMPLATE_DEALS, start, end)
            template_seconds = time.monotonic() - started
            template = read_template(url, table)
            say(f"    template: {template.count:,} events through the Application in {template_seconds:.1f} s")
            started = time.monotonic()
            copied = replicate(url, table, template, max(0, EVENTS - template.count))
            copy_seconds = time.monotonic() - started
            cutoff = app.recorder.max_notification_id()
            say(f"    copies: {copied:,} events with COPY in {copy_seconds:.1f} s")
            started = time.monotonic()
            ProjectionRunner(app, services.views, [AuditChainProjection(), PayablesProjection()],
                             batch_size=PROJECTION_BATCH).catch_up()
            project_seconds = time.monotonic() - started
            say(f"    audit chain and payables projected over the log in {project_seconds:.1f} s")
            count, raw = raw_read_rate(url)
            say(f"    raw read + json.loads: {count:,} events, {raw:,.0f} events/s")
            reset, before = reset_peak_rss(), rss_mb("VmRSS")
            started = time.perf_counter()
            proof = prove(app, services.views, period, cutoff)
            elapsed = time.perf_counter() - started
            rss = rss_mb()
            rate = proof.events / elapsed
            entries = sum(len(e) for e in proof.entries.values())
            say(f"    prove({period}): {proof.events:,} events in {elapsed:.1f} s = {rate:,.0f} events/s, "
                f"{rate / raw:.3f}x raw, {len(proof.differences)} difference(s), {entries:,} entries, "
                f"peak RSS {rss:.0f} MB{'' if reset else ' (of the whole run)'} (the process held "
                f"{before:.0f} MB when it started)")
            if proof.differences:
                say(f"    first difference: {proof.differences[0]}")
            built = template_seconds + copy_seconds + project_seconds
            record("(b) close replay events/s, full size",
                   f"{rate:,.0f}/s = {rate / raw:.3f}x raw ({raw:,.0f}/s) over {proof.events:,} events, "
                   f"{len(proof.differences)} difference(s), peak RSS {rss:.0f} MB (held {before:.0f} MB before); "
                   f"log built in {built:.0f} s "
                   f"({template.count:,} through the Application, the rest copied)",
                   f">= {TARGET:,}/s over 1,000,000", rate >= TARGET and proof.events >= 1_000_000
                   and not proof.differences)


if __name__ == "__main__":
    from bench.run import results

    bench_replay()
    for row in results:
        say(" | ".join(row))
