"""The server: handshake policy, sessions, lifecycle.

``process_request`` decides every handshake before any session exists, in this order:
``GET /healthz`` and ``GET /metrics`` are answered over plain HTTP; a path other than the
dialect's is 404; a missing, empty or wrong key is 401; beyond ``--max-sessions`` it is 503.
A slot is reserved for a handshake the moment it is accepted, so a burst cannot overshoot.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import ssl
import sys
from http import HTTPStatus
from urllib.parse import urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from harness.server.auth import KeyRing
from harness.server.config import ServerConfig
from harness.server.engines import make_engine
from harness.server.observability import CONTENT_TYPE_LATEST, ServerMetrics, log
from harness.server.session import ServerContext, ServerSession

HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"
#: Grace for open sessions when the server is told to stop.
SHUTDOWN_GRACE_S = 5.0


def _http(
    status: HTTPStatus, body: bytes, content_type: str = "text/plain; charset=utf-8"
) -> Response:
    headers = Headers([("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return Response(status.value, status.phrase, headers, body)


class AsrxServer:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.metrics = ServerMetrics()
        self.keys = KeyRing(config.apikeys)
        self.engine = make_engine(config.engine, workers=config.worker_count)
        self.ctx = ServerContext(config, self.metrics, self.engine)
        self.ready = False
        self._slots = 0  # reserved at handshake + open sessions
        self._unauthenticated: set[ServerConnection] = set()
        self._server: Server | None = None

    # -- handshake ---------------------------------------------------------------------

    def _refuse(self, reason: str, status: HTTPStatus, text: str) -> Response:
        self.metrics.refused.labels(reason).inc()
        log("handshake_refused", reason=reason, status=status.value)
        return _http(status, (text + "\n").encode())

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path
        if path == HEALTH_PATH:
            if self.ready:
                return _http(HTTPStatus.OK, b"ok\n")
            return _http(HTTPStatus.SERVICE_UNAVAILABLE, b"starting\n")
        if path == METRICS_PATH:
            return _http(HTTPStatus.OK, self.metrics.exposition(), CONTENT_TYPE_LATEST)
        if path != self.config.path:
            return self._refuse("not_found", HTTPStatus.NOT_FOUND, "not found")
        if not self.config.no_auth and not self.ctx.has("accept-any-key"):
            key = request.headers.get(self.config.dialect.key_header)
            if not self.keys.check(key):
                if self.ctx.has("bad-key-close-late"):
                    self._unauthenticated.add(connection)
                else:
                    reason = "missing_key" if not key else "bad_key"
                    return self._refuse(
                        reason, HTTPStatus.UNAUTHORIZED, "invalid or missing apikey"
                    )
        if self._slots >= self.config.max_sessions:
            self._unauthenticated.discard(connection)
            return self._refuse("overloaded", HTTPStatus.SERVICE_UNAVAILABLE, "too many sessions")
        self._slots += 1
        connection.asrx_slot = True  # type: ignore[attr-defined]
        return None

    def process_response(
        self, connection: ServerConnection, request: Request, response: Response
    ) -> None:
        # A handshake that got a slot but did not become a session gives it back.
        if response.status_code != 101 and getattr(connection, "asrx_slot", False):
            connection.asrx_slot = False  # type: ignore[attr-defined]
            self._slots -= 1
            self._unauthenticated.discard(connection)

    # -- sessions ----------------------------------------------------------------------

    def _release_slot(self, ws: ServerConnection) -> None:
        if getattr(ws, "asrx_slot", False):
            ws.asrx_slot = False  # type: ignore[attr-defined]
            self._slots -= 1

    async def handler(self, ws: ServerConnection) -> None:
        self.metrics.active_sessions.inc()
        session = ServerSession(ws, self.ctx, lambda: self._release_slot(ws))
        try:
            if ws in self._unauthenticated:
                self._unauthenticated.discard(ws)
                await session.run_rejected()
                return
            recognizer = self.engine.recognizer()
            await session.run(recognizer)
        except Exception:
            log("session_crashed", logging.ERROR, session=session.id, exc_info=True)
            with contextlib.suppress(Exception):
                await ws.close(1011, "internal error")
        finally:
            self.metrics.active_sessions.dec()
            self._release_slot(ws)

    # -- lifecycle ---------------------------------------------------------------------

    def _ssl_context(self) -> ssl.SSLContext | None:
        if not self.config.tls_cert:
            return None
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.config.tls_cert, self.config.tls_key)
        return ctx

    async def start(self) -> tuple[str, str]:
        """Start the engine and listen; return ``(ws_url, http_url)``."""
        await self.engine.start()
        self._server = await serve(
            self.handler,
            self.config.host,
            self.config.port,
            process_request=self.process_request,
            process_response=self.process_response,
            max_size=self.config.max_frame_bytes,
            ssl=self._ssl_context(),
            compression=None,
            server_header="asrx-harness-reference",
        )
        port = self._server.sockets[0].getsockname()[1]
        host = self.config.host
        host = f"[{host}]" if ":" in host else host
        secure = "s" if self.config.tls_cert else ""
        self.ready = True
        return f"ws{secure}://{host}:{port}{self.config.path}", f"http{secure}://{host}:{port}"

    async def stop(self) -> None:
        self.ready = False
        if self._server is not None:
            self._server.close(close_connections=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), SHUTDOWN_GRACE_S)
        await self.engine.stop()


async def serve_forever(config: ServerConfig) -> None:
    """Run until SIGTERM/SIGINT, printing the ready line on stdout once listening."""
    if config.no_auth:
        log("auth_disabled", logging.WARNING, detail="--no-auth: every session is accepted")
    if config.faults or config.delay_ms:
        log(
            "faults_enabled",
            logging.WARNING,
            faults=sorted(config.faults),
            delay_ms=config.delay_ms,
        )
    server = AsrxServer(config)
    url, http_url = await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    ready = {"event": "ready", "url": url, "http": http_url, "pid": os.getpid()}
    sys.stdout.write(json.dumps(ready) + "\n")
    sys.stdout.flush()
    log(
        "ready",
        url=url,
        engine=config.engine,
        workers=config.worker_count,
        max_sessions=config.max_sessions,
    )
    try:
        await stop.wait()
    finally:
        log("stopping")
        await server.stop()
