"""The asyncio adapter (CLI, suite), the gevent adapter (Locust) and the raw probe session
judge the same defective servers the same way: the same session end and the same rules."""

from __future__ import annotations

import asyncio
import re

import gevent
import pytest

from harness.client import aio, gevent_client
from harness.client.raw import RawSession
from harness.client.target import Target
from harness.protocol.ending import SessionEnd
from harness.protocol.events import Finding
from harness.protocol.result import StreamResult
from harness.timeouts import Timeouts
from tests.hostile import ESCAPES, EXPECTED, hostile_server

FAST = Timeouts(open=5, confirm=1.0, close=1.0)
FRAMES = [bytes(1024)] * 20  # 0.64 s of silence
SPEED = 4.0


def via_asyncio(url: str) -> StreamResult:
    return asyncio.run(
        asyncio.wait_for(aio.stream(Target(url, "k", timeouts=FAST), FRAMES, speed=SPEED), 30)
    )


def via_gevent(url: str) -> StreamResult:
    g = gevent.spawn(gevent_client.stream, Target(url, "k", timeouts=FAST), FRAMES, speed=SPEED)
    g.join(30)
    assert g.ready(), "the gevent session did not finish in 30 s"
    result: StreamResult = g.get()
    return result


def via_raw_probe(url: str) -> StreamResult:
    async def probe() -> StreamResult:
        raw = await RawSession.open(Target(url, "k", timeouts=FAST))
        try:
            await raw.send_audio(b"".join(FRAMES), 1024, SPEED)
            await raw.end()
        finally:
            await raw.aclose()
        return raw.result()

    return asyncio.run(asyncio.wait_for(probe(), 30))


ADAPTERS = {"asyncio": via_asyncio, "gevent": via_gevent, "raw-probe": via_raw_probe}


def rules(result: StreamResult) -> tuple[str, ...]:
    return tuple(dict.fromkeys(f.rule for f in result.findings))


@pytest.mark.parametrize("kind", EXPECTED)
def test_every_adapter_sees_the_same_end_and_rules(kind: str) -> None:
    with hostile_server(kind) as url:
        seen = {name: run(url) for name, run in ADAPTERS.items()}
    outcome = {name: (r.end, rules(r)) for name, r in seen.items()}
    assert set(outcome.values()) == {EXPECTED[kind]}, outcome
    for r in seen.values():
        assert r.completed is (EXPECTED[kind][0] is SessionEnd.COMPLETED)
        assert (r.error is None) == (r.end not in _ENDS_WITH_ERRORS), r.error


_ENDS_WITH_ERRORS = {
    SessionEnd.CLOSED,
    SessionEnd.DROPPED,
    SessionEnd.SEND_TIMEOUT,
    SessionEnd.CONFIRM_TIMEOUT,
    SessionEnd.CLOSE_TIMEOUT,
}


def test_a_confirmation_without_state_is_non_strict_everywhere() -> None:
    with hostile_server("confirm-no-state") as url:
        for run in ADAPTERS.values():
            result = run(url)
            assert [(f.rule, f.strict_only) for f in result.findings] == [("3.state", True)]


def test_a_1013_close_is_lawful_but_ends_the_session_unconfirmed() -> None:
    with hostile_server("close-1013") as url:
        result = via_gevent(url)
    assert result.session.timeline.close_code == 1013
    assert str(result.error) == (
        "server closed the connection while audio was being sent (close code 1013: hostile close)"
    )


def test_escapes_are_kept_as_data_and_escaped_in_findings() -> None:
    """The transcript keeps what the server said; a finding quoting it is printable."""
    with hostile_server("escapes") as url:
        result = via_asyncio(url)
    texts = [m.text for m in result.session.timeline.messages if not m.confirmation]
    assert texts and all(ESCAPES in t for t in texts)
    f = Finding("3.text", "x", texts[0])
    assert "\x1b" not in f.seen and "\x00" not in f.seen and "\\x1b]0;pwned" in f.seen


def test_oversize_is_refused_at_the_header_with_1009() -> None:
    """The 64 MiB message is never buffered: the client closes at its frame header."""
    with hostile_server("oversize") as url:
        result = via_asyncio(url)
    (f,) = result.findings
    assert f.rule == "3.size" and "1009" in f.seen
    assert re.search(r"frame with 67108864 bytes exceeds limit of 1048576 bytes", f.seen), f.seen
    assert result.session.timeline.messages_not_kept == 0
