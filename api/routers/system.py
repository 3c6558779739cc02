"""Health and metrics for operators."""

import logging

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
    """Prometheus text: log head and projection positions and lag."""
    head, positions = _positions(services)
    lines = ["# TYPE goldsplit_log_position gauge", f"goldsplit_log_position {head}",
             "# TYPE goldsplit_projection_position gauge"]
    lines += [f'goldsplit_projection_position{{projection="{n}"}} {p}' for n, p in positions.items()]
    lines += ["# TYPE goldsplit_projection_lag_events gauge"]
    lines += [f'goldsplit_projection_lag_events{{projection="{n}"}} {head - p}'
              for n, p in positions.items()]
    return "\n".join(lines) + "\n"
