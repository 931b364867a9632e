"""docs/protocol.md §3: every server message is a text frame holding a UTF-8 JSON object with
string ``text`` and ``state``, of bounded size, in well-formed WebSocket frames.

Checked on the session of every corpus utterance, and on the sessions of the bad-input
probes (``test_robustness``), whose error replies must have the message shape too. Each
violation quotes the offending message.
"""

from __future__ import annotations

import pytest

from harness.conformance.grading import Grader
from harness.conformance.sessions import SCHEMA_RULES, no_session
from harness.conformance.state import corpus_of
from harness.conformance.suite import BAD_INPUTS, Suite

#: Case-name prefix of the bad-input sessions.
AFTER = "after-"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "session_name" in metafunc.fixturenames:
        ids = [u.id for u in corpus_of(metafunc.config).utterances]
        metafunc.parametrize("session_name", ids + [AFTER + k for k in BAD_INPUTS])


@pytest.mark.asrx_rule(*SCHEMA_RULES)
def test_message_schema(asrx: Suite, asrx_grade: Grader, session_name: str) -> None:
    if session_name.startswith(AFTER):
        run = asrx.bad_input_session(session_name.removeprefix(AFTER))
    else:
        run = asrx.corpus_session(session_name)
    if (why := no_session(run)) is not None:
        asrx_grade.cannot_test(why)
    asrx_grade.check(run.findings(), context=session_name)
