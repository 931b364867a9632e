"""PROTOCOL.md §3, sentences: silence yields no text; an utterance yields as many sentences
as its manifest has speech segments; a sentence does not repeat the one before it."""

from __future__ import annotations

import pytest

from harness.conformance.grading import Grader
from harness.conformance.plugin import Suite, collection_corpus, corpus_run
from harness.conformance.probes import SessionRun
from harness.protocol.events import Finding, quote
from harness.protocol.session import ClientSession


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    utterances = collection_corpus(metafunc.config).utterances
    if "silent_id" in metafunc.fixturenames:
        metafunc.parametrize("silent_id", [u.id for u in utterances if not u.segments])
    if "speech_id" in metafunc.fixturenames:
        metafunc.parametrize("speech_id", [u.id for u in utterances if u.segments])
    if "multi_id" in metafunc.fixturenames:
        metafunc.parametrize("multi_id", [u.id for u in utterances if len(u.segments) >= 2])


def _session(run: SessionRun, grade: Grader, context: str) -> ClientSession:
    if run.session is None:
        grade.check(run.findings(), context=context)
    assert run.session is not None
    return run.session


@pytest.mark.asrx_rule("3.silence")
def test_silence_gives_no_text(asrx: Suite, asrx_grade: Grader, silent_id: str) -> None:
    session = _session(corpus_run(asrx)[silent_id], asrx_grade, silent_id)
    said = [m for m in session.timeline.messages if m.text and not m.confirmation]
    found = []
    if said:
        found.append(
            Finding(
                "3.silence",
                "no message with non-empty text",
                f"{len(said)} message(s), first: {quote(said[0].text)}",
            )
        )
    asrx_grade.check(found, context=silent_id)


@pytest.mark.asrx_rule("3.sentences")
def test_sentence_count(asrx: Suite, asrx_grade: Grader, speech_id: str) -> None:
    session = _session(corpus_run(asrx)[speech_id], asrx_grade, speech_id)
    expected = len(asrx.corpus.get(speech_id).segments)
    sentences = session.timeline.sentences()
    found = []
    if len(sentences) != expected:
        finals = " | ".join(quote(s.final_text) for s in sentences) or "no text"
        found.append(
            Finding(
                "3.sentences",
                f"{expected} sentence(s), one per manifest segment",
                f"{len(sentences)}: {finals}",
            )
        )
    asrx_grade.check(found, context=speech_id)


@pytest.mark.asrx_rule("3.no-repeat")
def test_no_repeat_of_previous_sentence(asrx: Suite, asrx_grade: Grader, multi_id: str) -> None:
    """The first message with text of each sentence must not already hold the whole final
    text of the sentence before: a cumulative transcript would (PROTOCOL.md §3). Finals of
    a single word are skipped, too short to tell a repeat from a coincidence."""
    session = _session(corpus_run(asrx)[multi_id], asrx_grade, multi_id)
    sentences = session.timeline.sentences()
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
    asrx_grade.check(found, context=multi_id)
