"""docs/protocol.md §3, sentences: silence yields no text; an utterance yields as many
sentences as its manifest has speech segments; a sentence does not repeat the one before it.

Sentences are read from the transcripts and their ``state``: a session whose messages could
not be read (§3.json, §3.text...) or whose transcripts carry no ``state`` (§3.state) cannot
be judged here, and says so; ``test_message_schema`` fails for it.
"""

from __future__ import annotations

import pytest

from harness.conformance.grading import Grader
from harness.conformance.sessions import SessionRun, no_session
from harness.conformance.state import corpus_of
from harness.conformance.suite import Suite
from harness.protocol.events import Finding, quote
from harness.protocol.session import ClientSession
from harness.protocol.timeline import Sentence


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    utterances = corpus_of(metafunc.config).utterances
    if "silent_id" in metafunc.fixturenames:
        metafunc.parametrize("silent_id", [u.id for u in utterances if not u.segments])
    if "speech_id" in metafunc.fixturenames:
        metafunc.parametrize("speech_id", [u.id for u in utterances if u.segments])
    if "multi_id" in metafunc.fixturenames:
        metafunc.parametrize("multi_id", [u.id for u in utterances if len(u.segments) >= 2])


def _session(run: SessionRun, grade: Grader, *, need_states: bool) -> ClientSession:
    """The run's session, or end the check: an ERROR without one, not judged when its
    messages (or, for sentence boundaries, their states) could not be read."""
    if (why := no_session(run)) is not None:
        grade.cannot_test(why)
    assert run.session is not None
    if run.unreadable():
        grade.not_judged("some messages could not be read as transcripts", run.unreadable())
    if need_states and run.unmarked():
        grade.not_judged(
            "transcripts without a 'state' have no sentence boundaries", run.unmarked()
        )
    return run.session


@pytest.mark.asrx_rule("3.silence")
def test_silence_gives_no_text(asrx: Suite, asrx_grade: Grader, silent_id: str) -> None:
    run = asrx.corpus_session(silent_id)
    said = run.texts()
    found = []
    if not said:
        _session(run, asrx_grade, need_states=False)
    else:
        found.append(
            Finding(
                "3.silence",
                "no message with non-empty text",
                f"{len(said)} message(s), first: {quote(said[0])}",
            )
        )
    asrx_grade.check(found + run.findings(), context=silent_id)


@pytest.mark.asrx_rule("3.sentences")
def test_sentence_count(asrx: Suite, asrx_grade: Grader, speech_id: str) -> None:
    run = asrx.corpus_session(speech_id)
    expected = len(asrx.corpus.get(speech_id).segments)
    sentences = run.session.timeline.sentences() if run.session else []
    found = []
    if len(sentences) != expected:
        _session(run, asrx_grade, need_states=True)
        finals = " | ".join(quote(s.final_text) for s in sentences) or "no text"
        found.append(
            Finding(
                "3.sentences",
                f"{expected} sentence(s), one per manifest segment",
                f"{len(sentences)}: {finals}",
            )
        )
    asrx_grade.check(found + run.findings(), context=speech_id)


def repeats(sentences: list[Sentence]) -> list[Finding]:
    """The first message with text of each sentence must not already hold the whole final
    text of the sentence before: a cumulative transcript would. Finals of a single word are
    skipped, too short to tell a repeat from a coincidence."""
    found = []
    for prev, cur in zip(sentences, sentences[1:], strict=False):
        first = next((m.text for m in cur.messages if m.text), "")
        if len(prev.final_text.split()) >= 2 and prev.final_text in first:
            found.append(
                Finding(
                    "3.no-repeat",
                    f"sentence {cur.index + 1} not to start over with sentence {cur.index}",
                    f"{quote(first)} holds {quote(prev.final_text)}",
                )
            )
    return found


@pytest.mark.asrx_rule("3.no-repeat")
def test_no_repeat_of_previous_sentence(asrx: Suite, asrx_grade: Grader, multi_id: str) -> None:
    run = asrx.corpus_session(multi_id)
    session = _session(run, asrx_grade, need_states=True)
    asrx_grade.check(repeats(session.timeline.sentences()) + run.findings(), context=multi_id)
