"""PROTOCOL.md §3/§4 isolation: concurrent sessions each get only their own transcript.

A session's transcript alone is the reference: the same audio must give the same
sentences while a neighbour speaks. Identical is OK; the same number of sentences with
a few words different (WER <= 0.2 each, a recognizer need not be deterministic) is
NON-STRICT; anything else FAILED. A silent session must get no text at all.
"""

from __future__ import annotations

import pytest

from harness.conformance.grading import Grader
from harness.conformance.plugin import Suite
from harness.conformance.probes import SessionRun, run_many, run_session
from harness.corpus import Utterance, score
from harness.protocol.events import Finding, quote

NEAR_WER = 0.2


def finals(run: SessionRun) -> list[str]:
    return [s.final_text for s in run.session.timeline.sentences()] if run.session else []


def compare(utt: Utterance, alone: SessionRun, together: SessionRun) -> list[Finding]:
    if alone.result is None or together.result is None:
        return [f for r in (alone, together) for f in r.findings() if f.rule == "3.error-reply"]
    a, b = finals(alone), finals(together)
    if a == b:
        return []
    expected = f"{utt.id}: the same sentences as alone: {quote(' | '.join(a))}"
    seen = f"next to another session: {quote(' | '.join(b))}"
    near = len(a) == len(b) and all(
        score(x, y, utt.lang).rate <= NEAR_WER for x, y in zip(a, b, strict=True)
    )
    return [Finding("4.isolation", expected, seen, strict_only=near)]


@pytest.mark.asrx_rule("4.isolation")
def test_concurrent_sessions_get_their_own_transcripts(asrx: Suite, asrx_grade: Grader) -> None:
    multi, single = asrx.multi(), asrx.speech()
    speed = asrx.settings.speed
    jobs = [(multi.pcm(), speed), (single.pcm(), speed)]
    alone = [asrx.run(run_session(asrx.target, pcm, speed=s)) for pcm, s in jobs]
    together = asrx.run(run_many(asrx.target, jobs))
    found = compare(multi, alone[0], together[0]) + compare(single, alone[1], together[1])
    asrx_grade.check(found)


@pytest.mark.asrx_rule("4.isolation")
def test_silent_session_next_to_speech(asrx: Suite, asrx_grade: Grader) -> None:
    quiet, loud = asrx.silence(), asrx.multi()
    speed = asrx.settings.speed
    runs = asrx.run(run_many(asrx.target, [(quiet.pcm(), speed), (loud.pcm(), speed)]))
    found = [f for r in runs for f in r.findings() if f.rule == "3.error-reply"]
    if runs[0].texts():
        found.append(
            Finding(
                "4.isolation",
                f"{quiet.id} (no speech): no text while its neighbour speaks",
                f"{len(runs[0].texts())} message(s), first: {quote(runs[0].texts()[0])}",
            )
        )
    asrx_grade.check(found)
