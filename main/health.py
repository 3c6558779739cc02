"""Health of a background process (project, relay, consume): what its probes and operator read.

The loop of the process calls `ok()` after each round that worked and `failing(reason)` when the
broker or the database does not answer; `serve(port)` answers `GET /live` (always 200: the process
runs), `GET /health` (200 while the last round worked recently, else 503 with the reason) and
`GET /metrics` (the figures the process sets), in a daemon thread.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

log = logging.getLogger(__name__)


class Health:
    def __init__(self, name: str, stale_after: float = 60.0) -> None:
        self.name = name
        self.stale_after = stale_after
        self.reason: str | None = "starting"
        self.last_ok = 0.0
        self.figures: dict[str, float] = {}
        self._server: ThreadingHTTPServer | None = None

    def ok(self, **figures: float) -> None:
        self.reason, self.last_ok = None, time.monotonic()
        self.figures.update(figures)

    def failing(self, reason: str) -> None:
        self.reason = reason

    def status(self) -> tuple[bool, dict]:
        reason = self.reason
        if reason is None and time.monotonic() - self.last_ok > self.stale_after:
            reason = f"no round has finished for {self.stale_after:.0f} s"
        return reason is None, {"process": self.name, "status": "ok" if reason is None else "unhealthy",
                                "reason": reason, **self.figures}

    def collect(self) -> Iterator[Metric]:
        """The process's figures as Prometheus gauges, labelled with the process."""
        healthy = GaugeMetricFamily("goldsplit_process_healthy", "1 while the last round worked "
                                    "recently", labels=["process"])
        healthy.add_metric([self.name], int(self.status()[0]))
        yield healthy
        for name, value in sorted(self.figures.items()):
            figure = GaugeMetricFamily(f"goldsplit_{name}", name.replace("_", " "), labels=["process"])
            figure.add_metric([self.name], value)
            yield figure

    def serve(self, host: str, port: int) -> int:
        """Answer the probes on host:port (0 picks a free port); return the port."""
        health = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server name
                if self.path == "/live":
                    code, body, kind = 200, json.dumps({"status": "alive"}), "application/json"
                elif self.path == "/health":
                    healthy, doc = health.status()
                    code, body, kind = (200 if healthy else 503), json.dumps(doc), "application/json"
                elif self.path == "/metrics":
                    code, body, kind = 200, generate_latest(health).decode(), CONTENT_TYPE_LATEST
                else:
                    code, body, kind = 404, json.dumps({"detail": "not found"}), "application/json"
                data = body.encode()
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: object) -> None:  # probes every few seconds: not worth a line
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        threading.Thread(target=self._server.serve_forever, name=f"{self.name}-health",
                         daemon=True).start()
        return self._server.server_address[1]

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
