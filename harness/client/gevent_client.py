"""The gevent I/O adapter: a gevent socket carrying one ``Wire`` (Sans-I/O).

Locust runs every user as a greenlet, so this adapter is native to gevent: a
``gevent.socket`` carries the bytes; the core (``harness.protocol``: websockets'
``ClientProtocol`` under the ``Wire``, the asrx ``ClientSession``, the pacing schedule, the
closing decisions, the result) does everything else, exactly as for ``harness.client.aio``.
No thread, no event-loop bridge, no monkey-patching required (it works with or without).
``benchmarks/load_io.py`` measured this design against the websockets sync client and
websocket-client under gevent; docs/benchmarks.md has the figures behind the choice.

Per session, a receiver greenlet feeds what arrives to the wire, and the process's pacer
(``harness.client.pacer``: one greenlet for every session) sends each audio frame on its
absolute deadline, handing a frame that would wait back to the caller's greenlet. This is
the per-frame hot path of a load run: one ``send`` per frame, no per-frame objects beyond
the frame's own. Every wait has a timeout from ``Target.timeouts``.
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

from harness.client.pacer import Pacer, Watch, catch_up, pacer
from harness.client.target import Target, connect_error
from harness.errors import SessionTimeout
from harness.protocol.ending import Wait
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
    pongs; the pacer writes audio frames); gevent allows one reader and one writer on a
    socket at a time.

    The socket itself has no timeout: a gevent socket with one arms a timer for every
    ``recv``, and the receiver waits for transcripts on every session all the time. A
    write that has to wait for buffer space is bounded by ``send_timeout`` instead.
    """

    def __init__(self, sock: socket.socket, protocol: SendsData, secure: bool = False) -> None:
        self.sock = sock
        self.protocol = protocol
        #: TLS: a write may wait even for buffer space that is there (the TLS layer may
        #: need to read), so every write takes the waiting path.
        self.secure = secure
        #: Bound on one write that waits for buffer space (None: unbounded, during the
        #: opening handshake, which ``timeouts.open`` bounds as a whole).
        self.send_timeout: float | None = None
        self._send_lock = gevent.lock.Semaphore()
        #: The socket's own ``send`` without gevent's wrapper (its timeout handling), for
        #: writes that never wait: a gevent socket's underlying socket is non-blocking.
        raw = getattr(sock, "_sock", None)
        self._send_raw = raw.send if raw is not None and raw.gettimeout() == 0.0 else None

    def flush(self) -> None:
        with self._send_lock:
            self._write(self.protocol.data_to_send())

    # -- the pacer's writes (``harness.client.pacer``) -------------------------------------
    def writing(self) -> bool:
        """Another greenlet is writing: a write now would wait for it."""
        return self._send_lock.locked()

    def write_now(self, chunks: list[bytes] | None = None) -> list[bytes]:
        """Write ``chunks`` (None: what the protocol queued) without waiting; return what
        did not fit, in which case the lock is taken for ``finish_write``. The caller saw
        ``writing()`` False and let no other greenlet run since."""
        if self._send_lock.locked():
            raise RuntimeError("write_now while another greenlet writes")
        if chunks is None:
            chunks = self.protocol.data_to_send()
        for i, data in enumerate(chunks):
            if not data:  # a half-close: the waiting path does it
                rest = chunks[i:]
                break
            sent = self._send_now(data)
            if sent < len(data):
                rest = [data[sent:], *chunks[i + 1 :]]
                break
        else:
            return []
        self._send_lock.acquire()  # free, as checked: this does not wait
        return rest

    def finish_write(self, rest: list[bytes]) -> None:
        """Write ``rest`` (what ``write_now`` left, its lock still taken) within the
        send timeout, then release the lock."""
        try:
            self._write(rest)
        finally:
            self._send_lock.release()

    def release(self) -> None:
        """Give up a write ``write_now`` left unfinished (the connection is abandoned)."""
        self._send_lock.release()

    def _write(self, chunks: list[bytes]) -> None:
        for data in chunks:
            if data:
                self._send_all(data)
            else:  # the protocol asks for a half-close (after the closing handshake)
                with contextlib.suppress(OSError):
                    self.sock.shutdown(_stdlib_socket.SHUT_WR)

    def _send_now(self, data: bytes) -> int:
        """Bytes of ``data`` the socket took without waiting (plain TCP only)."""
        try:
            if self._send_raw is not None:
                return int(self._send_raw(data))
            return int(self.sock.send(data, 0, 0.0))
        except BlockingIOError:
            return 0

    def _send_all(self, data: bytes) -> None:
        """All of ``data``; waits for buffer space within ``send_timeout``.

        An audio frame nearly always fits the socket buffer: one ``send`` is the whole
        cost, with no timer and none of gevent's ``sendall`` chunking loop.
        """
        view: bytes | memoryview = data
        if not self.secure:
            sent = self._send_now(data)
            if sent == len(data):
                return
            view = memoryview(data)[sent:]
        timeout = self.send_timeout
        with gevent.Timeout(timeout, SendTimedOut(timeout) if timeout is not None else None):
            self.sock.sendall(view)

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class SendTimedOut(TimeoutError):
    """A write found no buffer space within the send timeout."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no buffer space to send within {seconds:g} s")


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
            sock.settimeout(None)  # whatever the process default: ``Connection`` says why
            if target.secure:
                sock = _tls_context(target.ca_file).wrap_socket(sock, server_hostname=host)
            conn = Connection(sock, wire, secure=target.secure)
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
            catch_up()  # sessions opening in a row do not hold other sessions' frames
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
    paced = pacer()
    watch = None if target.secure else paced.watch(conn.sock)
    receiver = gevent.spawn(_receive, conn, wire, changed, paced, watch)
    t = target.timeouts
    try:
        conn.send_timeout = t.send
        paced.send_frames(conn, wire, frames, speed, stop, direct=not target.secure)
        if stop is not None and stop.is_set():
            wire.interrupt()
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
        paced.unwatch(watch)  # before the socket closes: its descriptor may be reused
        if not receiver.dead:
            receiver.kill(block=False)
        conn.abort()
    return wire.result(t)


def _receive(
    conn: Connection, wire: Wire, changed: gevent.event.Event, paced: Pacer, watch: Watch | None
) -> None:
    """Feed arriving bytes to the wire until the connection ends (the caller bounds the
    waits: the socket has no timeout). With a ``watch``, the pacer says on its tick when
    the socket holds bytes, and they are timed by the kernel's stamp of their arrival."""
    while True:
        at: float | None = None
        if watch is not None and watch.active:
            watch.ready.wait()
            watch.ready.clear()
            if not watch.active:
                continue
            try:
                data, at = watch.recv(RECV_BYTES)
            except BlockingIOError:  # read meanwhile
                continue
            except OSError:
                data = b""
        else:
            try:
                data = conn.sock.recv(RECV_BYTES)
            except OSError:
                data = b""
        paced.catch_up()  # frames due go out before this read is processed
        if at is None:
            at = clock()
        if data:
            wire.receive_data(data, at)
        else:
            wire.receive_eof(at)
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
