"""Settings, from GOLDSPLIT_* environment variables (the names are part of the contract)."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "goldsplit-dev-secret-change-me"
PREFIX = "GOLDSPLIT_"


class SettingsError(ValueError):
    """A GOLDSPLIT_* variable that does not parse; the message names it."""


class Settings(BaseSettings):
    """Every setting a goldsplit process reads; each field is GOLDSPLIT_<FIELD NAME>."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, frozen=True, extra="ignore")

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
    access_log: bool = True  # uvicorn's line per request
    journal_expense_account: str = "6400"  # the journal's account codes, as the general ledger has them
    journal_payable_account: str = "2400"
    session_seconds: int = 8 * 3600  # how long a web session lasts after its sign-in link is opened
    public_url: str = ""  # where people open the web app (sign-in links); default http://<host>:<port>

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """The settings of the process's environment, or of `environ`; `overrides` win."""
        given = {k: v for k, v in overrides.items() if v is not None}
        try:
            if environ is None:
                return cls(**given)
            raw = {name: environ[f"{PREFIX}{name.upper()}"] for name in cls.model_fields
                   if f"{PREFIX}{name.upper()}" in environ}
            return cls.model_validate({**raw, **given})
        except ValidationError as invalid:
            raise SettingsError("; ".join(
                f"{PREFIX}{'_'.join(map(str, e['loc'])).upper()}: {e['msg']} (got {e['input']!r})"
                for e in invalid.errors())) from None
