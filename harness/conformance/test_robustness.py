"""Robustness (docs/protocol.md §2, §3): odd inputs get normal service or a lawful error, and
the server stays up.

A robustness check asks whether the server *served* the session (it took the audio without
ending the session early and answered speech) and *survived* (a fresh session afterwards
is served too), or closed lawfully. How it confirmed and closed, and the form of its
messages, are the closing and schema checks' rules: seen here, they are context.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from harness.conformance.grading import Grader
from harness.conformance.probes import abrupt_disconnect
from harness.conformance.sessions import SessionRun, no_session, run_session, service_problem
from harness.conformance.suite import Suite
from harness.protocol.audio import frame_duration_s, ms_to_bytes, split_frames
from harness.protocol.events import Finding

#: Frame sizes docs/protocol.md §2 allows ("any frame size"): odd, one sample, 64 KiB.
FRAME_SIZES = {"odd-1023": 1023, "two-bytes": 2, "64KiB": 65536}
#: Wall-clock pause in the middle of the speech.
PAUSE_S = 1.5


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
    found = run.findings()
    if (problem := service_problem(run)) is not None:
        expected = f"the session served with {frame_bytes}-byte frames"
        found.append(Finding("2.any-frame-size", expected, problem))
    asrx_grade.check(found + asrx.fresh(), context=size)


@pytest.mark.asrx_rule("2.pacing", "3.error-reply")
def test_faster_than_real_time(asrx: Suite, asrx_grade: Grader) -> None:
    """As fast as the socket takes it. docs/protocol.md §2: a real client paces at real
    time, so a lawful refusal is NON-STRICT; an unlawful close or a crash FAILED."""
    run = asrx.run(run_session(asrx.target, asrx.multi().pcm(), speed=None))
    found = run.findings()
    if (problem := service_problem(run)) is not None:
        expected = "the session served at unpaced speed"
        found.append(Finding("2.pacing", expected, problem, strict_only=True))
    asrx_grade.check(found + asrx.fresh())


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
    found = run.findings()
    if (problem := service_problem(run)) is not None:
        expected = f"the session served with a {PAUSE_S:g} s pause mid-sentence"
        found.append(Finding("2.pacing", expected, problem))
    asrx_grade.check(found + asrx.fresh())


def _probe(asrx: Suite, grade: Grader, run: SessionRun) -> None:
    """Grade a probe's session: an unlawful close or a drop, or a server that no longer
    serves a fresh session, fails ``3.error-reply``."""
    if (why := no_session(run)) is not None:
        grade.cannot_test(why)
    grade.check(run.findings() + asrx.fresh())


# Half the speech, a bad text frame, the rest, end-of-stream: the server answers in the
# message shape (test_message_schema[after-...]) and carries on, or closes with a lawful
# code (docs/protocol.md §3).
@pytest.mark.asrx_rule("3.error-reply")
def test_malformed_json(asrx: Suite, asrx_grade: Grader) -> None:
    _probe(asrx, asrx_grade, asrx.bad_input_session("malformed-json"))


@pytest.mark.asrx_rule("3.error-reply")
def test_unknown_status(asrx: Suite, asrx_grade: Grader) -> None:
    _probe(asrx, asrx_grade, asrx.bad_input_session("unknown-status"))


@pytest.mark.asrx_rule("3.error-reply")
def test_abrupt_disconnect(asrx: Suite, asrx_grade: Grader) -> None:
    """A client vanishing mid-sentence, with no end-of-stream and no close frame."""
    utt = asrx.speech()
    pcm = utt.pcm()[: ms_to_bytes(sum(utt.segments[0]) / 2)]
    run = asrx.run(abrupt_disconnect(asrx.target, pcm))
    asrx.run(asyncio.sleep(0.2))  # let the server notice before the fresh session
    _probe(asrx, asrx_grade, run)
