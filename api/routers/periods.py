"""Periods: what is payable in a month or a quarter, members' statements, the journal and payroll."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from api.deps import ActorDep, After, MemberPath, Money, Period, ServicesDep, allow, wait_for
from api.errors import problem
from api.exports import Part, journal_csv, payroll_csv, statement_csv, statement_xlsx
from api.schemas import PROBLEMS
from books.close import CloseRefused, close
from domain.application import Actor
from domain.exceptions import InvalidInput
from queries.periods import ClosedOut, JournalOut, PayrollOut, PeriodOut, StatementOut

router = APIRouter(prefix="/v1/periods", tags=["periods"], responses=PROBLEMS)

Books = Annotated[Actor, allow("read the books")]
CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9._@-]")
PART = "with format=csv: the data rows (lines), or the totals per currency as a file of their own"


def _files(*media_types: str) -> dict:
    return {200: {"content": {media_type: {} for media_type in media_types}}}


def _csv_part(format: str, part: Part) -> str:  # noqa: A002
    """The file name's suffix of a CSV part; totals come only as CSV (JSON carries them already)."""
    if part == "totals" and format != "csv":
        raise InvalidInput("totals are a part of their own only in CSV (format=csv)", field="part")
    return "-totals" if part == "totals" else ""


def _attachment(content: str | bytes, media_type: str, name: str) -> Response:
    filename = UNSAFE_IN_FILENAME.sub("_", name)
    return Response(content, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/{period}", response_model=PeriodOut)
def get_period(period: Period, actor: Books, services: ServicesDep, after: After = None) -> PeriodOut:
    """A month or quarter: entries, members and totals per currency, and whether it is closed, with
    the close report (finance, auditors, admins)."""
    wait_for(services, after)
    return services.queries.periods.period(actor, period)


@router.get("/{period}/statements/{member_id}", response_model=StatementOut,
            responses=_files(CSV, XLSX))
def get_statement(period: Period, member_id: MemberPath, actor: ActorDep, services: ServicesDep,
                  format: Annotated[Literal["json", "csv", "xlsx"], Query()] = "json",  # noqa: A002
                  part: Annotated[Part, Query(description=PART)] = "lines",
                  after: After = None) -> StatementOut | Response:
    """A member's statement: every upfront, release and adjustment entry of the period, with
    totals per currency (a member: only their own; finance, auditors and admins: anyone's)."""
    suffix = _csv_part(format, part)
    wait_for(services, after)
    shown = services.queries.periods.statement(actor, period, member_id)
    if format == "csv":
        return _attachment(statement_csv(shown.model_dump(), part), CSV, f"statement-{member_id}-{period}{suffix}.csv")
    if format == "xlsx":
        return _attachment(statement_xlsx(shown.model_dump()), XLSX, f"statement-{member_id}-{period}.xlsx")
    return shown


@router.get("/{period}/journal", response_model=JournalOut, responses=_files(CSV))
def get_journal(period: Period, actor: Books, services: ServicesDep,
                format: Annotated[Literal["json", "csv"], Query()] = "json",  # noqa: A002
                part: Annotated[Part, Query(description=PART)] = "lines",
                after: After = None) -> JournalOut | Response:
    """Balanced double-entry lines for the period: bonus expense against each member's bonus
    payable, per currency, with the general ledger's account codes; debits equal credits
    (finance, auditors, admins)."""
    suffix = _csv_part(format, part)
    wait_for(services, after)
    shown = services.queries.periods.journal(actor, period)
    if format == "csv":
        return _attachment(journal_csv(shown.model_dump(), part), CSV, f"journal-{period}{suffix}.csv")
    return shown


@router.get("/{period}/payroll", response_model=PayrollOut, responses=_files(CSV))
def get_payroll(period: Period, actor: Books, services: ServicesDep,
                format: Annotated[Literal["json", "csv"], Query()] = "json",  # noqa: A002
                part: Annotated[Part, Query(description=PART)] = "lines",
                after: After = None) -> PayrollOut | Response:
    """What to pay each member per currency for the period, with their employee id and cost
    center; negative: to recover (finance, auditors, admins)."""
    suffix = _csv_part(format, part)
    wait_for(services, after)
    shown = services.queries.periods.payroll(actor, period)
    if format == "csv":
        return _attachment(payroll_csv(shown.model_dump(), part), CSV, f"payroll-{period}{suffix}.csv")
    return shown


@router.post("/{period}/close", response_model=ClosedOut)
def close_period(period: Period, actor: Money, services: ServicesDep) -> Any:
    """Finance closes a period: replay the log up to now into fresh state, recompute every payable
    entry, reconcile with the read models, and lock it; any difference refuses the close (409,
    with the differences)."""
    try:  # read models that cannot reach the cut-off (stalled, store down) answer 503, as reads do
        return close(services.app, services.views, actor, period,
                     catch_up=lambda position: wait_for(services, position))
    except CloseRefused as refused:
        return problem(409, refused.detail, type_="urn:goldsplit:close-refused",
                       errors=[{"field": "period", "message": refused.detail}],
                       extra={"differences": refused.differences})
