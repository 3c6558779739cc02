"""The read side: one query object per read model, each answering a reader (an Actor) with typed,
closed pydantic models and never showing what that reader may not see (queries/access.py).

The JSON API serializes these answers as they are; the web app renders the same ones.
"""

from __future__ import annotations

from domain.application import Goldsplit
from projections.store import ViewStore
from queries.accounts import AccountQuery
from queries.allocations import AllocationQuery
from queries.audit import AuditQuery
from queries.board import BoardQuery
from queries.calibration import CalibrationQuery
from queries.lists import ListQuery
from queries.members import MemberQuery
from queries.periods import PeriodQuery
from queries.queues import QueueQuery


class Queries:
    """Every query object over one application and one view store."""

    def __init__(self, app: Goldsplit, views: ViewStore, *, journal_expense_account: str | None = None,
                 journal_payable_account: str | None = None) -> None:
        self.boards = BoardQuery(app, views)
        self.accounts = AccountQuery(app, views)
        self.members = MemberQuery(app, views)
        self.allocations = AllocationQuery(views)
        self.periods = PeriodQuery(app, views, expense_code=journal_expense_account,
                                   payable_code=journal_payable_account)
        self.calibration = CalibrationQuery(app, views)
        self.audit = AuditQuery(app, views)
        self.queues = QueueQuery(app, views)
        self.lists = ListQuery(app, views)
