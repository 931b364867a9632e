"""docs/protocol.md §4 isolation: concurrent sessions each get only their own transcript.

A session's transcript alone is the reference: the same audio must give the same
sentences while a neighbour speaks. Identical is OK; the same number of sentences with
a few words different (WER <= 0.2 each, a recognizer need not be deterministic) is
NON-STRICT; anything else FAILED. A silent session must get no text next to a speaking one
that it does not get alone (text it gets alone is §3.silence's, not this rule's).
"""

from __future__ import annotations

import pytest

from harness.conformance.grading import Grader
from harness.conformance.sessions import SessionRun, no_session, run_many, run_session
from harness.conformance.suite import Suite
from harness.corpus import Utterance, score
from harness.protocol.events import Finding, quote

NEAR_WER = 0.2


def finals(run: SessionRun) -> list[str]:
    return [s.final_text for s in run.session.timeline.sentences()] if run.session else []


def compare(utt: Utterance, alone: SessionRun, together: SessionRun) -> list[Finding]:
    a, b = finals(alone), finals(together)
    if a == b:
        return []
    expected = f"{utt.id}: the same sentences as alone: {quote(' | '.join(a))}"
    seen = f"next to another session: {quote(' | '.join(b))}"
    near = len(a) == len(b) and all(
        score(x, y, utt.lang).rate <= NEAR_WER for x, y in zip(a, b, strict=True)
    )
    return [Finding("4.isolation", expected, seen, strict_only=near)]


def _judgeable(runs: list[SessionRun], grade: Grader) -> list[Finding]:
    """Every finding of ``runs`` as context; end the check when one cannot be judged."""
    for run in runs:
        if (why := no_session(run)) is not None:
            grade.cannot_test(why)
    unreadable = [f for r in runs for f in r.unreadable()]
    if unreadable:
        grade.not_judged("some messages could not be read as transcripts", unreadable)
    return [f for r in runs for f in r.findings()]


@pytest.mark.asrx_rule("4.isolation")
def test_concurrent_sessions_get_their_own_transcripts(asrx: Suite, asrx_grade: Grader) -> None:
    multi, single = asrx.multi(), asrx.speech()
    speed = asrx.settings.speed
    jobs = [(multi.pcm(), speed), (single.pcm(), speed)]
    alone = [asrx.run(run_session(asrx.target, pcm, speed=s)) for pcm, s in jobs]
    together = asrx.run(run_many(asrx.target, jobs))
    context = _judgeable(alone + together, asrx_grade)
    found = compare(multi, alone[0], together[0]) + compare(single, alone[1], together[1])
    asrx_grade.check(found + context)


@pytest.mark.asrx_rule("4.isolation")
def test_silent_session_next_to_speech(asrx: Suite, asrx_grade: Grader) -> None:
    quiet, loud = asrx.silence(), asrx.multi()
    speed = asrx.settings.speed
    alone = asrx.run(run_session(asrx.target, quiet.pcm(), speed=speed))
    runs = asrx.run(run_many(asrx.target, [(quiet.pcm(), speed), (loud.pcm(), speed)]))
    context = _judgeable([alone, *runs], asrx_grade)
    new = [t for t in runs[0].texts() if t not in alone.texts()]
    found = []
    if new:
        found.append(
            Finding(
                "4.isolation",
                f"{quiet.id} (no speech): no text next to a speaking session that it does "
                "not get alone",
                f"{len(new)} new message(s), first: {quote(new[0])}",
            )
        )
    asrx_grade.check(found + context)
