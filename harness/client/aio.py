"""The asyncio I/O adapter: one streaming asrx session over ``websockets``.

It owns the socket and the clock (``time.monotonic``) and drives a Sans-I/O
``ClientSession``: connect, send PCM at real-time pacing with absolute deadlines while
receiving concurrently, send end-of-stream, wait for the confirmation and the close.
Every wait has a timeout from ``Target.timeouts``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from harness.client.target import Target, connect_error
from harness.errors import (
    ConnectionDropped,
    SessionTimeout,
    TargetError,
)
from harness.protocol.events import Confirmation, Event
from harness.protocol.pacing import Pacer
from harness.protocol.session import ClientSession

clock = time.monotonic

#: Called with each event and its arrival time, as it arrives.
EventCallback = Callable[[Event, float], None]


@dataclass
class StreamResult:
    session: ClientSession
    #: What went wrong on the server's side after the session opened, if anything.
    error: TargetError | None = None
    #: True when the client stopped sending early (Ctrl-C or a stop request).
    interrupted: bool = False
    extra: dict[str, object] = field(default_factory=dict)


async def open_connection(target: Target, session: ClientSession) -> ClientConnection:
    """Open the WebSocket, recording the connect time; map every failure to one error."""
    session.connect_started(clock())
    try:
        ws = await connect(
            target.url,
            additional_headers=target.headers(),
            ssl=target.ssl_context(),
            open_timeout=target.timeouts.open,
            close_timeout=target.timeouts.close,
            ping_interval=None,
            compression=None,
            proxy=None,
            max_size=None,
        )
    except Exception as exc:
        error = connect_error(exc, target)
        if error is None:
            raise
        raise error from None
    session.opened(clock())
    return ws


async def _aiter(frames: Iterable[bytes] | AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if isinstance(frames, AsyncIterator):
        async for f in frames:
            yield f
    else:
        for f in frames:
            yield f


async def stream(
    target: Target,
    frames: Iterable[bytes] | AsyncIterator[bytes],
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
    opens; afterwards, failures are returned in ``StreamResult.error`` with the timeline
    recorded so far.
    """
    session = session or ClientSession(target.dialect)
    ws = await open_connection(target, session)
    result = StreamResult(session)
    confirmed = asyncio.Event()

    async def receive() -> None:
        try:
            async for message in ws:
                at = clock()
                for ev in session.receive(message, at):
                    if isinstance(ev, Confirmation):
                        confirmed.set()
                    if on_event:
                        on_event(ev, at)
        except ConnectionClosed:
            pass
        rcvd = ws.close_code if ws.protocol.close_rcvd is not None else None
        for ev in session.closed(clock(), rcvd, ws.close_reason or ""):
            if on_event:
                on_event(ev, clock())

    receiver = asyncio.create_task(receive())
    try:
        result.interrupted = await _send_audio(ws, session, frames, speed, stop, receiver, target)
        if receiver.done():
            result.error = _dropped(ws, "before the end of the stream")
            return result
        await asyncio.wait_for(ws.send(session.end_of_stream(clock())), target.timeouts.send)
        await _await_closing(ws, receiver, confirmed, target, result)
    except (TimeoutError, ConnectionClosed) as exc:
        if result.error is None:
            result.error = (
                SessionTimeout("sending audio", target.timeouts.send)
                if isinstance(exc, TimeoutError)
                else _dropped(ws, "while audio was being sent")
            )
    finally:
        if not receiver.done():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), target.timeouts.close)
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await receiver
    return result


async def _send_audio(
    ws: ClientConnection,
    session: ClientSession,
    frames: Iterable[bytes] | AsyncIterator[bytes],
    speed: float | None,
    stop: asyncio.Event | None,
    receiver: asyncio.Task[None],
    target: Target,
) -> bool:
    """Send every frame on its deadline; return True when stopped early by ``stop``."""
    pacer = Pacer(clock(), speed) if speed is not None else None
    offset = 0
    async for frame in _aiter(frames):
        if stop is not None and stop.is_set():
            return True
        if receiver.done():
            return False
        due = pacer.due(offset) if pacer is not None else clock()
        delay = due - clock()
        if delay > 0:
            await asyncio.sleep(delay)
        sent = clock()
        await asyncio.wait_for(ws.send(frame), target.timeouts.send)
        session.frame_sent(len(frame), due, sent)
        offset += len(frame)
    return bool(stop is not None and stop.is_set())


async def _await_closing(
    ws: ClientConnection,
    receiver: asyncio.Task[None],
    confirmed: asyncio.Event,
    target: Target,
    result: StreamResult,
) -> None:
    t = target.timeouts
    waiter = asyncio.create_task(confirmed.wait())
    done, _ = await asyncio.wait(
        {waiter, receiver}, timeout=t.confirm, return_when=asyncio.FIRST_COMPLETED
    )
    waiter.cancel()
    if not confirmed.is_set():
        if receiver in done or ws.protocol.close_rcvd is not None:
            result.error = _dropped(ws, "without confirming")
        else:
            result.error = SessionTimeout("the close confirmation", t.confirm)
        return
    try:
        await asyncio.wait_for(asyncio.shield(receiver), t.close)
    except TimeoutError:
        result.error = SessionTimeout(
            "the server to close the connection after confirming", t.close
        )


def _dropped(ws: ClientConnection, when: str) -> ConnectionDropped:
    rcvd = ws.protocol.close_rcvd
    if rcvd is None:
        return ConnectionDropped(f"server dropped the connection {when} (no close frame)")
    reason = f": {rcvd.reason}" if rcvd.reason else ""
    return ConnectionDropped(
        f"server closed the connection {when} (close code {rcvd.code}{reason})", rcvd.code
    )
