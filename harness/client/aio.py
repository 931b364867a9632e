"""The asyncio I/O adapter: asyncio streams carrying one ``Wire`` (Sans-I/O).

It owns the socket and the clock (``time.monotonic``) and does only I/O: connect, write what
the wire queues, read into it, sleep until each frame's deadline, and wait (bounded) for
what the wire names. WebSocket framing, message assembly and decoding, the asrx session,
pacing, the closing decisions and the result are the core's (``harness.protocol``).
``stream`` runs a whole session (``asrx stream``, the suite); ``harness.client.raw``
drives one by hand over the same ``Connection``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator, Callable, Iterable

from harness.client.target import Target, connect_error
from harness.protocol.ending import Wait
from harness.protocol.events import Event
from harness.protocol.pacing import FrameSchedule
from harness.protocol.result import StreamResult
from harness.protocol.session import ClientSession
from harness.protocol.wire import Wire
from harness.timeouts import Timeouts

clock = time.monotonic

#: Called with each event and its arrival time, as it arrives.
EventCallback = Callable[[Event, float], None]
#: Bytes asked of the stream per read.
RECV_BYTES = 65536

Frames = Iterable[bytes] | AsyncIterator[bytes]


class Connection:
    """An open WebSocket: an asyncio stream pair and the ``Wire`` whose bytes it carries.

    A receiver task reads into the wire, writes its replies (pongs, the close echo) and sets
    ``changed``, which every wait watches.
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        wire: Wire,
        timeouts: Timeouts,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.wire = wire
        self.timeouts = timeouts
        self.changed = asyncio.Event()
        self.on_event: EventCallback | None = None
        self.receiver: asyncio.Task[None] | None = None

    # -- bytes out ------------------------------------------------------------------------
    def write(self) -> bool:
        """Hand what the wire has queued to the transport; True if there was any."""
        wrote = False
        for data in self.wire.data_to_send():
            wrote = True
            if data:
                self.writer.write(data)
            elif self.writer.can_write_eof():  # half-close after the closing handshake
                with contextlib.suppress(OSError):
                    self.writer.write_eof()
        return wrote

    async def flush(self) -> None:
        """``write``, then wait until the transport takes it (``TimeoutError`` after
        ``timeouts.send``: the server stopped reading)."""
        if self.write():
            async with asyncio.timeout(self.timeouts.send):
                await self.writer.drain()

    # -- bytes in -------------------------------------------------------------------------
    async def handshake(self) -> list[tuple[Event, float]]:
        """Read until the opening handshake completes; raise why it cannot. Returns the
        events of anything that arrived with the response."""
        wire = self.wire
        early: list[tuple[Event, float]] = []
        while not wire.opened:
            data = await self.reader.read(RECV_BYTES)
            at = clock()
            events = wire.receive_data(data, at) if data else wire.receive_eof(at)
            early += [(ev, at) for ev in events]
            failure = wire.handshake_failure(eof=not data)
            if failure is not None:
                raise failure
        return early

    def start(self, on_event: EventCallback | None, early: list[tuple[Event, float]]) -> None:
        self.on_event = on_event
        if on_event is not None:
            for ev, at in early:
                on_event(ev, at)
        self.receiver = asyncio.create_task(self._receive())

    async def _receive(self) -> None:
        wire = self.wire
        try:
            while True:
                try:
                    data = await self.reader.read(RECV_BYTES)
                except OSError:
                    data = b""
                at = clock()
                events = wire.receive_data(data, at) if data else wire.receive_eof(at)
                self.dispatch(events, at)
                try:
                    await self.flush()
                except (OSError, TimeoutError):
                    # A server that does not read our replies: drop it rather than queue.
                    self.writer.transport.abort()
                self.changed.set()
                if not data:
                    return
        finally:
            self.changed.set()

    def dispatch(self, events: list[Event], at: float) -> None:
        if self.on_event is not None:
            for ev in events:
                self.on_event(ev, at)

    def lost(self) -> None:
        """A write failed: the connection is over."""
        at = clock()
        self.dispatch(self.wire.connection_lost(at), at)
        self.changed.set()

    # -- waiting --------------------------------------------------------------------------
    async def until(self, done: Callable[[], bool], seconds: float) -> bool:
        """Wait until ``done()`` (checked whenever something arrives), at most ``seconds``."""
        deadline = clock() + seconds
        while not done():
            remaining = deadline - clock()
            if remaining <= 0:
                return False
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self.changed.wait()
        return True

    async def close_sequence(self) -> None:
        """Wait for what the wire names (confirmation, close), each wait bounded."""
        wire = self.wire
        while (wait := wire.next_wait()) is not None:
            over = functools.partial(wire.wait_over, wait)
            if not await self.until(over, wait.seconds(self.timeouts)):
                wire.timeout(wait)

    # -- sending audio --------------------------------------------------------------------
    async def send_frames(
        self, frames: Frames, speed: float | None, stop: asyncio.Event | None = None
    ) -> None:
        """Send each frame on its deadline until the frames end, ``stop`` is set or the
        session can no longer take audio. A send that times out or fails ends it."""
        wire = self.wire
        schedule = FrameSchedule(clock(), speed)
        try:
            async for frame in _aiter(frames):
                now = clock()
                due = schedule.next(len(frame), now)
                await asyncio.sleep(due - now if due > now else 0)  # 0: let the receiver run
                if stop is not None and stop.is_set():
                    break
                if not wire.can_send_audio:
                    return
                sent = clock()
                wire.send_audio(frame)
                await self.flush()
                wire.audio_sent(len(frame), due, sent)
        except TimeoutError:
            wire.timeout(Wait.SEND)
            return
        except OSError:
            self.lost()
            return
        if stop is not None and stop.is_set():
            wire.interrupt()

    async def send_end_of_stream(self) -> None:
        if not self.wire.can_send:
            return
        self.wire.send_end_of_stream(clock())
        try:
            await self.flush()
        except TimeoutError:
            self.wire.timeout(Wait.SEND)
        except OSError:
            self.lost()

    async def close(self) -> None:
        """Leave, bounded, whatever state the session is in (a close frame if it is open)."""
        self.wire.abandon()
        self.write()
        self.writer.close()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self.timeouts.close):
                await self.writer.wait_closed()
        self.writer.transport.abort()
        if self.receiver is not None:
            if not self.receiver.done():
                self.receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.receiver


async def _aiter(frames: Frames) -> AsyncIterator[bytes]:
    if isinstance(frames, AsyncIterator):
        async for f in frames:
            yield f
    else:
        for f in frames:
            yield f


async def open_connection(
    target: Target, session: ClientSession, on_event: EventCallback | None = None
) -> Connection:
    """TCP, TLS and the opening handshake within ``timeouts.open``; every failure is one
    error from ``connect_error`` (``ConnectFailed``, ``HandshakeRejected``, ``SessionTimeout``)."""
    writer: asyncio.StreamWriter | None = None
    try:
        wire = Wire(session, target.url, target.headers(), target.limits.max_message_bytes)
        wire.connect(clock())
        async with asyncio.timeout(target.timeouts.open):
            reader, writer = await asyncio.open_connection(
                target.host,
                target.port,
                ssl=target.ssl_context(),
                server_hostname=target.host if target.secure else None,
            )
            conn = Connection(reader, writer, wire, target.timeouts)
            await conn.flush()
            early = await conn.handshake()
    except Exception as exc:
        if writer is not None:
            writer.transport.abort()
        error = connect_error(exc, target)
        if error is None:
            raise
        raise error from None
    except BaseException:
        if writer is not None:
            writer.transport.abort()
        raise
    conn.start(on_event, early)
    return conn


async def stream(
    target: Target,
    frames: Frames,
    *,
    speed: float | None = 1.0,
    on_event: EventCallback | None = None,
    stop: asyncio.Event | None = None,
    session: ClientSession | None = None,
) -> StreamResult:
    """Run one session: stream ``frames``, end the stream, await confirmation and close.

    ``speed`` paces frames at that multiple of real time; ``None`` sends each frame as
    it becomes available (a live source such as a microphone paces itself). Setting
    ``stop`` ends the audio early and still closes the session properly.

    Raises ``ConnectFailed``, ``HandshakeRejected`` or ``SessionTimeout`` when no session
    opens; afterwards everything is in the returned ``StreamResult``.
    """
    session = session or ClientSession(target.dialect, target.limits)
    conn = await open_connection(target, session, on_event)
    try:
        await conn.send_frames(frames, speed, stop)
        await conn.send_end_of_stream()
        await conn.close_sequence()
    finally:
        await conn.close()
    return conn.wire.result(target.timeouts)
