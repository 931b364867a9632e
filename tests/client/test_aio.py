"""The asyncio session against a real WebSocket server on 127.0.0.1."""

from __future__ import annotations

import asyncio

import pytest

from harness.client.aio import stream
from harness.client.sources import file_frames
from harness.client.target import Target
from harness.errors import ConnectionDropped, HandshakeRejected, SessionTimeout
from harness.protocol.metrics import session_metrics
from harness.server.embedded import EmbeddedServer
from harness.timeouts import Timeouts
from tests.conftest import APIKEY, TWO_SENTENCES, faulty_server

FAST = Timeouts(open=5, confirm=1.0, close=1.0)


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_two_sentences_end_to_end(reference_server: EmbeddedServer) -> None:
    target = Target(reference_server.url, APIKEY)
    result = run(stream(target, file_frames(TWO_SENTENCES, 1024), speed=4.0))
    assert result.error is None
    tl = result.session.timeline
    assert len(tl.sentences()) == 2
    assert tl.close_code == 1000
    assert result.session.findings == []
    m = session_metrics(tl, [(1200.0, 4000.0), (5500.0, 7800.0)])
    assert m.close_ms is not None and m.close_ms >= 0
    assert all(v is not None and v > 0 for v in m.first_partial_ms)


def test_real_time_pacing_is_kept(reference_server: EmbeddedServer) -> None:
    frames = [b"\0" * 1024] * 30  # 0.96 s of silence
    result = run(stream(Target(reference_server.url, APIKEY), frames, speed=1.0))
    tl = result.session.timeline
    span = tl.frames[-1].sent - tl.frames[0].sent
    assert 29 * 0.032 - 0.005 <= span <= 29 * 0.032 + 0.05, f"30 frames took {span:.3f} s"
    assert max(f.sent - f.scheduled for f in tl.frames) < 0.05


def test_wrong_key_is_handshake_rejected(reference_server: EmbeddedServer) -> None:
    with pytest.raises(HandshakeRejected) as info:
        run(stream(Target(reference_server.url, "wrong"), [b"\0" * 1024]))
    assert info.value.status == 401


def test_never_confirm_times_out_with_a_named_wait() -> None:
    with faulty_server("never-confirm") as server:
        result = run(
            stream(Target(server.url, APIKEY, timeouts=FAST), [b"\0" * 1024] * 3, speed=None)
        )
    assert isinstance(result.error, SessionTimeout)
    assert "confirmation" in str(result.error)


def test_never_close_times_out() -> None:
    with faulty_server("confirm-never-close") as server:
        result = run(
            stream(Target(server.url, APIKEY, timeouts=FAST), [b"\0" * 1024] * 3, speed=None)
        )
    assert result.session.confirmed
    assert isinstance(result.error, SessionTimeout)
    assert "close" in str(result.error)


def test_server_closing_mid_stream_is_reported() -> None:
    # odd-frame-1011: the server closes 1011 on an odd-length frame, here the 11th
    frames = [b"\0" * 1024] * 10 + [b"\0" * 1023] + [b"\0" * 1024] * 40
    with faulty_server("odd-frame-1011") as server:
        result = run(stream(Target(server.url, APIKEY, timeouts=FAST), frames, speed=8.0))
    assert isinstance(result.error, ConnectionDropped)
    assert "1011" in str(result.error)
