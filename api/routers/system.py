"""Health and metrics for operators."""

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from api.deps import ServicesDep
from api.errors import Refused

log = logging.getLogger(__name__)

router = APIRouter(tags=["system"])


def _positions(services) -> tuple[int, dict[str, int]]:
    head = services.app.recorder.max_notification_id() or 0
    return head, {p.name: services.views.position(p.name) for p in services.runner.projections}


@router.get("/live")
def live() -> dict:
    """Liveness only: the process answers. It does not touch the store, so an outage of the
    database makes the process unready (see /health), never restarted in a loop."""
    return {"status": "alive"}


@router.get("/health", responses={503: {"description": "the store does not answer"}})
def health(services: ServicesDep) -> dict:
    """Readiness: the store answers; how far the read models are behind."""
    try:
        services.db.ping()
        head, positions = _positions(services)
    except Exception as exc:  # a store that is down makes us unready, not broken
        log.warning("health check failed: %s", exc)
        raise Refused(503, f"the {services.db.kind} store does not answer",
                      headers={"Retry-After": "5"}) from None
    stalled = services.runner.stalled
    return {"status": "degraded" if stalled else "ok", "store": services.db.kind,
            "log_position": head,
            "stalled": {"position": stalled.position, "error": stalled.error} if stalled else None,
            "projections": {name: {"position": pos, "lag": head - pos}
                            for name, pos in positions.items()}}


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(services: ServicesDep) -> PlainTextResponse:
    """Prometheus text: log head, projection positions, and lag in events and in seconds (how long
    the oldest event a projection has not processed yet has been waiting); how far the relay has
    published; what the consumers did with inbound messages, by topic and outcome."""
    return PlainTextResponse(generate_latest(_Ledger(services)), media_type=CONTENT_TYPE_LATEST)


class _Ledger:
    """A Prometheus collector of the figures above, read from the store at each scrape."""

    def __init__(self, services) -> None:
        self.services = services

    def collect(self) -> Iterator[Metric]:
        services = self.services
        head, positions = _positions(services)
        yield GaugeMetricFamily("goldsplit_log_position", "the position of the last event in the log",
                                value=head)
        position = GaugeMetricFamily("goldsplit_projection_position", "the last position a "
                                     "projection processed", labels=["projection"])
        lag = GaugeMetricFamily("goldsplit_projection_lag_events", "events a projection has not "
                                "processed yet", labels=["projection"])
        waited = GaugeMetricFamily("goldsplit_projection_lag_seconds", "how long the oldest event a "
                                   "projection has not processed has waited", labels=["projection"])
        ages = {p: _age_of_next(services, p, head) for p in set(positions.values())}
        for name, at in positions.items():
            position.add_metric([name], at)
            lag.add_metric([name], head - at)
            if ages[at] is not None:
                waited.add_metric([name], round(ages[at], 3))
        yield from (position, lag, waited)
        runner = services.runner
        if runner.following and runner.listen_channel is not None:  # it wakes on PostgreSQL's NOTIFY
            yield GaugeMetricFamily("goldsplit_projection_listener_connected", "the projections' "
                                    "LISTEN connection is up", value=int(runner.listener_connected))
            yield CounterMetricFamily("goldsplit_projection_listener_reconnects", "times the LISTEN "
                                      "connection was made again", value=runner.listener_reconnects)
        relayed = GaugeMetricFamily("goldsplit_relay_position", "how far the relay has published",
                                    labels=["topic"])
        behind = GaugeMetricFamily("goldsplit_relay_lag_events", "events the relay has not published "
                                   "yet", labels=["topic"])
        for name, at in services.views.positions().items():
            if name.startswith("relay:"):
                relayed.add_metric([name.removeprefix("relay:")], at)
                behind.add_metric([name.removeprefix("relay:")], head - at)
        yield from (relayed, behind)
        messages = CounterMetricFamily("goldsplit_consumer_messages", "inbound Kafka messages by "
                                       "what became of them", labels=["topic", "outcome"])
        for (topic, outcome), n in services.counts.all().items():
            messages.add_metric([topic, outcome], n)
        yield messages


def _age_of_next(services, position: int, head: int) -> float | None:
    """How long the oldest event a projection has not processed yet has been waiting (0 when it
    is caught up; None when that event cannot be read, e.g. the one a stalled runner waits at)."""
    if position >= head:
        return 0.0
    try:
        [waiting] = services.app.recorder.select_notifications(position, 1, inclusive_of_start=False)
        recorded = services.app.mapper.to_domain_event(waiting).timestamp
    except Exception:  # noqa: BLE001 - an unreadable event is reported by /health, not here
        return None
    return max((datetime.now(UTC) - recorded).total_seconds(), 0.0)
