"""Robustness (PROTOCOL.md §2, §3): odd inputs get normal service or a legal error, and the
server stays up: after each probe a fresh session must work (confirmation, close 1000,
text for speech)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from harness.conformance.grading import Grader
from harness.conformance.plugin import Suite
from harness.conformance.probes import (
    RawSession,
    SessionRun,
    fresh_session_findings,
    run_session,
)
from harness.errors import TargetError
from harness.protocol.audio import frame_duration_s, ms_to_bytes, split_frames
from harness.protocol.events import Finding

#: Frame sizes PROTOCOL.md §2 allows ("any frame size"): odd, one sample, 64 KiB.
FRAME_SIZES = {"odd-1023": 1023, "two-bytes": 2, "64KiB": 65536}
#: Wall-clock pause in the middle of the speech.
PAUSE_S = 1.5


def normal_session_problems(run: SessionRun) -> list[str]:
    """Why ``run`` was not a normal session with text, as printable lines."""
    problems = [str(f) for f in run.findings()]
    if run.result is not None and not run.texts():
        problems.append("no transcript text for the speech")
    return problems


def fresh(asrx: Suite) -> list[Finding]:
    speech = asrx.speech()
    run = asrx.run(run_session(asrx.target, speech.pcm(), speed=None))
    return fresh_session_findings(run, expect_text=True)


@pytest.mark.asrx_rule("2.any-frame-size", "3.error-reply")
@pytest.mark.parametrize("size", FRAME_SIZES)
def test_any_frame_size(asrx: Suite, asrx_grade: Grader, size: str) -> None:
    utt = asrx.speech()
    pcm = utt.pcm()
    frame_bytes = FRAME_SIZES[size]
    if frame_bytes <= 2:  # 16 000 frames a second: only the first speech, sent unpaced
        pcm = pcm[: ms_to_bytes(min(utt.segments[0][1], utt.segments[0][0] + 1000))]
    speed = None if frame_bytes <= 2 else asrx.settings.speed
    run = asrx.run(run_session(asrx.target, pcm, frame_bytes=frame_bytes, speed=speed))
    found = []
    if problems := normal_session_problems(run):
        found.append(
            Finding(
                "2.any-frame-size",
                f"a normal session with {frame_bytes}-byte frames",
                "; ".join(problems),
            )
        )
    asrx_grade.check(found + fresh(asrx), context=size)


@pytest.mark.asrx_rule("2.pacing", "3.error-reply")
def test_faster_than_real_time(asrx: Suite, asrx_grade: Grader) -> None:
    """As fast as the socket takes it. PROTOCOL.md §2 says a real client paces at real
    time, so a legal refusal is NON-STRICT; an illegal close or a crash FAILED."""
    run = asrx.run(run_session(asrx.target, asrx.multi().pcm(), speed=None))
    legal = [f for f in run.findings() if f.rule != "3.error-reply"]
    illegal = [f for f in run.findings() if f.rule == "3.error-reply"]
    found = list(illegal)
    if legal or (run.result is not None and not run.texts()):
        seen = "; ".join(str(f) for f in legal) or "no transcript text"
        found.append(
            Finding("2.pacing", "a normal session at unpaced speed", seen, strict_only=True)
        )
    asrx_grade.check(found + fresh(asrx))


async def _paused(pcm: bytes, pause_at: int, speed: float) -> AsyncIterator[bytes]:
    frame = 1024
    for i, chunk in enumerate(split_frames(pcm, frame)):
        if i * frame == pause_at:
            await asyncio.sleep(PAUSE_S)
        await asyncio.sleep(frame_duration_s(frame) / speed)
        yield chunk


@pytest.mark.asrx_rule("2.pacing", "3.error-reply")
def test_pause_mid_stream(asrx: Suite, asrx_grade: Grader) -> None:
    utt = asrx.speech()
    on, off = utt.segments[0]
    pause_at = ms_to_bytes((on + off) / 2) // 1024 * 1024
    frames = _paused(utt.pcm(), pause_at, asrx.settings.speed)
    run = asrx.run(run_session(asrx.target, b"", frames=frames, speed=None))
    found = []
    if problems := normal_session_problems(run):
        found.append(
            Finding(
                "2.pacing",
                f"a normal session with a {PAUSE_S:g} s pause mid-sentence",
                "; ".join(problems),
            )
        )
    asrx_grade.check(found + fresh(asrx))


async def _bad_text(asrx: Suite, text: str) -> list[Finding]:
    """Half the speech, ``text``, the rest, end-of-stream. Either the server answers in the
    message shape and carries on, or it closes with a legal code (PROTOCOL.md §3)."""
    utt = asrx.speech()
    pcm = utt.pcm()
    half = ms_to_bytes(sum(utt.segments[0]) / 2)
    try:
        raw = await RawSession.open(asrx.target)
    except TargetError as exc:
        return [Finding("3.error-reply", "a session to open", str(exc))]
    try:
        speed = asrx.settings.speed
        if await raw.send_audio(pcm[:half], 1024, speed) and await raw.send_text(text):
            await raw.send_audio(pcm[half:], 1024, speed)
        found = await raw.end()
        if not raw.closed:
            await raw.wait_closed(asrx.timeouts.close)
        return raw.findings() + found
    finally:
        await raw.aclose()


@pytest.mark.asrx_rule("3.error-reply")
def test_malformed_json(asrx: Suite, asrx_grade: Grader) -> None:
    found = asrx.run(_bad_text(asrx, '{"data": {"status": "CloseConn'))
    asrx_grade.check(found + fresh(asrx))


@pytest.mark.asrx_rule("3.error-reply")
def test_unknown_status(asrx: Suite, asrx_grade: Grader) -> None:
    found = asrx.run(_bad_text(asrx, '{"data": {"status": "NoSuchStatus"}}'))
    asrx_grade.check(found + fresh(asrx))


async def _abrupt(asrx: Suite) -> list[Finding]:
    utt = asrx.speech()
    try:
        raw = await RawSession.open(asrx.target)
    except TargetError as exc:
        return [Finding("3.error-reply", "a session to open", str(exc))]
    try:
        await raw.send_audio(utt.pcm()[: ms_to_bytes(sum(utt.segments[0]) / 2)], 1024, None)
        await raw.abort()
        return raw.extra
    finally:
        await raw.aclose()


@pytest.mark.asrx_rule("3.error-reply")
def test_abrupt_disconnect(asrx: Suite, asrx_grade: Grader) -> None:
    """A client vanishing mid-sentence, with no end-of-stream and no close frame."""
    found = asrx.run(_abrupt(asrx))
    asrx.run(asyncio.sleep(0.2))  # let the server notice before the fresh session
    asrx_grade.check(found + fresh(asrx))
