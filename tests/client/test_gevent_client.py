"""The gevent adapter against the reference server: timeline, errors, faults."""

from __future__ import annotations

from pathlib import Path

import gevent
import pytest

from harness.client.gevent_client import stream
from harness.client.target import Target
from harness.corpus import default_corpus_dir, load_corpus
from harness.errors import ConnectFailed, HandshakeRejected, SessionTimeout
from harness.protocol.metrics import session_metrics
from harness.server.embedded import EmbeddedServer
from harness.timeouts import Timeouts
from tests.load.runs import free_port

FAST = Timeouts(open=5, confirm=1.0, close=1.0)
KEY = "k-gevent"


def frames_of(utterance_id: str, size: int = 1024) -> tuple[list[bytes], object]:
    corpus = load_corpus(default_corpus_dir("en"))
    utt = corpus.get(utterance_id)
    pcm = utt.pcm()
    return [pcm[i : i + size] for i in range(0, len(pcm), size)], utt


def run(fn, *args, **kw):  # type: ignore[no-untyped-def]
    g = gevent.spawn(fn, *args, **kw)
    g.join(60)
    if not g.ready():
        g.kill()
        raise AssertionError("stream did not finish in 60 s")
    return g.get()


def test_session_end_to_end_with_metrics() -> None:
    frames, utt = frames_of("en-multi-01")
    with EmbeddedServer(apikeys=(KEY,)) as server:
        result = run(stream, Target(server.url, KEY, timeouts=FAST), frames, speed=4.0)
    assert result.error is None
    tl = result.session.timeline
    assert result.session.findings == [] and tl.close_code == 1000
    m = session_metrics(tl, utt.segments)  # type: ignore[attr-defined]
    assert m.segmentation_mismatch is False
    assert all(v is not None and v > 0 for v in m.first_partial_ms + m.sentence_ms)
    assert m.close_ms is not None and m.close_ms >= 0
    assert len(tl.frames) == len(frames)


def test_real_time_pacing_keeps_absolute_deadlines() -> None:
    frames = [b"\0" * 1024] * 30  # 0.96 s of silence
    with EmbeddedServer(apikeys=(KEY,)) as server:
        result = run(stream, Target(server.url, KEY, timeouts=FAST), frames)
    tl = result.session.timeline
    span = tl.frames[-1].sent - tl.frames[0].sent
    assert 29 * 0.032 - 0.005 <= span <= 29 * 0.032 + 0.05, f"30 frames took {span:.3f} s"
    assert max(f.sent - f.scheduled for f in tl.frames) < 0.02


def test_wrong_key_and_refused_port() -> None:
    with EmbeddedServer(apikeys=(KEY,)) as server, pytest.raises(HandshakeRejected) as info:
        run(stream, Target(server.url, "wrong", timeouts=FAST), [b"\0" * 1024])
    assert info.value.status == 401
    with pytest.raises(ConnectFailed, match="connection refused"):
        run(stream, Target(f"ws://127.0.0.1:{free_port()}/asrx", KEY), [b"\0" * 1024])


def test_never_confirm_is_a_timeout() -> None:
    frames, _ = frames_of("en-single-01")
    with EmbeddedServer(apikeys=(KEY,), faults=("never-confirm",)) as server:
        result = run(stream, Target(server.url, KEY, timeouts=FAST), frames, speed=8.0)
    assert isinstance(result.error, SessionTimeout)
    assert "confirmation" in str(result.error)


def test_bad_transcripts_are_findings_not_exceptions() -> None:
    frames, _ = frames_of("en-single-01")
    with EmbeddedServer(apikeys=(KEY,), faults=("state-missing",)) as server:
        result = run(stream, Target(server.url, KEY, timeouts=FAST), frames, speed=8.0)
    assert result.session.findings, "a transcript without 'state' must be a finding"


def test_wss_with_ca_file_by_host_name(tls_files: tuple[Path, Path, Path]) -> None:
    """TLS (the cached context per CA file) and a host name that goes through the resolver."""
    ca_file, cert_file, key_file = tls_files
    frames, _ = frames_of("en-single-01")
    with EmbeddedServer(apikeys=(KEY,), tls_cert=str(cert_file), tls_key=str(key_file)) as server:
        url = server.url.replace("127.0.0.1", "localhost")
        target = Target(url, KEY, ca_file=str(ca_file), timeouts=FAST)
        # Two sessions at once: a TLS socket that blocked would stall the other's pacing.
        sessions = [gevent.spawn(stream, target, frames, speed=8.0) for _ in range(2)]
        gevent.joinall(sessions, timeout=60)
        for g in sessions:
            result = g.get(block=False)
            assert result.error is None and result.session.confirmed
            tl = result.session.timeline
            assert max(f.sent - f.scheduled for f in tl.frames) < 0.02
        with pytest.raises(ConnectFailed, match="(?i)certificate|tls|ssl"):
            run(stream, Target(url, KEY, timeouts=FAST), frames[:1])


def test_frames_larger_than_the_socket_buffer_arrive_whole() -> None:
    """A send that does not fit the socket buffer finishes through sendall, bytes intact."""
    big = bytes(range(256)) * (4 * 4096)  # 4 MiB, even length
    with EmbeddedServer(
        apikeys=(KEY,),
        extra_args=("--max-frame-bytes", str(8 << 20), "--max-backlog-seconds", "600"),
    ) as server:
        result = run(stream, Target(server.url, KEY, timeouts=FAST), [big, big], speed=1000.0)
    assert result.error is None and result.session.confirmed
    assert result.session.timeline.audio_bytes == 2 * len(big)
