"""``ClientSession``: lawful close codes and bounded memory whatever the server sends."""

import pytest

from harness.limits import DEFAULT_LIMITS, Limits
from harness.protocol.session import ClientSession


def opened(limits: Limits = DEFAULT_LIMITS) -> ClientSession:
    s = ClientSession(limits=limits)
    s.opened(0.0)
    return s


@pytest.mark.parametrize("code", [1001, 1003, 1007, 1008, 1009, 1011, 1013])
def test_lawful_error_closes_are_not_findings(code: int) -> None:
    s = opened()
    assert s.closed(1.0, code) == [] and s.findings == []


@pytest.mark.parametrize("code", [None, 1002, 1006, 4000])
def test_other_closes_before_the_confirmation_are_findings(code: int | None) -> None:
    s = opened()
    s.closed(1.0, code)
    assert [f.rule for f in s.findings] == ["3.error-reply"]
    assert "1013" in s.findings[0].expected


def test_a_close_the_client_caused_is_not_judged() -> None:
    s = opened()
    assert s.closed(1.0, None, by_client=True) == [] and s.findings == []


def test_history_is_bounded_by_count_and_bytes() -> None:
    s = opened(Limits(max_messages_kept=10))
    for i in range(100):
        s.receive(f'{{"text": "m{i}", "state": ""}}', i)
    assert len(s.timeline.messages) == 10 and s.timeline.messages_not_kept == 90
    s = opened(Limits(max_history_chars=1000))
    for i in range(100):
        s.receive('{"text": "%s", "state": ""}' % ("x" * 99), i)
    assert len(s.timeline.messages) == 10 and s.timeline.messages_not_kept == 90


def test_the_confirmation_is_kept_past_the_history_bound() -> None:
    s = opened(Limits(max_messages_kept=1))
    s.receive('{"text": "a", "state": ""}', 1)
    s.receive('{"text": "b", "state": ""}', 2)
    s.end_of_stream(3)
    s.receive('{"text": "Confirm Close Connection", "state": ""}', 4)
    assert s.confirmed and s.timeline.messages[-1].confirmation


def test_findings_are_bounded_per_rule_and_counted() -> None:
    s = opened(Limits(max_findings_per_rule=3))
    for i in range(50):
        s.receive("not json", i)
        s.receive(b"\x00", i)
    assert [f.rule for f in s.findings] == ["3.json", "3.text-frame"] * 3
    assert s.findings_not_kept == 94
    # a suppressed finding is not passed on either (a CLI would print it)
    assert s.receive("not json", 99) == []
