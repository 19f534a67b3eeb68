"""A tiny Prometheus exporter on loopback whose gauges a test moves.

``GaugeExporter({"upir_test_load": 500.0})`` serves every gauge in ``values``
(a plain dict the test changes at will; a gauge set to None is not served, so
queries for it return nothing) in the text exposition format. Point a
:class:`~upir_e2e.prometheus.PrometheusServer` at ``target``::

    with GaugeExporter({"upir_test_load": 500.0}) as exporter:
        with PrometheusServer([exporter.target], scrape_interval_s=0.2) as prom:
            exporter.values["upir_test_load"] = 950.0
"""

from __future__ import annotations

import http.server
import threading
from types import TracebackType
from typing import Self


class GaugeExporter:
    def __init__(self, values: dict[str, float | None] | None = None) -> None:
        self.values: dict[str, float | None] = dict(values or {})
        exporter = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                lines = [f"{k} {v}\n" for k, v in list(exporter.values.items()) if v is not None]
                body = "".join(lines).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.target = f"127.0.0.1:{self.server.server_address[1]}"
        """``host:port`` to scrape."""
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
