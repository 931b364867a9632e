"""Whole sessions for the checks, and what a check may conclude from one.

``run_session`` streams audio through the asyncio adapter (``harness.client.aio.stream``) and
never raises: a session that did not open is a ``SessionRun`` with its ``open_error``.
Every rule the session broke comes from the core (``StreamResult.findings``); a check
grades those of its own rules and shows the rest as context (``harness.conformance.grading``).

A robustness check asks whether the server *served* a session, not whether every message
was perfect: ``service_problem`` says why a session was not served (none opened, the
server ended it while audio was being sent, no reply to speech), and nothing else.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass

from harness.client.aio import stream
from harness.client.target import Target
from harness.errors import HarnessError, TargetError
from harness.protocol.audio import split_frames
from harness.protocol.ending import SessionEnd
from harness.protocol.events import Finding
from harness.protocol.result import StreamResult
from harness.protocol.session import ClientSession

#: The §3 rules of a message's form, each checked on every message (``test_schema``).
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
#: Schema rules whose breach leaves a message unread: no transcript came of it, so a check
#: that reads transcripts cannot judge the session.
UNREADABLE_RULES = frozenset(SCHEMA_RULES) - {"3.state", "3.state-allowed"}
#: Sessions streamed at once by ``run_many``.
CONCURRENCY = 4


@dataclass
class SessionRun:
    """A finished session, or why none opened."""

    result: StreamResult | None = None
    open_error: HarnessError | None = None

    @property
    def session(self) -> ClientSession | None:
        return self.result.session if self.result else None

    def findings(self) -> list[Finding]:
        """Every rule the server broke in this session (none when it did not open)."""
        return self.result.findings if self.result else []

    def texts(self) -> list[str]:
        """The non-empty texts of its transcripts up to the confirmation (what follows it
        is ``4.nothing-after-confirm``'s, as for the sentences of ``Timeline.sentences``)."""
        out: list[str] = []
        for m in self.session.timeline.messages if self.session else []:
            if m.confirmation:
                break
            if m.text:
                out.append(m.text)
        return out

    def unreadable(self) -> list[Finding]:
        """Findings of messages that gave no transcript (binary, not JSON, no string text...)."""
        return [f for f in self.findings() if f.rule in UNREADABLE_RULES]

    def unmarked(self) -> list[Finding]:
        """Transcripts without a string ``state``: their sentence boundaries are unknown."""
        return [f for f in self.findings() if f.rule == "3.state" and not f.strict_only]

    def ended_early(self) -> str | None:
        """Why the server ended the session while audio was still being sent, if it did."""
        r = self.result
        if r is None:
            return None
        if r.end is SessionEnd.SEND_TIMEOUT:
            return f"the server stopped reading audio ({r.error})"
        early = r.session.timeline.end_of_stream_at is None
        if early and r.end in (SessionEnd.CLOSED, SessionEnd.DROPPED):
            return str(r.error)
        return None


def no_session(run: SessionRun) -> str | None:
    """Why the check cannot test at all: no session opened (None: one did)."""
    return None if run.result is not None else f"no session opened: {run.open_error}"


def service_problem(run: SessionRun, expect_text: bool = True) -> str | None:
    """Why the server did not serve ``run`` (None: it did).

    Served: the session opened, the server took all the audio without ending the session,
    and (``expect_text``) answered speech with at least one message. How it confirmed and
    closed, and the form of its messages, are other checks' rules.
    """
    if run.result is None:
        return f"no session opened: {run.open_error}"
    if (early := run.ended_early()) is not None:
        return early
    if expect_text and not run.texts() and not run.unreadable():
        return "no transcript for the speech"
    return None


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
    target: Target, jobs: Sequence[tuple[bytes, float | None]], concurrency: int = CONCURRENCY
) -> list[SessionRun]:
    """Several sessions at once (at most ``concurrency``), results in order."""
    gate = asyncio.Semaphore(concurrency)

    async def one(pcm: bytes, speed: float | None) -> SessionRun:
        async with gate:
            return await run_session(target, pcm, speed=speed)

    return list(await asyncio.gather(*(one(p, s) for p, s in jobs)))
