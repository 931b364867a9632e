"""The I/O the checks need, on top of the client adapters and the Sans-I/O core.

- ``run_session``: one whole well-behaved session (``aio.stream``), never raising;
- ``RawSession`` (from ``harness.client.raw``): a session driven by hand (odd frames, bad
  text frames, an abrupt disconnect), its replies judged by the same core;
- ``unauthenticated_findings``: the §1 grading of a session with a bad key.

Every rule a session breaks comes from the core (``StreamResult.findings``); every wait is
bounded by the suite's (scaled) ``Timeouts``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass

from harness.client.aio import stream
from harness.client.raw import RawSession
from harness.client.target import Target
from harness.errors import HandshakeRejected, HarnessError, TargetError
from harness.protocol.audio import split_frames
from harness.protocol.events import Finding, quote
from harness.protocol.result import StreamResult
from harness.protocol.session import ClientSession

__all__ = ["RawSession", "SessionRun", "run_many", "run_session", "unauthenticated_findings"]

#: Close codes a server may use for an unauthenticated session (docs/protocol.md §1, lenient).
AUTH_CLOSE_CODES = frozenset({1008, *range(4000, 5000)})
SCHEMA_RULES = (
    "3.text-frame",
    "3.json",
    "3.utf8",
    "3.object",
    "3.text",
    "3.state",
    "3.state-allowed",
    "3.size",
    "3.websocket",
)


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
        return self.result.findings

    def texts(self) -> list[str]:
        s = self.session
        return [m.text for m in s.timeline.messages if m.text and not m.confirmation] if s else []


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
    """A well-behaved session after a robustness probe must work (docs/protocol.md §3)."""
    rule, expected = "3.error-reply", "a fresh session afterwards works normally"
    if run.result is None:
        return [Finding(rule, expected, f"no session: {run.open_error}")]
    problems = [str(f) for f in run.findings()]
    if expect_text and not run.texts():
        problems.append("no transcript text for speech")
    return [Finding(rule, expected, "; ".join(problems))] if problems else []


async def unauthenticated_findings(target: Target, pcm: bytes) -> list[Finding]:
    """Try a session with ``target``'s (bad) credentials; grade it per docs/protocol.md §1.

    401/403: OK. Another refusal: NON-STRICT. A 101: speech and end-of-stream are sent at
    once, then the session must end within ``reject_close`` with no transcript: a close with
    1008 or 4000-4999 is NON-STRICT (``1.auth-strict``), any other end (another code, a
    drop) NON-STRICT too (``1.auth-close``: the public text does not say how to refuse).
    FAILED: a transcript, or the session still open after the window.
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
    deadline = asyncio.get_running_loop().time() + window
    try:
        async with asyncio.timeout_at(deadline):
            if await raw.send_audio(pcm, 4096, speed=None):
                await raw.send_text(target.dialect.end_of_stream_message())
    except TimeoutError:
        pass
    try:
        await raw.wait_closed(max(0.0, deadline - asyncio.get_running_loop().time()))
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
            Finding(
                "1.auth-close",
                "a close with 1008 or 4000-4999",
                f"HTTP 101, then {code}",
                strict_only=True,
            )
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
