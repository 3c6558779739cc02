"""Health and metrics for operators."""

import logging
from datetime import UTC, datetime

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

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
def metrics(services: ServicesDep) -> str:
    """Prometheus text: log head, projection positions, and lag in events and in seconds (how long
    the oldest event a projection has not processed yet has been waiting); how far the relay has
    published; what the consumers did with inbound messages, by topic and outcome."""
    head, positions = _positions(services)
    lines = ["# TYPE goldsplit_log_position gauge", f"goldsplit_log_position {head}",
             "# TYPE goldsplit_projection_position gauge"]
    lines += [f'goldsplit_projection_position{{projection="{n}"}} {p}' for n, p in positions.items()]
    lines += ["# TYPE goldsplit_projection_lag_events gauge"]
    lines += [f'goldsplit_projection_lag_events{{projection="{n}"}} {head - p}'
              for n, p in positions.items()]
    lines += ["# TYPE goldsplit_projection_lag_seconds gauge"]
    ages = {p: _age_of_next(services, p, head) for p in set(positions.values())}
    lines += [f'goldsplit_projection_lag_seconds{{projection="{n}"}} {ages[p]:.3f}'
              for n, p in positions.items() if ages[p] is not None]
    runner = services.runner
    if runner.following and runner.listen_channel is not None:  # it wakes on PostgreSQL's NOTIFY
        lines += ["# TYPE goldsplit_projection_listener_connected gauge",
                  f"goldsplit_projection_listener_connected {int(runner.listener_connected)}",
                  "# TYPE goldsplit_projection_listener_reconnects_total counter",
                  f"goldsplit_projection_listener_reconnects_total {runner.listener_reconnects}"]
    relays = {name.removeprefix("relay:"): position
              for name, position in services.views.positions().items() if name.startswith("relay:")}
    lines += ["# TYPE goldsplit_relay_position gauge"]
    lines += [f'goldsplit_relay_position{{topic="{t}"}} {p}' for t, p in relays.items()]
    lines += ["# TYPE goldsplit_relay_lag_events gauge"]
    lines += [f'goldsplit_relay_lag_events{{topic="{t}"}} {head - p}' for t, p in relays.items()]
    lines += ["# HELP goldsplit_consumer_messages_total inbound Kafka messages by what became of them",
              "# TYPE goldsplit_consumer_messages_total counter"]
    lines += [f'goldsplit_consumer_messages_total{{topic="{topic}",outcome="{outcome}"}} {n}'
              for (topic, outcome), n in services.counts.all().items()]
    return "\n".join(lines) + "\n"


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
