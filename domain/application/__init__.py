"""The goldsplit Application: one method per use case, primitives in, ids and log positions out.

The use cases are grouped by area of the domain, one module each; `ledger` holds how they load,
decide and save, and `access` who may do what.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from domain.application.access import MAY, Access, Actor, require
from domain.application.accounts import Accounts
from domain.application.contributions import Contributions
from domain.application.ledger import Ledger
from domain.application.money import Money
from domain.application.opportunities import Opportunities
from domain.application.policies import Policies
from domain.application.results import Recorded
from domain.application.support import Support

__all__ = ["MAY", "Actor", "Goldsplit", "Recorded", "require"]


class Goldsplit(Accounts, Opportunities, Contributions, Support, Money, Policies, Access, Ledger):
    """The ledger of team-selling work and the split of won deals' bonus pools."""

    name = "goldsplit"

    def __init__(self, env: dict[str, str] | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        super().__init__(env)
        self.clock = clock
        self._policy_versions: dict[str, tuple[int, list[Any]]] = {}  # kind: (book version, versions)
        self._ensure_default_policies()
