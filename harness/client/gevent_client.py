"""The gevent I/O adapter: a gevent socket carrying one ``Wire`` (Sans-I/O).

Locust runs every user as a greenlet, so this adapter is native to gevent: a
``gevent.socket`` carries the bytes; the core (``harness.protocol``: websockets'
``ClientProtocol`` under the ``Wire``, the asrx ``ClientSession``, the pacing schedule, the
closing decisions, the result) does everything else, exactly as for ``harness.client.aio``.
No thread, no event-loop bridge, no monkey-patching required (it works with or without).
``benchmarks/load_io.py`` measured this design against the websockets sync client and
websocket-client under gevent; docs/benchmarks.md has the figures behind the choice.

Two greenlets per session: the caller's sends at real-time pacing, a receiver feeds what
arrives to the wire. This is the per-frame hot path of a load run: one ``send`` per frame,
no per-frame objects beyond the frame's own. Every wait has a timeout from
``Target.timeouts``.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import socket as _stdlib_socket
import ssl as _stdlib_ssl
import time
from collections.abc import Iterable
from typing import Protocol

import gevent
import gevent.event
import gevent.lock
from gevent import socket, ssl

from harness.client.target import Target, connect_error
from harness.errors import SessionTimeout
from harness.protocol.ending import Wait
from harness.protocol.pacing import FrameSchedule
from harness.protocol.result import StreamResult
from harness.protocol.session import ClientSession
from harness.protocol.wire import Wire
from harness.timeouts import Timeouts

clock = time.monotonic

#: Bytes asked of the socket per ``recv``.
RECV_BYTES = 65536


class SendsData(Protocol):
    """A Sans-I/O protocol with bytes to write (a ``Wire``, or websockets' ``ClientProtocol``)."""

    def data_to_send(self) -> list[bytes]: ...


class Connection:
    """A gevent socket writing what a Sans-I/O protocol queues.

    Writes are serialized by a lock (the receiver greenlet writes too: close replies,
    pongs); gevent allows one reader and one writer on a socket at a time.
    """

    def __init__(self, sock: socket.socket, protocol: SendsData) -> None:
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


def open_connection(target: Target, session: ClientSession) -> tuple[Connection, Wire]:
    """TCP, TLS, WebSocket handshake within ``timeouts.open``; every failure → one error."""
    host = target.host
    sock: socket.socket | None = None
    try:
        wire = Wire(session, target.url, target.headers(), target.limits.max_message_bytes)
        wire.connect(clock())
        with gevent.Timeout(target.timeouts.open, False):
            sock = _tcp_connect(host, target.port)
            sock.setsockopt(_stdlib_socket.IPPROTO_TCP, _stdlib_socket.TCP_NODELAY, 1)
            if target.secure:
                sock = _tls_context(target.ca_file).wrap_socket(sock, server_hostname=host)
            conn = Connection(sock, wire)
            conn.flush()
            while not wire.opened:
                data = sock.recv(RECV_BYTES)
                if data:
                    wire.receive_data(data, clock())
                else:
                    wire.receive_eof(clock())
                failure = wire.handshake_failure(eof=not data)
                if failure is not None:
                    raise failure
            return conn, wire
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


def stream(
    target: Target,
    frames: Iterable[bytes],
    *,
    speed: float | None = 1.0,
    stop: gevent.event.Event | None = None,
    session: ClientSession | None = None,
) -> StreamResult:
    """Run one session: stream ``frames`` at ``speed`` x real time, end, confirm, close.

    Raises ``ConnectFailed``, ``HandshakeRejected`` or ``SessionTimeout`` when no session
    opens; afterwards everything is in the returned ``StreamResult``. Killing the calling
    greenlet (Locust stopping a user) closes the socket and kills the receiver on the way out.
    """
    session = session or ClientSession(target.dialect, target.limits)
    conn, wire = open_connection(target, session)
    changed = gevent.event.Event()
    receiver = gevent.spawn(_receive, conn, wire, changed)
    t = target.timeouts
    try:
        conn.sock.settimeout(t.send)
        _send_frames(conn, wire, frames, speed, stop)
        if wire.can_send:
            wire.send_end_of_stream(clock())
            conn.flush()
        _close_sequence(wire, changed, t)
    except TimeoutError:
        wire.timeout(Wait.SEND)
    except OSError:
        wire.connection_lost(clock())
    finally:
        wire.abandon()
        with contextlib.suppress(OSError):
            conn.flush()
        if not receiver.dead:
            receiver.kill(block=False)
        conn.abort()
    return wire.result(t)


def _send_frames(
    conn: Connection,
    wire: Wire,
    frames: Iterable[bytes],
    speed: float | None,
    stop: gevent.event.Event | None,
) -> None:
    """Send every frame on its absolute deadline, while the session takes audio."""
    schedule = FrameSchedule(clock(), speed)
    for frame in frames:
        now = clock()
        due = schedule.next(len(frame), now)
        if due > now:
            gevent.sleep(due - now)
        if stop is not None and stop.is_set():
            wire.interrupt()
            return
        if not wire.can_send_audio:
            return
        sent = clock()
        wire.send_audio(frame)
        conn.flush()
        wire.audio_sent(len(frame), due, sent)
    if stop is not None and stop.is_set():
        wire.interrupt()


def _receive(conn: Connection, wire: Wire, changed: gevent.event.Event) -> None:
    """Feed arriving bytes to the wire until the connection ends."""
    while True:
        try:
            data = conn.sock.recv(RECV_BYTES)
        except TimeoutError:
            continue  # the socket timeout bounds sends; the caller bounds the waits
        except OSError:
            data = b""
        if data:
            wire.receive_data(data, clock())
        else:
            wire.receive_eof(clock())
        with contextlib.suppress(OSError):
            conn.flush()  # close replies and pongs
        changed.set()
        if not data:
            return


def _close_sequence(wire: Wire, changed: gevent.event.Event, timeouts: Timeouts) -> None:
    """Wait for what the wire names (confirmation, close), each wait bounded."""
    while (wait := wire.next_wait()) is not None:
        deadline = clock() + wait.seconds(timeouts)
        while not wire.wait_over(wait):
            remaining = deadline - clock()
            if remaining <= 0:
                wire.timeout(wait)
                break
            changed.clear()
            changed.wait(remaining)
