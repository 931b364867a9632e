"""``RawSession``: a session driven step by step, for the conformance probes.

Odd frame sizes, malformed text frames, an abrupt disconnect: the probes send what a
well-behaved client would not, over the same asyncio ``Connection`` and the same core
(``Wire``, ``ClientSession``, the closing decisions) as ``harness.client.aio.stream``, so
the server's replies are judged exactly as in the CLI and a load run. ``result()`` is the
same ``StreamResult`` the other adapters return.
"""

from __future__ import annotations

import time

from harness.client.aio import Connection, open_connection
from harness.client.target import Target
from harness.protocol.audio import split_frames
from harness.protocol.ending import Wait, end_findings
from harness.protocol.events import Finding
from harness.protocol.result import StreamResult
from harness.protocol.session import ClientSession
from harness.protocol.state import State

clock = time.monotonic


class RawSession:
    """One open session; every reply goes through the core's ``Wire`` and ``ClientSession``."""

    def __init__(self, conn: Connection, target: Target) -> None:
        self.conn = conn
        self.wire = conn.wire
        self.session = conn.wire.session
        self.target = target
        self.t = target.timeouts
        self.opened_at = clock()
        #: Findings the probe adds beside the session's own (a send that timed out).
        self.extra: list[Finding] = []

    @classmethod
    async def open(cls, target: Target) -> RawSession:
        """Open a session (raises ``HandshakeRejected``, ``ConnectFailed``, ``SessionTimeout``)."""
        session = ClientSession(target.dialect, target.limits)
        return cls(await open_connection(target, session), target)

    @property
    def closed(self) -> bool:
        receiver = self.conn.receiver
        return self.session.state is State.CLOSED or (receiver is not None and receiver.done())

    @property
    def streaming(self) -> bool:
        return not self.closed and self.wire.can_send_audio

    async def send_audio(self, pcm: bytes, frame_bytes: int, speed: float | None = None) -> bool:
        """Send ``pcm`` in frames of ``frame_bytes``; False when the session stopped taking
        audio first (the server closed, or a send timed out: a ``3.error-reply`` finding)."""
        if not self.streaming:
            return False
        await self.conn.send_frames(split_frames(pcm, frame_bytes), speed)
        if self.wire.timed_out is Wait.SEND:
            r = self.result()
            self.extra += end_findings(r.end, r.error)
            return False
        return self.streaming

    async def send_text(self, text: str) -> bool:
        if not self.streaming:
            return False
        self.wire.send_text(text)
        try:
            await self.conn.flush()
        except (OSError, TimeoutError):
            return False
        return True

    async def end(self) -> list[Finding]:
        """End-of-stream, then the bounded closing sequence; the rules its end broke
        (``StreamResult.closing_findings``). A session the server already ended is not
        asked: its close code was judged when it came."""
        if not self.streaming:
            await self.wait_closed(self.t.close)
            return []
        await self.conn.send_end_of_stream()
        if self.wire.timed_out is not None or self.session.state is not State.CLOSING:
            await self.wait_closed(self.t.close)
            return []
        await self.conn.close_sequence()
        return self.result().closing_findings

    async def wait_closed(self, timeout: float) -> bool:
        """Wait (at most ``timeout``) for the session to close; whether it did."""
        return await self.conn.until(lambda: self.closed, timeout)

    async def abort(self) -> None:
        """Drop the TCP connection without a close frame or end-of-stream."""
        self.wire.abandon(close_frame=False)
        self.conn.writer.transport.abort()
        await self.wait_closed(self.t.close)

    async def aclose(self) -> None:
        """Leave, bounded, whatever state the session is in."""
        await self.conn.close()

    def findings(self) -> list[Finding]:
        """What the server's messages and close broke, and the probe's own findings."""
        return self.session.findings + self.extra

    def result(self) -> StreamResult:
        """The session as every adapter reports it (``ABANDONED`` if left before its end)."""
        return self.wire.result(self.t)
