"""What the use cases answer: the id acted on and the log position of the command's last event,
and per use case the typed facts a caller needs next (the API gives them as the JSON answer)."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class Recorded:
    """A command's answer: the id it acted on and the log position of its last event."""

    id: str
    position: int = 0

    def document(self) -> dict[str, Any]:
        """The answer as the API gives it: every field that has a value."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    def at(self, position: int) -> Recorded:
        return replace(self, position=position)


@dataclass(frozen=True)
class Graded(Recorded):
    """An account or an opportunity opened or changed: the grade it has now."""

    grade: str | None = None


@dataclass(frozen=True)
class Assessed(Recorded):
    score: int | None = None
    win_probability: str | None = None
    standard_version: int | None = None


@dataclass(frozen=True)
class Won(Recorded):
    allocation_id: str | None = None


@dataclass(frozen=True)
class WithStatus(Recorded):
    """A task, a request or a dispute: the state it is in now."""

    status: str | None = None


@dataclass(frozen=True)
class Delivered(Recorded):
    """A delivered request: the supporter's contribution it became (None once the deal closed)."""

    contribution_id: str | None = None


@dataclass(frozen=True)
class PaymentReceived(Recorded):
    repeated: bool | None = None  # True: this payment id was recorded before, nothing changed


@dataclass(frozen=True)
class Upserted(Recorded):
    outcome: str = "unchanged"  # opened, corrected, won, lost, joined by "+", or unchanged


@dataclass(frozen=True)
class Regraded(Recorded):
    regraded: int = 0


@dataclass(frozen=True)
class PolicyAdded(Recorded):
    version: int | None = None
    hash: str | None = None
    regraded: int | None = None  # a grading version in force regrades what it grades


@dataclass(frozen=True)
class CloseReport(Recorded):
    """The close report the replay proved, with the position of the close."""

    period: str | None = None
    months: list[str] | None = None
    cutoff: int | None = None
    events: int | None = None
    entries: int | None = None
    members: list[str] | None = None
    totals: dict[str, str] | None = None
    chain_head: str | None = None
