"""The server: handshake policy, sessions, lifecycle.

``process_request`` decides every handshake before any session exists, in this order:
``GET /healthz`` and ``GET /metrics`` are answered over plain HTTP; a path other than the
dialect's is 404; a missing, empty, wrong or repeated key is 401; beyond ``--max-sessions``
it is 503. A slot is reserved for a handshake the moment it is accepted, so a burst cannot
overshoot, and it comes back exactly once however the connection ends (``SessionSlots``).
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
import threading
from http import HTTPStatus
from urllib.parse import urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from harness.server.auth import KeyRing
from harness.server.clientlog import ClientLog, handshake_seen
from harness.server.config import ServerConfig
from harness.server.connection import AsrxConnection
from harness.server.engines import make_engine
from harness.server.faults import FaultPolicy
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


class SessionSlots:
    """``--max-sessions``: slots held by accepted handshakes and open sessions."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_use = 0

    def take(self, connection: AsrxConnection) -> bool:
        """Reserve a slot for ``connection``; it gives it back via ``release_slot``."""
        if self.in_use >= self.limit:
            return False
        self.in_use += 1
        connection.hold_slot(self._give_back)
        return True

    def _give_back(self) -> None:
        self.in_use -= 1


class AsrxServer:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.metrics = ServerMetrics()
        self.keys = KeyRing(config.apikeys)
        self.faults = FaultPolicy.from_names(config.faults | config.hazards)
        self.engine = make_engine(config.engine, workers=config.worker_count)
        self.ctx = ServerContext(config, self.metrics, self.engine, self.faults)
        self.slots = SessionSlots(config.max_sessions)
        self.metrics.session_slots.set_function(lambda: self.slots.in_use)
        self.ready = False
        self._server: Server | None = None
        #: ``--record-clients``: what each client did, for grading clients.
        self.client_log = (
            ClientLog(config.record_clients, config.dialect) if config.record_clients else None
        )

    # -- handshake ---------------------------------------------------------------------

    def _refuse(self, reason: str, status: HTTPStatus, text: str) -> Response:
        self.metrics.refused.labels(reason).inc()
        log("handshake_refused", reason=reason, status=status.value)
        return _http(status, (text + "\n").encode())

    def _key_refusal(self, request: Request) -> str | None:
        """Why the request's key is refused (a metrics reason), or None when it is good."""
        presented = request.headers.get_all(self.config.dialect.key_header)
        if not presented or not any(presented):
            return "missing_key"
        # A repeated header is refused whatever the values: which one would count is
        # ambiguous, and intermediaries may keep either.
        if len(presented) > 1 or not self.keys.check(presented[0]):
            return "bad_key"
        return None

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        assert isinstance(connection, AsrxConnection)
        path = urlsplit(request.path).path
        if path == HEALTH_PATH:
            if self.ready:
                return _http(HTTPStatus.OK, b"ok\n")
            return _http(HTTPStatus.SERVICE_UNAVAILABLE, b"starting\n")
        if path == METRICS_PATH:
            return _http(HTTPStatus.OK, self.metrics.exposition(), CONTENT_TYPE_LATEST)
        if path != self.config.path:
            return self._refuse("not_found", HTTPStatus.NOT_FOUND, "not found")
        if not self.config.no_auth and not self.faults.accept_any_key:
            refusal = self._key_refusal(request)
            if refusal is not None:
                if not self.faults.close_bad_key_late:
                    return self._refuse(
                        refusal, HTTPStatus.UNAUTHORIZED, "invalid or missing apikey"
                    )
                connection.rejected = True
        if not self.slots.take(connection):
            return self._refuse("overloaded", HTTPStatus.SERVICE_UNAVAILABLE, "too many sessions")
        return None

    def process_response(
        self, connection: ServerConnection, request: Request, response: Response
    ) -> None:
        assert isinstance(connection, AsrxConnection)
        # A handshake that got a slot but will not become a session gives it back.
        if response.status_code != HTTPStatus.SWITCHING_PROTOCOLS:
            connection.release_slot()
        if self.client_log is not None:
            self._record_handshake(connection, request, response.status_code)

    def _record_handshake(self, connection: AsrxConnection, request: Request, status: int) -> None:
        assert self.client_log is not None
        path = request.path
        if urlsplit(path).path in (HEALTH_PATH, METRICS_PATH):
            return
        header = self.config.dialect.key_header
        seen = handshake_seen(
            connection.loop.time(),
            path,
            status,
            request.headers.get_all(header),
            self._key_refusal(request) is None,
            header,
            " ".join(request.headers.get_all("User-Agent")),
        )
        connection.seen = self.client_log.handshake(seen)

    # -- sessions ----------------------------------------------------------------------

    async def handler(self, ws: ServerConnection) -> None:
        assert isinstance(ws, AsrxConnection)
        self.metrics.active_sessions.inc()
        session = ServerSession(ws, self.ctx, ws.release_slot)
        try:
            if ws.rejected:
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
            ws.release_slot()

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
            open_timeout=self.config.handshake_timeout_s,
            create_connection=AsrxConnection.bounded(self.config.max_send_backlog_bytes),
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
        if self.client_log is not None:
            self.client_log.close()


async def serve_forever(config: ServerConfig) -> None:
    """Run until SIGTERM or SIGINT, printing the ready line on stdout once listening.

    ``--owned``: until SIGTERM or the end of standard input, SIGINT ignored (the server and
    its engine workers): a terminal's Ctrl-C reaches the whole process group, and the owner,
    which handles it, stops the server once it is done with it.
    """
    if config.no_auth:
        log("auth_disabled", logging.WARNING, detail="--no-auth: every session is accepted")
    if config.faults or config.hazards or config.delay_ms:
        log(
            "faults_enabled",
            logging.WARNING,
            faults=sorted(config.faults),
            hazards=sorted(config.hazards),
            delay_ms=config.delay_ms,
        )
    if config.owned:  # before the engine starts its workers: they inherit it
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    server = AsrxServer(config)
    url, http_url = await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    if config.owned:
        _stop_when_stdin_closes(loop, stop)
    else:
        loop.add_signal_handler(signal.SIGINT, stop.set)
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


def _stop_when_stdin_closes(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """Set ``stop`` once standard input ends: the owner holds its other end, and the
    operating system closes it when the owner exits, however it exits."""

    def read() -> None:
        with contextlib.suppress(OSError):
            while os.read(0, 4096):
                pass
        log("owner_gone", detail="standard input closed: stopping")
        with contextlib.suppress(RuntimeError):  # the loop closed first
            loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=read, name="asrx-owner-watch", daemon=True).start()
