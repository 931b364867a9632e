"""The I/O the checks need, on top of ``harness.client.aio`` and the Sans-I/O core.

- ``run_session``: one whole well-behaved session (``aio.stream``), never raising;
- ``RawSession``: a session driven by hand (odd frames, bad text frames, an abrupt
  disconnect), its replies parsed by the same ``ClientSession``;
- ``error_findings``: what went wrong on the wire, as PROTOCOL.md findings.

Every wait is bounded by the suite's (scaled) ``Timeouts``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from harness.client.aio import StreamResult, _await_closing, open_connection, stream
from harness.client.target import Target
from harness.errors import (
    HandshakeRejected,
    HarnessError,
    SessionTimeout,
    TargetError,
)
from harness.protocol.audio import split_frames
from harness.protocol.events import Confirmation, Finding, quote
from harness.protocol.pacing import Pacer
from harness.protocol.session import LEGAL_ERROR_CLOSE_CODES, ClientSession
from harness.protocol.state import State

clock = time.monotonic

#: Close codes a server may use for an unauthenticated session (PROTOCOL.md §1, lenient).
AUTH_CLOSE_CODES = frozenset({1008, *range(4000, 5000)})
LEGAL_CLOSE_CODES = LEGAL_ERROR_CLOSE_CODES | {1000}
SCHEMA_RULES = ("3.text-frame", "3.json", "3.object", "3.text", "3.state", "3.state-allowed")


@dataclass
class SessionRun:
    """A finished session, or why none opened."""

    result: StreamResult | None = None
    open_error: HarnessError | None = None

    @property
    def session(self) -> ClientSession | None:
        return self.result.session if self.result else None

    def findings(self) -> list[Finding]:
        if self.result is None:
            return [
                Finding(
                    "3.error-reply", "a session to open (the server stays up)", str(self.open_error)
                )
            ]
        return self.result.session.findings + error_findings(self.result)

    def texts(self) -> list[str]:
        s = self.session
        return [m.text for m in s.timeline.messages if m.text and not m.confirmation] if s else []


def error_findings(result: StreamResult) -> list[Finding]:
    """The closing sequence's failures (PROTOCOL.md §4) found from the result's error and
    timeline: missing confirmation, late close, a final after the confirmation."""
    out: list[Finding] = []
    err = result.error
    if isinstance(err, SessionTimeout):
        if "confirmation" in err.what:
            seen = f"no confirmation within {err.seconds:g} s of end-of-stream"
            out.append(Finding("4.confirm", "one confirmation after end-of-stream", seen))
            out.append(Finding("4.close-in-time", f"confirmation within {err.seconds:g} s", seen))
        elif "close" in err.what:
            out.append(
                Finding(
                    "4.close-in-time",
                    f"close within {err.seconds:g} s of the confirmation",
                    str(err),
                )
            )
        else:
            out.append(Finding("3.error-reply", "the server to keep reading audio", str(err)))
    elif err is not None:  # ConnectionDropped: closed or dropped before confirming
        out.append(Finding("4.confirm", "one confirmation after end-of-stream", str(err)))
    out += late_final_findings(result.session)
    return out


def late_final_findings(session: ClientSession) -> list[Finding]:
    """A transcript after the confirmation that is not a new sentence continues the last
    sentence (PROTOCOL.md §3): that sentence's final text came after the confirmation."""
    msgs = session.timeline.messages
    idx = next((i for i, m in enumerate(msgs) if m.confirmation), None)
    if idx is None:
        return []
    late = [m for m in msgs[idx + 1 :] if not m.confirmation and not m.new_sentence]
    if not late:
        return []
    return [
        Finding(
            "4.final-before-confirm",
            "the last sentence's final text before the confirmation",
            f"{len(late)} message(s) of that sentence after it, first: {quote(late[0].text)}",
        )
    ]


async def run_session(
    target: Target,
    pcm: bytes,
    *,
    frame_bytes: int = 1024,
    speed: float | None = 1.0,
    frames: Iterable[bytes] | AsyncIterator[bytes] | None = None,
) -> SessionRun:
    """Stream ``pcm`` (or ``frames``), end the stream, await confirmation and close."""
    try:
        source = frames if frames is not None else split_frames(pcm, frame_bytes)
        return SessionRun(result=await stream(target, source, speed=speed))
    except TargetError as exc:
        return SessionRun(open_error=exc)


async def run_many(
    target: Target, jobs: Sequence[tuple[bytes, float | None]], concurrency: int = 4
) -> list[SessionRun]:
    """Several sessions at once (at most ``concurrency``), results in order."""
    gate = asyncio.Semaphore(concurrency)

    async def one(pcm: bytes, speed: float | None) -> SessionRun:
        async with gate:
            return await run_session(target, pcm, speed=speed)

    return list(await asyncio.gather(*(one(p, s) for p, s in jobs)))


def fresh_session_findings(run: SessionRun, expect_text: bool) -> list[Finding]:
    """A well-behaved session after a robustness probe must work (PROTOCOL.md §3)."""
    rule, expected = "3.error-reply", "a fresh session afterwards works normally"
    if run.result is None:
        return [Finding(rule, expected, f"no session: {run.open_error}")]
    problems = [str(f) for f in run.findings()]
    if expect_text and not run.texts():
        problems.append("no transcript text for speech")
    return [Finding(rule, expected, "; ".join(problems))] if problems else []


class RawSession:
    """One session driven frame by frame; every reply goes through ``ClientSession``."""

    def __init__(self, ws: ClientConnection, session: ClientSession, target: Target) -> None:
        self.ws = ws
        self.session = session
        self.target = target
        self.t = target.timeouts
        self.confirmed = asyncio.Event()
        self.opened_at = clock()
        self.receiver = asyncio.create_task(self._receive())
        self.extra: list[Finding] = []

    @classmethod
    async def open(cls, target: Target) -> RawSession:
        """Open a session (raises ``HandshakeRejected``, ``ConnectFailed``, ``SessionTimeout``)."""
        session = ClientSession(target.dialect)
        ws = await open_connection(target, session)
        return cls(ws, session, target)

    async def _receive(self) -> None:
        try:
            async for message in self.ws:
                for ev in self.session.receive(message, clock()):
                    if isinstance(ev, Confirmation):
                        self.confirmed.set()
        except ConnectionClosed:
            pass
        ws = self.ws
        code = ws.close_code if ws.protocol.close_rcvd is not None else None
        self.session.closed(clock(), code, ws.close_reason or "")

    @property
    def closed(self) -> bool:
        return self.receiver.done()

    @property
    def streaming(self) -> bool:
        return not self.closed and self.session.state is State.STREAMING

    async def send_audio(self, pcm: bytes, frame_bytes: int, speed: float | None = None) -> bool:
        """Send ``pcm`` in frames of ``frame_bytes``; False when the server closed first."""
        pacer = Pacer(clock(), speed) if speed else None
        offset = 0
        for frame in split_frames(pcm, frame_bytes):
            if not self.streaming:
                return False
            due = pacer.due(offset) if pacer else clock()
            if due > clock():
                await asyncio.sleep(due - clock())
            try:
                await asyncio.wait_for(self.ws.send(frame), self.t.send)
            except ConnectionClosed:
                return False
            except TimeoutError:
                self.extra.append(
                    Finding(
                        "3.error-reply",
                        "the server to keep reading",
                        f"sending a frame took over {self.t.send:g} s",
                    )
                )
                return False
            if self.session.state is State.STREAMING:
                self.session.frame_sent(len(frame), due, clock())
            offset += len(frame)
        return self.streaming

    async def send_text(self, text: str) -> bool:
        if not self.streaming:
            return False
        try:
            await asyncio.wait_for(self.ws.send(text), self.t.send)
        except (ConnectionClosed, TimeoutError):
            return False
        return True

    async def end(self) -> list[Finding]:
        """End-of-stream, then the bounded closing sequence; its findings.

        A server that already closed (with a legal code, PROTOCOL.md §3) is not asked."""
        if not self.streaming:
            await self.wait_closed(self.t.close)
            return []
        result = StreamResult(self.session)
        try:
            eos = self.session.end_of_stream(clock())
            await asyncio.wait_for(self.ws.send(eos), self.t.send)
        except (ConnectionClosed, TimeoutError):
            await self.wait_closed(self.t.close)
            return []
        await _await_closing(self.ws, self.receiver, self.confirmed, self.target, result)
        return error_findings(result)

    async def wait_closed(self, timeout: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.receiver), timeout)
        return self.closed

    async def abort(self) -> None:
        """Drop the TCP connection without a close frame or end-of-stream."""
        self.ws.transport.abort()
        await self.wait_closed(self.t.close)

    async def aclose(self) -> None:
        """Leave, bounded, whatever state the session is in."""
        if not self.closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), self.t.close)
        if not self.closed:
            self.ws.transport.abort()
        self.receiver.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.receiver

    def findings(self) -> list[Finding]:
        return self.session.findings + self.extra


async def unauthenticated_findings(target: Target, pcm: bytes) -> list[Finding]:
    """Try a session with ``target``'s (bad) credentials; grade it per PROTOCOL.md §1.

    401/403: OK. Another refusal: NON-STRICT. A 101: speech and end-of-stream are sent at
    once, then the session must close with 1008 or 4000-4999 within ``reject_close``
    with no transcript (NON-STRICT), else FAILED.
    """
    strict_expected = "HTTP 401 or 403 (no 101)"
    try:
        raw = await RawSession.open(target)
    except HandshakeRejected as exc:
        if exc.status in (401, 403):
            return []
        return [Finding("1.auth-strict", strict_expected, f"HTTP {exc.status}", strict_only=True)]
    except TargetError as exc:
        return [Finding("1.auth-strict", strict_expected, str(exc), strict_only=True)]
    window = target.timeouts.reject_close
    out: list[Finding] = []
    try:
        async with asyncio.timeout(window):
            if await raw.send_audio(pcm, 4096, speed=None):
                await raw.send_text(target.dialect.end_of_stream_message())
            await asyncio.shield(raw.receiver)
    except TimeoutError:
        pass
    finally:
        closed = raw.closed
        await raw.aclose()
    tl = raw.session.timeline
    said = [m for m in tl.messages if m.text or m.confirmation]
    if said:
        out.append(
            Finding(
                "1.auth",
                "no transcript on an unauthenticated session",
                f"{len(said)} message(s), first: {quote(said[0].text)}",
            )
        )
    if not closed:
        out.append(
            Finding(
                "1.auth-close",
                f"a close with 1008 or 4000-4999 within {window:g} s",
                f"HTTP 101, then the session still open after {window:g} s",
            )
        )
    elif tl.close_code not in AUTH_CLOSE_CODES:
        code = "no close frame" if tl.close_code is None else f"close code {tl.close_code}"
        out.append(
            Finding("1.auth-close", "a close with 1008 or 4000-4999", f"HTTP 101, then {code}")
        )
    elif not out:
        after = (tl.closed_at or 0.0) - raw.opened_at
        out.append(
            Finding(
                "1.auth-strict",
                strict_expected,
                f"HTTP 101, then close {tl.close_code} after {after:.2f} s",
                strict_only=True,
            )
        )
    return out
