"""The endpoints a platform team points its tools at (docs/operations.md):

- ``/healthz``: the process is up (liveness; no database query on purpose);
- ``/readyz``: the checks of ``provenance.health`` (readiness), 200 or 503 with JSON;
- ``/metrics``: Prometheus' text format, for staff and for ``METRICS_ALLOWED_NETWORKS``.

The web app answers them in ``OpsEndpointsMiddleware``, before Django's Host check: kubelet
probes and Prometheus scrapes address a pod by its IP, which is no allowed host. A staff member's
browser reaches /metrics through the URLconf (``metrics_view``), signed in as usual. Celery
workers and the watcher serve the same three paths on ``OPS_HTTP_PORT`` (``serve_in_thread``).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
from collections.abc import Callable
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponse, HttpResponseBase

from . import health, metrics

logger = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@cache
def _networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


def address_allowed(address: str, cidrs: list[str] | tuple[str, ...]) -> bool:
    """Is ``address`` (REMOTE_ADDR, or a socket peer) in one of ``cidrs``?"""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in _networks(tuple(cidrs)))


def healthz_response() -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


def readyz_response(*, signs: bool) -> HttpResponse:
    checks = health.readiness(signs=signs)
    ready = all(c.ok for c in checks)
    body = {"ready": ready, "checks": {c.name: "ok" if c.ok else "failing" for c in checks}}
    return HttpResponse(
        json.dumps(body), content_type="application/json", status=200 if ready else 503
    )


def metrics_response() -> HttpResponse:
    return HttpResponse(metrics.exposition(), content_type=metrics.CONTENT_TYPE_LATEST)


def _metrics_forbidden() -> HttpResponse:
    return HttpResponse(
        "metrics are for staff and for METRICS_ALLOWED_NETWORKS\n",
        content_type="text/plain",
        status=403,
    )


class OpsEndpointsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.method in ("GET", "HEAD"):
            if request.path == "/healthz":
                return healthz_response()
            if request.path == "/readyz":
                return readyz_response(signs=health.web_signs())
            if request.path == "/metrics" and address_allowed(
                request.META.get("REMOTE_ADDR", ""), settings.METRICS_ALLOWED_NETWORKS
            ):
                return metrics_response()
        return self.get_response(request)


def metrics_view(request: HttpRequest) -> HttpResponse:
    """/metrics through the URLconf: a signed-in staff member (allowed addresses never get here:
    the middleware answered them)."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_active and user.is_staff:
        return metrics_response()
    return _metrics_forbidden()


def readyz_view(request: HttpRequest) -> HttpResponse:
    return readyz_response(signs=health.web_signs())


def healthz_view(request: HttpRequest) -> HttpResponse:
    return healthz_response()


# --- the worker's and the watcher's own port --------------------------------------------------


def _handler(role: str, alive: Callable[[], bool]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = f"chainsweb-{role}"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                self._send(200 if alive() else 503, b"ok" if alive() else b"stopped", "text/plain")
            elif path == "/readyz":
                try:
                    response = readyz_response(signs=role == "worker")
                finally:
                    connections.close_all()  # this thread's connections: one per probe
                self._send(response.status_code, response.content, response["Content-Type"])
            elif path == "/metrics":
                if address_allowed(self.client_address[0], settings.METRICS_ALLOWED_NETWORKS):
                    try:
                        body = metrics.exposition()
                    finally:
                        connections.close_all()  # the pruned totals' query
                    self._send(200, body, metrics.CONTENT_TYPE_LATEST)
                else:
                    self._send(403, _metrics_forbidden().content, "text/plain")
            else:
                self._send(404, b"not found", "text/plain")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug("%s %s", self.address_string(), format % args)

    return Handler


def serve_in_thread(
    port: int, *, role: str, alive: Callable[[], bool] = lambda: True
) -> ThreadingHTTPServer:
    """Serve /healthz, /readyz and /metrics on ``port`` (all addresses) from a daemon thread.

    ``role``: "worker" (it signs, so readiness checks the keys) or "watcher"; ``alive``: what
    /healthz answers (the watcher: are its streams running?).
    """
    metrics.clean_multiprocess_dir()
    server = ThreadingHTTPServer(("", port), _handler(role, alive))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name=f"ops-http-{port}", daemon=True)
    thread.start()
    logger.info("%s: /healthz, /readyz and /metrics on port %d", role, port)
    return server
