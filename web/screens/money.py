"""The money screens (issue 13): a member's statement for a month or a quarter, and for finance,
auditors and admins a period (its months, totals and close reports), its journal and payroll; finance
closes a period from its page and watches the close's progress live.

Each reads through `services.queries.periods`, so a member reads only their own statement (another
member's is the 404 page, as in the API) and a period is a 403 page to anyone who does not read the
books. The downloads are the JSON API's own exports (api/exports.py) of the same answers.

A close replays the whole log, so it runs in a thread of this process (`Closes`: one at a time per
month, its progress kept in memory) while the period page re-fetches `/periods/{period}/progress`
every second; once the close is done the region comes back without its trigger and polling stops.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import ServicesDep, wait_for
from api.errors import Refused, status_of
from api.exports import journal_csv, payroll_csv, statement_csv, statement_xlsx
from api.routers.periods import CSV, UNSAFE_IN_FILENAME, XLSX
from api.schemas import MEMBER
from books.close import CloseRefused, close
from domain.application import MAY, require
from domain.exceptions import DomainError, InvalidInput, MemberNotFound, NotAllowed, NotFound, PeriodClosed
from domain.payables import KINDS, month_of, months_of
from domain.values import EARLIEST
from storage.closes import CloseRuns
from storage.sessions import Session
from web import auth
from web.render import PageRoute, render, templates

router = APIRouter(include_in_schema=False, route_class=PageRoute)
log = logging.getLogger(__name__)

After = Annotated[int | None, Query(ge=0)]
Format = Annotated[str, Query(max_length=8)]
Part = Annotated[str, Query(max_length=8)]
LAST_YEAR = 9999


def _pretty(value: Any) -> str:
    """A difference's replayed or recorded value, as compact JSON."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(", ", ": "))


templates.filters["compact_json"] = _pretty


# -- periods: which, and the ones beside it ------------------------------------------------------

def _period(text: str) -> str:
    """A month (2026-11) or a quarter (2026-Q4), or InvalidInput (a 422 page)."""
    months_of(text)
    return text


def _neighbours(period: str) -> tuple[str | None, str | None]:
    """The period before and the one after, of the same kind (month or quarter), within the years
    a period may have."""
    year = int(period[:4])
    if "Q" in period:
        quarter = int(period[-1])
        before = f"{year}-Q{quarter - 1}" if quarter > 1 else f"{year - 1}-Q4"
        after = f"{year}-Q{quarter + 1}" if quarter < 4 else f"{year + 1}-Q1"
    else:
        month = int(period[5:])
        before = f"{year}-{month - 1:02d}" if month > 1 else f"{year - 1}-12"
        after = f"{year}-{month + 1:02d}" if month < 12 else f"{year + 1}-01"
    return (before if int(before[:4]) >= EARLIEST.year else None,
            after if int(after[:4]) <= LAST_YEAR else None)


def _this_month(services: ServicesDep) -> str:
    return month_of(services.app.clock().date())


def _last_month(services: ServicesDep) -> str:
    today = services.app.clock().date()
    return month_of(date(today.year - 1, 12, 1) if today.month == 1 else date(today.year, today.month - 1, 1))


def _selector(period: str, path: Callable[[str], str]) -> dict:
    before, after = _neighbours(period)
    return {"period": period, "before": before and path(before), "after": after and path(after),
            "before_period": before, "after_period": after}


def _attachment(content: str | bytes, media_type: str, name: str) -> Response:
    """A download, named as the JSON API names the same file."""
    return Response(content, media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="{UNSAFE_IN_FILENAME.sub("_", name)}"'})


def _csv_suffix(format: str, part: str, formats: tuple[str, ...]) -> str:  # noqa: A002
    if format not in formats:
        raise InvalidInput(f"format must be one of {', '.join(formats)}", field="format")
    if part not in ("lines", "totals") or (part == "totals" and format != "csv"):
        raise InvalidInput("part is lines, or totals with format=csv", field="part")
    return "-totals" if part == "totals" else ""


# -- statements ------------------------------------------------------------------------------------

@router.get("/statements")
def statements(services: ServicesDep, session: auth.SignedIn,
               period: Annotated[str | None, Query(max_length=16)] = None,
               member: Annotated[str | None, Query(max_length=64)] = None) -> Response:
    """The period selector's target (and the nav's "My statement"): a member's statement for a
    period, by default my own for this month."""
    chosen = _period(period.strip()) if period and period.strip() else _this_month(services)
    whose = member.strip() if member and member.strip() else session.member_id
    if not re.fullmatch(MEMBER, whose):
        raise MemberNotFound(f"no member {whose[:64]}", field="member_id")
    return RedirectResponse(f"/statements/{chosen}/{quote(whose, safe='')}", status_code=303)


@router.get("/statements/{period}/{member_id}", response_class=HTMLResponse)
def statement(request: Request, period: str, member_id: str, services: ServicesDep, session: auth.SignedIn,
              after: After = None, format: Format = "html", part: Part = "lines") -> Response:  # noqa: A002
    """A member's entries for a month or a quarter, totals per currency and by kind, and the same
    as CSV or XLSX (a member: only their own; finance, auditors and admins: anyone's)."""
    suffix = _csv_suffix(format, part, ("html", "csv", "xlsx"))
    wait_for(services, after)
    shown = services.queries.periods.statement(auth.actor(session), period, member_id)
    if format == "csv":
        return _attachment(statement_csv(shown.model_dump(), part), CSV,
                           f"statement-{member_id}-{period}{suffix}.csv")
    if format == "xlsx":
        return _attachment(statement_xlsx(shown.model_dump()), XLSX, f"statement-{member_id}-{period}.xlsx")
    here = quote(member_id, safe="")
    return render(request, "statement.html", {
        "statement": shown, "kinds": KINDS, "here": f"/statements/{period}/{here}",
        "mine": member_id == session.member_id,
        "choice": _selector(period, lambda p: f"/statements/{p}/{here}")}, session=session,
                  follows=["payables"])


# -- the journal and payroll -----------------------------------------------------------------------

@router.get("/periods")
def periods(services: ServicesDep, session: auth.SignedIn,
            period: Annotated[str | None, Query(max_length=16)] = None,
            page: Annotated[str, Query(max_length=8)] = "period") -> Response:
    """The period selector's target (and the nav's "Periods": last month, the one to close)."""
    require(auth.actor(session), "read the books", "read periods")
    chosen = _period(period.strip()) if period and period.strip() else _last_month(services)
    tail = {"journal": "/journal", "payroll": "/payroll"}.get(page, "")
    return RedirectResponse(f"/periods/{chosen}{tail}", status_code=303)


@router.get("/periods/{period}/journal", response_class=HTMLResponse)
def journal(request: Request, period: str, services: ServicesDep, session: auth.SignedIn,
            after: After = None, format: Format = "html", part: Part = "lines") -> Response:  # noqa: A002
    """Balanced double-entry lines for the period, and the same as CSV (finance, auditors, admins)."""
    return _book(request, period, services, session, after, format, part, "journal",
                 services.queries.periods.journal, journal_csv)


@router.get("/periods/{period}/payroll", response_class=HTMLResponse)
def payroll(request: Request, period: str, services: ServicesDep, session: auth.SignedIn,
            after: After = None, format: Format = "html", part: Part = "lines") -> Response:  # noqa: A002
    """What to pay each member per currency, and the same as CSV (finance, auditors, admins)."""
    return _book(request, period, services, session, after, format, part, "payroll",
                 services.queries.periods.payroll, payroll_csv)


def _book(request: Request, period: str, services: ServicesDep, session: Session, after: int | None,
          format: str, part: str, name: str, read: Callable[[Any, str], Any],  # noqa: A002
          as_csv: Callable[[dict, str], str]) -> Response:
    """A period's journal or payroll: its page (`name`.html), or the same as CSV."""
    suffix = _csv_suffix(format, part, ("html", "csv"))
    wait_for(services, after)
    shown = read(auth.actor(session), period)
    if format == "csv":
        return _attachment(as_csv(shown.model_dump(), part), CSV, f"{name}-{period}{suffix}.csv")
    return render(request, f"{name}.html", {
        name: shown, "choice": _selector(period, lambda p: f"/periods/{p}/{name}")}, session=session,
        follows=["payables"])


# -- closes, seen from every process -------------------------------------------------------------

@dataclass
class CloseRun:
    """One close of a period: how far its replay got, and how it ended."""

    period: str
    months: list[str]
    by: str
    started_at: str
    status: str = "running"  # running | closed | refused | failed
    position: int = 0
    cutoff: int | None = None  # known once the replay starts
    report: dict | None = None  # closed: what the close recorded
    detail: str | None = None  # refused or failed: why
    differences: list[dict] = field(default_factory=list)
    finished_at: str | None = None

    @property
    def running(self) -> bool:
        return self.status == "running"


ALIVE_WITHIN_SECONDS = 15.0  # a running close silent this long was cut off with its process
BEAT_SECONDS = 2.0  # a running close says it is alive this often, and saves its progress
PROGRESS_SECONDS = 0.5  # the replay's progress is saved at most this often
STOPPED = "the process running the close stopped before it ended; the period stays open unless it shows closed"


class Closes:
    """The closes of periods: each runs in a thread of the process that started it and reports its
    progress to the database (storage/closes.py), so that every replica shows the same; one at a
    time for any month."""

    def __init__(self, runs: CloseRuns) -> None:
        self.runs = runs

    def start(self, period: str, by: str,
              work: Callable[[Callable[[int, int], None]], dict]) -> CloseRun | None:
        """Run `work(progress)` in a thread, or answer the running close that shares a month."""
        months = months_of(period)
        run = CloseRun(period, months, by, _now())
        busy = self.runs.start(period, months, asdict(run), ALIVE_WITHIN_SECONDS)
        if busy is not None:
            return CloseRun(**busy)
        threading.Thread(target=self._run, args=(run, work), name=f"goldsplit-close-{period}",
                         daemon=True).start()
        return None

    def get(self, period: str) -> CloseRun | None:
        """The period's latest run, wherever it runs (a run whose process died: failed)."""
        found = self.runs.get(period)
        if found is None:
            return None
        doc, silent_for = found
        run = CloseRun(**doc)
        if run.running and silent_for > ALIVE_WITHIN_SECONDS:
            run.status, run.detail = "failed", STOPPED
        return run

    def _run(self, run: CloseRun, work: Callable[[Callable[[int, int], None]], dict]) -> None:
        lock, done, saved_at = threading.Lock(), threading.Event(), [0.0]

        def save() -> None:
            with lock:
                self.runs.put(run.period, asdict(run))
                saved_at[0] = time.monotonic()

        def progress(position: int, cutoff: int) -> None:
            with lock:
                run.position, run.cutoff = position, cutoff
            if time.monotonic() - saved_at[0] >= PROGRESS_SECONDS:
                save()

        def beat() -> None:  # progress and heartbeat, saved together
            while not done.wait(BEAT_SECONDS):
                try:
                    save()
                except Exception:  # the database away a moment: the next beat tries again
                    log.warning("the close of %s could not save its progress", run.period, exc_info=True)

        threading.Thread(target=beat, name=f"goldsplit-close-beat-{run.period}", daemon=True).start()
        try:
            report = work(progress)
        except CloseRefused as refused:
            how = {"status": "refused", "detail": refused.detail, "differences": refused.differences}
        except (DomainError, Refused) as refused:  # not over, closed meanwhile, booked into, 503
            how = {"status": "failed", "detail": refused.detail}
        except Exception:
            log.exception("the close of %s failed", run.period)
            how = {"status": "failed", "detail": "the close stopped on an unexpected error; the period stays open"}
        else:
            how = {"status": "closed", "report": report, "position": report.get("cutoff", run.position)}
        done.set()
        with lock:
            for name, value in how.items():
                setattr(run, name, value)
            run.finished_at = _now()
        try:
            save()
        except Exception:  # the page will say the close stopped; the period's own state tells
            log.exception("the close of %s ended %s but could not save it", run.period, how["status"])


_CREATING = threading.Lock()


def closes_of(request: Request) -> Closes:
    """This application's closes (one per app, made on first use over its services' store)."""
    services = request.app.state.services
    with _CREATING:
        found = getattr(request.app.state, "goldsplit_closes", None)
        if found is None or found.runs is not services.closes:
            found = request.app.state.goldsplit_closes = Closes(services.closes)
        return found


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# -- a period, its close and the close's progress ------------------------------------------------

@router.get("/periods/{period}", response_class=HTMLResponse)
def period_page(request: Request, period: str, services: ServicesDep, session: auth.SignedIn,
                after: After = None) -> Response:
    """A month or a quarter: per month the entries, members and totals, closed or not and the close
    report; for finance the form to close it, and a close's progress while it runs."""
    wait_for(services, after)
    return _period_page(request, services, session, period)


@router.post("/periods/{period}/close")
def close_period(request: Request, period: str, services: ServicesDep, session: auth.SignedIn,
                 csrf: Annotated[str | None, Form()] = None) -> Response:
    """Finance starts the close (replay, reconcile, lock) in the background; the page follows it."""
    auth.check_post(request, session, csrf)
    me = auth.actor(session)
    try:
        services.app.require_closable(me, period)
    except (NotAllowed, NotFound):
        raise  # the 403 page: closing is finance's
    except PeriodClosed:  # a double submit once it closed, or another closed it meanwhile
        return RedirectResponse(f"/periods/{period}", status_code=303)
    except DomainError as refused:  # not over yet, or not a period
        wait_for(services, None)
        return _period_page(request, services, session, period, refused=refused,
                            status_code=status_of(refused))

    def work(progress: Callable[[int, int], None]) -> dict:
        return close(services.app, services.views, me, period,
                     catch_up=lambda position: wait_for(services, position), progress=progress)

    closes_of(request).start(period, me.member_id, work)
    return RedirectResponse(f"/periods/{period}", status_code=303)


@router.get("/periods/{period}/progress", response_class=HTMLResponse)
def close_progress(request: Request, period: str, session: auth.SignedIn) -> Response:
    """The close's region alone, re-fetched every second while the close runs."""
    months_of(period)
    require(auth.actor(session), "read the books", "read periods")
    return render(request, "period_progress.html", {"run": closes_of(request).get(period), "period": period},
                  session=session)


def _period_page(request: Request, services: ServicesDep, session: Session, period: str, *,
                 refused: DomainError | None = None, status_code: int = 200) -> Response:
    me = auth.actor(session)
    shown = services.queries.periods.period(me, period)
    run = closes_of(request).get(period)
    closable = None
    if me.role in MAY["move money"] and not shown.closed and not (run and run.running):
        try:
            services.app.require_closable(me, period)
            closable = True
        except DomainError as why:
            closable = why.detail
    return render(request, "period.html", {
        "shown": shown, "period": period, "run": run, "closable": closable, "refused": refused,
        "position": max([m.position or 0 for m in shown.months] + [0]),
        "choice": _selector(period, lambda p: f"/periods/{p}")}, session=session, status_code=status_code,
        follows=[] if run and run.running else ["payables"])  # a running close's region follows it
