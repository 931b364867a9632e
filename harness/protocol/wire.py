"""``Wire``: one asrx session over one WebSocket connection, Sans-I/O.

Two Sans-I/O layers stacked: websockets' ``ClientProtocol`` (RFC 6455: the opening
handshake, framing, pings, the closing handshake) under the harness's ``ClientSession``
(asrx). Between them the wire assembles frames into messages, decodes text as strict UTF-8,
refuses messages over the size limit at their frame header, and turns every way the
connection can end into the facts ``ending.decide_end`` reads. An I/O adapter
(``harness.client.aio``, ``harness.client.gevent_client``, ``harness.client.raw``) only
moves bytes, sleeps and reads the clock::

    wire = Wire(session, url, headers, max_message_bytes)
    wire.connect(clock())                        # queues the opening handshake
    write(wire.data_to_send())
    while not wire.opened:                       # raise wire.handshake_failure(eof) if any
        data = read(); wire.receive_data(data, clock()) if data else wire.receive_eof(clock())
    # a receiver: events = wire.receive_data(data, clock()) / wire.receive_eof(clock()),
    # then write(wire.data_to_send()) (pongs, close replies)
    for frame in frames:                         # paced by protocol.pacing.FrameSchedule
        if not wire.can_send_audio: break
        wire.send_audio(frame); write(wire.data_to_send()); wire.audio_sent(size, due, sent)
    if wire.can_send: wire.send_end_of_stream(clock()); write(...)
    while (wait := wire.next_wait()) is not None:
        wait until wire.wait_over(wait), at most wait.seconds(timeouts), else wire.timeout(wait)
    return wire.result(timeouts)

A send that times out is ``wire.timeout(Wait.SEND)``; a socket error is
``wire.connection_lost(at)``; leaving is ``wire.abandon()`` (a no-op once the session
closed), after which the adapter writes what is queued and closes the socket.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping

from websockets.client import ClientProtocol
from websockets.frames import Close, CloseCode, Frame, Opcode, apply_mask
from websockets.http11 import Response
from websockets.protocol import State as WsState
from websockets.uri import parse_uri

from harness.errors import ConnectFailed
from harness.protocol.ending import CLIENT_FAILURES, SessionEnd, Wait, decide_end, end_error
from harness.protocol.events import Event, Finding, quote
from harness.protocol.result import StreamResult
from harness.protocol.session import ClientSession
from harness.protocol.state import State
from harness.timeouts import Timeouts

#: Bytes of an undecodable text message quoted on each side of the first bad byte.
_UTF8_CONTEXT = 16


class _MaskKeys:
    """Masking keys for client frames, 4 bytes each, cut from one ``os.urandom`` read
    of ``POOL`` bytes: the operating system's CSPRNG, as RFC 6455 §5.3 asks, without a
    system call per frame (websockets makes one, through ``secrets``)."""

    POOL = 4096

    def __init__(self) -> None:
        self._keys: list[bytes] = []

    def take(self) -> bytes:
        keys = self._keys
        if not keys:
            pool = os.urandom(self.POOL)
            keys += [pool[i : i + 4] for i in range(0, self.POOL, 4)]
        return keys.pop()


_take_key = _MaskKeys().take
_HEAD_16 = struct.Struct("!BBH").pack  # FIN + binary, mask bit + 126, 16-bit length
_HEAD_64 = struct.Struct("!BBQ").pack  # FIN + binary, mask bit + 127, 64-bit length
#: Headers by payload length, for the few lengths a stream's frames have.
_HEADS: dict[int, bytes] = {}


def _head(n: int) -> bytes:
    if n < 126:
        head = bytes((0x82, 0x80 | n))
    elif n < 65536:
        head = _HEAD_16(0x82, 0xFE, n)
    else:
        head = _HEAD_64(0x82, 0xFF, n)
    if len(_HEADS) < 64:
        _HEADS[n] = head
    return head


def binary_frame(payload: bytes) -> bytes:
    """One masked, unfragmented client binary frame (RFC 6455 §5.2): what websockets'
    ``send_binary`` queues, built in one step for the per-frame hot path."""
    n = len(payload)
    key = _take_key()
    return b"".join((_HEADS.get(n) or _head(n), key, apply_mask(payload, key)))


class Wire:
    def __init__(
        self,
        session: ClientSession,
        url: str,
        headers: Mapping[str, str],
        max_message_bytes: int,
    ) -> None:
        uri = parse_uri(url)
        self.session = session
        self.protocol = ClientProtocol(uri, max_size=max_message_bytes)
        self.max_message_bytes = max_message_bytes
        self._netloc = f"{uri.host}:{uri.port}"
        self._headers = dict(headers)
        #: The opening handshake completed (HTTP 101).
        self.opened = False
        #: The client failed the connection over a server frame (``CLIENT_FAILURES``).
        self.failure: SessionEnd | None = None
        #: The wait that ran out, if one did.
        self.timed_out: Wait | None = None
        self.interrupted = False
        self._abandoned = False
        self._closed_by_server = False
        self._eof = False
        # A fragmented message in progress: its bytes so far and whether it is text.
        self._partial: bytearray | None = None
        self._partial_text = False

    # -- opening handshake ------------------------------------------------------------
    def connect(self, at: float) -> None:
        """Queue the opening handshake request (the key header among ``headers``)."""
        self.session.connect_started(at)
        request = self.protocol.connect()
        for name, value in self._headers.items():
            request.headers[name] = value
        self.protocol.send_request(request)

    def handshake_failure(self, eof: bool) -> Exception | None:
        """Why the opening handshake cannot complete, if it cannot (``connect_error`` maps it)."""
        if self.protocol.handshake_exc is not None:
            return self.protocol.handshake_exc
        if eof and not self.opened:  # websockets names this itself; never loop on EOF
            return ConnectFailed(f"{self._netloc} closed the connection during the handshake")
        return None

    # -- bytes in and out ---------------------------------------------------------------
    def data_to_send(self) -> list[bytes]:
        """Bytes to write, in order; ``b""`` asks for a half-close (websockets' convention)."""
        return self.protocol.data_to_send()

    def receive_data(self, data: bytes, at: float) -> list[Event]:
        """Bytes that arrived at ``at``; the events and findings they make."""
        self.protocol.receive_data(data)
        return self._process(at)

    def receive_eof(self, at: float) -> list[Event]:
        """The server closed its side of the TCP connection (or it broke)."""
        if self._eof:
            return []
        self._eof = True
        self.protocol.receive_eof()
        return self._process(at) + self._ended(at)

    def connection_lost(self, at: float) -> list[Event]:
        """A socket operation failed (reset, broken pipe): the connection is over."""
        return self._ended(at)

    # -- the client's side ----------------------------------------------------------------
    @property
    def can_send(self) -> bool:
        """The WebSocket is open (no close frame sent or received), the session has not
        ended (a dropped connection ends it while websockets may still read OPEN) and no
        send timed out."""
        return (
            self.protocol.state is WsState.OPEN
            and self.timed_out is None
            and self.session.state is not State.CLOSED
        )

    @property
    def can_send_audio(self) -> bool:
        # ``can_send`` narrowed to STREAMING (not CLOSED), the cheapest test first: this
        # is asked before every audio frame.
        return (
            self.session.state is State.STREAMING
            and self.timed_out is None
            and self.protocol.state is WsState.OPEN
        )

    def send_audio(self, frame: bytes) -> None:
        if self._plainly_open():
            self.protocol.writes.append(binary_frame(frame))
        else:  # websockets' own path, with its checks
            self.protocol.send_binary(frame)

    def audio_frame(self, frame: bytes) -> bytes | None:
        """``send_audio`` for a writer that writes the frame at once: its bytes, when
        nothing is queued before it and the connection is plainly open; otherwise None,
        the frame queued behind the rest (``data_to_send``). The per-frame hot path of a
        load worker: the frame never enters websockets' queue."""
        if not self.protocol.writes and self._plainly_open():
            return binary_frame(frame)
        self.send_audio(frame)
        return None

    def _plainly_open(self) -> bool:
        """The connection is open with no extension, no fragment pending and no frame
        logging: a binary frame can be built here instead of by websockets."""
        p = self.protocol
        return p.state is WsState.OPEN and not (
            p.extensions or p.expect_continuation_frame or p.debug
        )

    def audio_sent(self, size: int, scheduled: float, sent: float) -> None:
        """The frame went to the socket at ``sent``; it was due at ``scheduled``."""
        self.session.frame_sent(size, scheduled, sent)

    def send_end_of_stream(self, at: float) -> None:
        self.protocol.send_text(self.session.end_of_stream(at).encode())

    def send_text(self, text: str) -> None:
        """Any text frame (the conformance probes send malformed ones on purpose)."""
        self.protocol.send_text(text.encode())

    def interrupt(self) -> None:
        """The caller stopped the audio early; the session still closes properly."""
        self.interrupted = True

    def abandon(self, close_frame: bool = True) -> None:
        """The client leaves now, with a close frame (1000) unless ``close_frame`` is False
        (an abrupt disconnect); how the connection then ends is not the server's doing."""
        if self.session.state is State.CLOSED:
            return
        self._abandoned = True
        if close_frame and self.protocol.state is WsState.OPEN:
            self.protocol.send_close(CloseCode.NORMAL_CLOSURE)

    # -- the closing sequence -------------------------------------------------------------
    def next_wait(self) -> Wait | None:
        """What to wait for next (docs/protocol.md §4); None: the session is over."""
        if self.timed_out is not None or self.session.state is State.CLOSED:
            return None
        if self.failure is not None or self.session.confirmed:
            return Wait.CLOSE
        if self.session.state is State.CLOSING:
            return Wait.CONFIRM
        return None

    def wait_over(self, wait: Wait) -> bool:
        """Whether what ``wait`` waits for has happened (or can no longer happen)."""
        if self.session.state is State.CLOSED:
            return True
        return wait is Wait.CONFIRM and (self.session.confirmed or self.failure is not None)

    def timeout(self, wait: Wait) -> None:
        self.timed_out = wait

    def result(self, timeouts: Timeouts) -> StreamResult:
        """How the session ended, decided by the core (``ending.decide_end``)."""
        s = self.session
        end = decide_end(
            failure=self.failure,
            timed_out=self.timed_out,
            confirmed=s.confirmed,
            closed_by_server=self._closed_by_server,
            close_code=s.timeline.close_code,
        )
        return StreamResult(s, end, end_error(end, s, timeouts), self.interrupted)

    # -- internals ------------------------------------------------------------------------
    def _process(self, at: float) -> list[Event]:
        out: list[Event] = []
        p = self.protocol
        for ev in p.events_received():
            if isinstance(ev, Frame):
                if self.failure is None:  # after failing, RFC 6455 §7.1.7: read no further
                    message = self._assemble(ev, out)
                    if message is not None:
                        out += self.session.receive(message, at)
            elif isinstance(ev, Response) and p.handshake_exc is None:
                self.opened = True
                self.session.opened(at)
        # A close frame we sent without being asked: websockets failed the connection over
        # a server frame (too big, undecodable, malformed).
        if (
            self.failure is None
            and not self._abandoned
            and p.close_sent is not None
            and p.close_rcvd is None
        ):
            self._client_failure(p.close_sent, out)
        if p.close_rcvd is not None and self.failure is None:
            out += self._closed(at, p.close_rcvd.code, p.close_rcvd.reason)
        return out

    def _assemble(self, frame: Frame, out: list[Event]) -> str | bytes | None:
        """The whole message ``frame`` completes, decoded if text; None: not complete (or
        undecodable, which fails the connection with 1007)."""
        op = frame.opcode
        if op is Opcode.TEXT or op is Opcode.BINARY:
            if not frame.fin:
                self._partial = bytearray(frame.data)
                self._partial_text = op is Opcode.TEXT
                return None
            data: bytes | bytearray | memoryview = frame.data
            text = op is Opcode.TEXT
        elif op is Opcode.CONT and self._partial is not None:
            self._partial += frame.data  # websockets bounds the total to max_message_bytes
            if not frame.fin:
                return None
            data, text, self._partial = self._partial, self._partial_text, None
        else:  # control frames: websockets answers pings and close frames itself
            return None
        if not text:
            return bytes(data)
        try:
            return str(data, "utf-8")
        except UnicodeDecodeError as exc:
            lo = max(0, exc.start - _UTF8_CONTEXT)
            seen = (
                f"{exc.reason} at byte {exc.start} of a {len(data)}-byte text message: "
                f"{quote(bytes(data[lo : exc.start + _UTF8_CONTEXT]))}"
            )
            self.failure = SessionEnd.INVALID_UTF8
            out += self.session.report(Finding("3.utf8", "valid UTF-8 in every text frame", seen))
            self.protocol.fail(CloseCode.INVALID_DATA, f"{exc.reason} at position {exc.start}")
            return None

    def _client_failure(self, close: Close, out: list[Event]) -> None:
        end, rule = CLIENT_FAILURES.get(close.code, (SessionEnd.WEBSOCKET_ERROR, "3.websocket"))
        self.failure = end
        expected = {
            "3.size": f"messages of at most {self.max_message_bytes} bytes",
            "3.utf8": "valid UTF-8 in every text frame and close reason",
        }.get(rule, "frames as RFC 6455 defines them")
        seen = f"{close.reason or 'a bad frame'}; the harness closed with {close.code}"
        out += self.session.report(Finding(rule, expected, seen))

    def _closed(self, at: float, code: int | None, reason: str) -> list[Event]:
        if self.session.state is State.CLOSED:
            return []
        by_client = self._abandoned or self.failure is not None or self.timed_out is not None
        self._closed_by_server = not by_client
        return self.session.closed(at, code, reason, by_client=by_client)

    def _ended(self, at: float) -> list[Event]:
        rcvd = self.protocol.close_rcvd
        if rcvd is not None and self.failure is None:
            return self._closed(at, rcvd.code, rcvd.reason)
        return self._closed(at, None, "")
