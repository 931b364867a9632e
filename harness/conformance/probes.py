"""Sessions driven by hand (``harness.client.raw.RawSession``), for what a well-behaved
client would not do: a bad key, a malformed text frame mid-stream, an abrupt disconnect.

The server's replies go through the same core as every other session, so a probe's findings
are the ones ``asrx stream`` and a load run would report; every wait is bounded by the
suite's (scaled) ``Timeouts``.
"""

from __future__ import annotations

import asyncio

from harness.client.raw import RawSession
from harness.client.target import Target
from harness.conformance.sessions import SessionRun
from harness.errors import HandshakeRejected, TargetError
from harness.protocol.events import Finding, quote

#: Close codes a server may use for an unauthenticated session (docs/protocol.md §1, lenient).
AUTH_CLOSE_CODES = frozenset({1008, *range(4000, 5000)})
#: The frame size the probes send audio in.
FRAME_BYTES = 1024


async def bad_text_session(
    target: Target, pcm: bytes, split_at: int, text: str, speed: float
) -> SessionRun:
    """``pcm[:split_at]``, the text frame ``text``, the rest, end-of-stream, the closing
    sequence. The server may answer in the message shape and carry on, or close with a
    lawful code (docs/protocol.md §3); the returned run holds what it did."""
    try:
        raw = await RawSession.open(target)
    except TargetError as exc:
        return SessionRun(open_error=exc)
    try:
        if await raw.send_audio(pcm[:split_at], FRAME_BYTES, speed) and await raw.send_text(text):
            await raw.send_audio(pcm[split_at:], FRAME_BYTES, speed)
        await raw.end()
        return SessionRun(result=raw.result())
    finally:
        await raw.aclose()


async def abrupt_disconnect(target: Target, pcm: bytes) -> SessionRun:
    """Send ``pcm`` unpaced, then drop the TCP connection (no end-of-stream, no close)."""
    try:
        raw = await RawSession.open(target)
    except TargetError as exc:
        return SessionRun(open_error=exc)
    try:
        await raw.send_audio(pcm, FRAME_BYTES, None)
        await raw.abort()
        return SessionRun(result=raw.result())
    finally:
        await raw.aclose()


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
