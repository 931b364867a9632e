"""How sessions end: the decision table, its findings and errors, and the latency gate."""

import pytest

from harness.errors import ConnectionDropped, SessionTimeout
from harness.protocol.ending import SessionEnd, Wait, decide_end, end_error, end_findings
from harness.protocol.metrics import session_metrics
from harness.protocol.result import LATENCY_NAMES, StreamResult, latency_samples
from harness.protocol.session import ClientSession
from harness.protocol.words import ReferenceWord, word_latencies
from harness.timeouts import Timeouts

T = Timeouts(confirm=2.0, close=3.0, send=4.0)
E = SessionEnd


@pytest.mark.parametrize(
    ("facts", "end"),
    [
        ({"confirmed": True, "closed_by_server": True, "close_code": 1000}, E.COMPLETED),
        ({"confirmed": True, "closed_by_server": True, "close_code": 1011}, E.CLOSED_AFTER_CONFIRM),
        ({"confirmed": True, "closed_by_server": True, "close_code": None}, E.CLOSED_AFTER_CONFIRM),
        ({"confirmed": False, "closed_by_server": True, "close_code": 1013}, E.CLOSED),
        ({"confirmed": False, "closed_by_server": True, "close_code": None}, E.DROPPED),
        ({"confirmed": False, "closed_by_server": False, "close_code": None}, E.ABANDONED),
        ({"timed_out": Wait.CONFIRM}, E.CONFIRM_TIMEOUT),
        ({"timed_out": Wait.CLOSE, "confirmed": True}, E.CLOSE_TIMEOUT),
        ({"timed_out": Wait.SEND}, E.SEND_TIMEOUT),
        # a failure of ours over a server frame outranks whatever followed
        ({"failure": E.MESSAGE_TOO_BIG, "timed_out": Wait.CLOSE}, E.MESSAGE_TOO_BIG),
        ({"failure": E.INVALID_UTF8, "closed_by_server": True, "close_code": 1000}, E.INVALID_UTF8),
    ],
)
def test_decide_end(facts: dict, end: SessionEnd) -> None:
    base = {"failure": None, "timed_out": None, "confirmed": False}
    base |= {"closed_by_server": False, "close_code": None}
    assert decide_end(**(base | facts)) is end


def test_errors_and_findings_of_each_end() -> None:
    s = ClientSession()
    s.opened(0)
    s.closed(1, 1013, "busy")
    err = end_error(E.CLOSED, s, T)
    assert isinstance(err, ConnectionDropped) and err.code == 1013
    assert (
        str(err)
        == "server closed the connection while audio was being sent (close code 1013: busy)"
    )
    assert [f.rule for f in end_findings(E.CLOSED, err)] == ["4.confirm"]
    err = end_error(E.CONFIRM_TIMEOUT, s, T)
    assert isinstance(err, SessionTimeout) and err.seconds == 2.0
    assert [f.rule for f in end_findings(E.CONFIRM_TIMEOUT, err)] == [
        "4.confirm",
        "4.close-in-time",
    ]
    err = end_error(E.SEND_TIMEOUT, s, T)
    assert str(err) == "timed out after 4 s waiting for sending audio"
    assert [f.rule for f in end_findings(E.SEND_TIMEOUT, err)] == ["3.error-reply"]
    for quiet in (E.COMPLETED, E.CLOSED_AFTER_CONFIRM, E.MESSAGE_TOO_BIG, E.ABANDONED):
        assert end_error(quiet, s, T) is None and end_findings(quiet, None) == []


def test_a_close_reason_is_escaped_in_the_error() -> None:
    s = ClientSession()
    s.opened(0)
    s.closed(1, 1011, "\x1b]0;pwned\x07")
    assert "\x1b" not in str(end_error(E.CLOSED, s, T))


def whole_session() -> ClientSession:
    s = ClientSession()
    s.connect_started(-0.01)
    s.opened(0.0)
    for k in range(50):
        s.frame_sent(1024, k * 0.032, k * 0.032)
    s.receive('{"text": "hi", "state": "NewSentence"}', 0.9)
    s.end_of_stream(1.6)
    s.receive('{"text": "Confirm Close Connection", "state": ""}', 1.7)
    s.closed(1.8, 1000)
    return s


def test_only_a_completed_session_gives_latency_samples() -> None:
    s = whole_session()
    m = session_metrics(s.timeline, [(320.0, 640.0)])
    words = word_latencies(s.timeline, [ReferenceWord("hi", 320.0, 640.0)], "en")
    done = latency_samples(StreamResult(s, E.COMPLETED), m, words)
    assert list(done) == list(LATENCY_NAMES) and all(done[n] for n in LATENCY_NAMES)
    assert done["word_upl"] == words.upl_ms and done["word_final"] == words.finalization_ms
    for end in set(E) - {E.COMPLETED}:
        assert latency_samples(StreamResult(s, end), m, words) == {}


def test_a_session_past_its_history_bound_is_not_whole() -> None:
    s = whole_session()
    s.timeline.messages_not_kept = 1
    assert not StreamResult(s, E.COMPLETED).completed
