"""PROTOCOL.md §3: every server message is a text frame holding a UTF-8 JSON object with
string ``text`` and ``state``, over every corpus utterance; each violation quotes the
offending message."""

from __future__ import annotations

import pytest

from harness.conformance.grading import Grader
from harness.conformance.plugin import Suite, collection_corpus, corpus_run
from harness.conformance.probes import SCHEMA_RULES


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "utterance_id" in metafunc.fixturenames:
        ids = [u.id for u in collection_corpus(metafunc.config).utterances]
        metafunc.parametrize("utterance_id", ids)


@pytest.mark.asrx_rule(*SCHEMA_RULES)
def test_message_schema(asrx: Suite, asrx_grade: Grader, utterance_id: str) -> None:
    run = corpus_run(asrx)[utterance_id]
    if run.result is None:
        asrx_grade.check(run.findings(), context=utterance_id)
    asrx_grade.check([f for f in run.findings() if f.rule in SCHEMA_RULES], context=utterance_id)
