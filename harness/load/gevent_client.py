"""The gevent I/O adapter: one streaming asrx session over websockets' Sans-I/O protocol.

Locust runs every user as a greenlet, so the adapter is native to gevent: a
``gevent.socket`` carries the bytes, websockets' ``ClientProtocol`` (Sans-I/O) does the
WebSocket framing, and the harness's ``ClientSession`` (Sans-I/O) does the asrx protocol.
No thread, no event-loop bridge, no monkey-patching required (it works with or without).
``benchmarks/load_io.py`` measured this against the websockets sync client and
websocket-client under gevent; see the README for the figures behind the choice.

The timeline has the same meaning as in ``harness.client.aio``: one monotonic clock,
``frame_sent`` with the frame's absolute deadline and the moment ``sendall`` returned,
the end-of-stream send time, each message's arrival time. Two greenlets per session: the
caller's sends at real-time pacing, a receiver parses what arrives. Every wait has a
timeout from ``Target.timeouts``. Errors map as in ``harness.client.aio``: no session →
``ConnectFailed``/``HandshakeRejected``/``SessionTimeout`` raised; after the session
opened → ``StreamResult.error`` with the timeline so far.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import socket as _stdlib_socket
import ssl as _stdlib_ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass

import gevent
import gevent.event
import gevent.lock
from gevent import socket, ssl
from websockets.client import ClientProtocol
from websockets.exceptions import InvalidState
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

from harness.client.target import Target, connect_error
from harness.errors import (
    ConnectFailed,
    ConnectionDropped,
    SessionTimeout,
    TargetError,
)
from harness.protocol.events import Confirmation
from harness.protocol.pacing import Pacer
from harness.protocol.session import ClientSession

clock = time.monotonic

#: Bytes asked of the socket per ``recv``.
RECV_BYTES = 65536


@dataclass
class StreamResult:
    session: ClientSession
    #: What went wrong after the session opened, if anything.
    error: TargetError | None = None
    #: True when the caller's ``stop`` event ended the audio early.
    interrupted: bool = False


class Connection:
    """An open WebSocket: a gevent socket plus a Sans-I/O ``ClientProtocol``.

    Sends are serialized by a lock (the receiver greenlet also sends: close replies,
    pongs); gevent allows one reader and one writer on a socket at a time.
    """

    def __init__(self, sock: socket.socket, protocol: ClientProtocol) -> None:
        self.sock = sock
        self.protocol = protocol
        self._send_lock = gevent.lock.Semaphore()

    def flush(self) -> None:
        with self._send_lock:
            for data in self.protocol.data_to_send():
                if data:
                    self._send_all(data)
                else:  # the protocol asks for a half-close (after the closing handshake)
                    with contextlib.suppress(OSError):
                        self.sock.shutdown(_stdlib_socket.SHUT_WR)

    def _send_all(self, data: bytes) -> None:
        """``sendall`` without gevent's per-call ``getsockopt`` and chunking loop.

        An audio frame nearly always fits the socket buffer: one ``send`` (which waits,
        within the socket's timeout, only when the buffer is full) is the whole cost.
        """
        sent = self.sock.send(data)
        if sent < len(data):  # a full buffer: the rest within one overall timeout
            self.sock.sendall(memoryview(data)[sent:])

    def send_binary(self, data: bytes) -> None:
        self.protocol.send_binary(data)
        self.flush()

    def send_text(self, text: str) -> None:
        self.protocol.send_text(text.encode("utf-8"))
        self.flush()

    @property
    def close_rcvd(self) -> tuple[int, str] | None:
        rcvd = self.protocol.close_rcvd
        return (rcvd.code, rcvd.reason) if rcvd is not None else None

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


def _tcp_connect(host: str, port: int) -> socket.socket:
    """A TCP connection; an IP literal skips the resolver (a thread-pool round trip)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return socket.create_connection((host, port))
    family = _stdlib_socket.AF_INET6 if ip.version == 6 else _stdlib_socket.AF_INET
    sock = socket.socket(family, _stdlib_socket.SOCK_STREAM)
    try:
        sock.connect((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


@functools.lru_cache(maxsize=8)
def _tls_context(ca_file: str | None) -> ssl.SSLContext:
    """One verifying context per CA file for the whole run: loading CAs is not per session.

    ``gevent.ssl.create_default_context`` returns the *standard library's* context, whose
    sockets block the whole hub; gevent's own ``SSLContext`` makes cooperative sockets.
    The settings are ``create_default_context``'s: TLS client, hostname check, CERT_REQUIRED.
    """
    ctx = ssl.SSLContext(_stdlib_ssl.PROTOCOL_TLS_CLIENT)
    if ca_file:
        ctx.load_verify_locations(cafile=ca_file)
    else:
        ctx.load_default_certs()
    return ctx


def open_connection(target: Target, session: ClientSession) -> Connection:
    """TCP, TLS, WebSocket handshake within ``timeouts.open``; every failure → one error."""
    host = target.host
    session.connect_started(clock())
    sock: socket.socket | None = None
    try:
        with gevent.Timeout(target.timeouts.open, False):
            sock = _tcp_connect(host, target.port)
            sock.setsockopt(_stdlib_socket.IPPROTO_TCP, _stdlib_socket.TCP_NODELAY, 1)
            if target.secure:
                sock = _tls_context(target.ca_file).wrap_socket(sock, server_hostname=host)
            protocol = ClientProtocol(parse_uri(target.url), max_size=None)
            request = protocol.connect()
            for name, value in target.headers().items():
                request.headers[name] = value
            protocol.send_request(request)
            conn = Connection(sock, protocol)
            conn.flush()
            response = _read_response(conn)
            if protocol.handshake_exc is not None:
                raise protocol.handshake_exc
            if response is None:
                raise ConnectFailed(f"{target.netloc} closed the connection during the handshake")
            session.opened(clock())
            return conn
        raise SessionTimeout("the opening handshake", target.timeouts.open)
    except Exception as exc:
        _close(sock)
        error = connect_error(exc, target)
        if error is None:
            raise
        raise error from None
    except BaseException:
        _close(sock)
        raise


def _close(sock: socket.socket | None) -> None:
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.close()


def _read_response(conn: Connection) -> Response | None:
    while True:
        data = conn.sock.recv(RECV_BYTES)
        if data:
            conn.protocol.receive_data(data)
        else:
            conn.protocol.receive_eof()
        for ev in conn.protocol.events_received():
            if isinstance(ev, Response):
                return ev
        if not data or conn.protocol.handshake_exc is not None:
            return None


def stream(
    target: Target,
    frames: Iterable[bytes],
    *,
    speed: float = 1.0,
    stop: gevent.event.Event | None = None,
    session: ClientSession | None = None,
) -> StreamResult:
    """Run one session: stream ``frames`` at ``speed`` x real time, end, confirm, close.

    Raises ``ConnectFailed``, ``HandshakeRejected`` or ``SessionTimeout`` when no session
    opens. Killing the calling greenlet (Locust stopping a user) closes the socket and
    kills the receiver on the way out.
    """
    session = session or ClientSession(target.dialect)
    conn = open_connection(target, session)
    result = StreamResult(session)
    confirmed = gevent.event.Event()
    receiver = gevent.spawn(_receive, conn, session, confirmed)
    t = target.timeouts
    try:
        conn.sock.settimeout(t.send)
        result.interrupted = _send_audio(conn, session, frames, speed, stop, receiver)
        if receiver.dead:
            result.error = _dropped(conn, "before the end of the stream")
            return result
        conn.send_text(session.end_of_stream(clock()))
        _await_closing(conn, receiver, confirmed, target, result)
    except TimeoutError:
        result.error = SessionTimeout("sending audio", t.send)
    except (OSError, InvalidState):
        # InvalidState: the receiver saw the connection end while this greenlet slept.
        result.error = _dropped(conn, "while audio was being sent")
    finally:
        if not receiver.dead:
            receiver.kill(block=False)
        conn.abort()
    return result


def _send_audio(
    conn: Connection,
    session: ClientSession,
    frames: Iterable[bytes],
    speed: float,
    stop: gevent.event.Event | None,
    receiver: gevent.Greenlet,
) -> bool:
    """Send every frame on its absolute deadline; True when stopped early by ``stop``."""
    pacer = Pacer(clock(), speed)
    offset = 0
    for frame in frames:
        if stop is not None and stop.is_set():
            return True
        if receiver.dead:
            return False
        due = pacer.due(offset)
        delay = due - clock()
        if delay > 0:
            gevent.sleep(delay)
        sent = clock()
        conn.send_binary(frame)
        session.frame_sent(len(frame), due, sent)
        offset += len(frame)
    return bool(stop is not None and stop.is_set())


def _receive(conn: Connection, session: ClientSession, confirmed: gevent.event.Event) -> None:
    """Feed arriving bytes to both Sans-I/O layers until the connection ends."""
    protocol = conn.protocol
    fragments: list[bytes | bytearray | memoryview] = []
    text = False
    while True:
        try:
            data = conn.sock.recv(RECV_BYTES)
        except TimeoutError:
            continue  # the socket timeout bounds sends; the caller bounds the waits
        except OSError:
            data = b""
        at = clock()
        if data:
            protocol.receive_data(data)
        else:
            protocol.receive_eof()
        for ev in protocol.events_received():
            if not isinstance(ev, Frame):
                continue
            if ev.opcode in (Opcode.TEXT, Opcode.BINARY):
                text = ev.opcode is Opcode.TEXT
                fragments = [ev.data]
            elif ev.opcode is Opcode.CONT:
                fragments.append(ev.data)
            else:
                continue
            if not ev.fin:
                continue
            payload = b"".join(fragments)
            fragments = []
            message = payload.decode("utf-8", "replace") if text else payload
            for sev in session.receive(message, at):
                if isinstance(sev, Confirmation):
                    confirmed.set()
        with contextlib.suppress(OSError):
            conn.flush()  # close replies and pongs
        if not data:
            break
    rcvd = conn.close_rcvd
    session.closed(clock(), rcvd[0] if rcvd else None, rcvd[1] if rcvd else "")


def _await_closing(
    conn: Connection,
    receiver: gevent.Greenlet,
    confirmed: gevent.event.Event,
    target: Target,
    result: StreamResult,
) -> None:
    t = target.timeouts
    deadline = clock() + t.confirm
    # Wake on the confirmation or on the receiver ending, whichever comes first.
    receiver.rawlink(lambda _g: confirmed.set())
    confirmed.wait(t.confirm)
    if not result.session.confirmed:
        if receiver.dead or conn.close_rcvd is not None or clock() < deadline:
            result.error = _dropped(conn, "without confirming")
        else:
            result.error = SessionTimeout("the close confirmation", t.confirm)
        return
    receiver.join(t.close)
    if not receiver.dead:
        result.error = SessionTimeout(
            "the server to close the connection after confirming", t.close
        )


def _dropped(conn: Connection, when: str) -> ConnectionDropped:
    rcvd = conn.close_rcvd
    if rcvd is None:
        return ConnectionDropped(f"server dropped the connection {when} (no close frame)")
    code, reason = rcvd
    return ConnectionDropped(
        f"server closed the connection {when} (close code {code}{': ' + reason if reason else ''})",
        code,
    )
