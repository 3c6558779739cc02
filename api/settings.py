"""Settings, from GOLDSPLIT_* environment variables (the names are part of the contract)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

DEV_SECRET = "goldsplit-dev-secret-change-me"


def _flag(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "y", "on")


@dataclass(frozen=True)
class Settings:
    """Every setting a goldsplit process reads; each field is GOLDSPLIT_<FIELD NAME>."""

    database_url: str = "sqlite:///data/goldsplit.db"
    secret: str = DEV_SECRET
    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_group: str = "goldsplit"  # the consumer group of `goldsplit consume`
    kafka_topic_partitions: int = 6  # for the topics relay and consume create when missing
    health_port: int = 0  # relay and consume answer /live, /health, /metrics here (0: not at all)
    health_host: str = "0.0.0.0"
    token_ttl_seconds: int = 30 * 24 * 3600
    in_process_projections: bool = True
    projection_poll_seconds: float = 0.2
    read_wait_seconds: float = 5.0
    idempotency_takeover_seconds: float = 60.0  # a key reserved by a process that died is free again
    host: str = "127.0.0.1"
    port: int = 8000
    access_log: bool = True  # uvicorn's line per request (about 2.5% of the API's CPU)
    journal_expense_account: str = "6400"  # the journal's account codes, as the general ledger has them
    journal_payable_account: str = "2400"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = environ.get(f"GOLDSPLIT_{f.name.upper()}")
            if raw is None:
                continue
            kind = type(getattr(cls, f.name))
            values[f.name] = _flag(raw) if kind is bool else kind(raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)
