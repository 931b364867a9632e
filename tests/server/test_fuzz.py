"""Hypothesis-driven fuzzing: random sequences of frames and control messages.

Invariants after every sequence: the server process is alive, no session is leaked
(``asrx_active_sessions`` back to 0), and a fresh session works end to end.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed

from harness.server.embedded import EmbeddedServer
from tests.server.conftest import KEY, silence
from tests.server.streaming import EOS, open_session, run, stream, wait_metric

MAX_FRAME = 8192

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)

actions = st.one_of(
    st.tuples(st.just("audio"), st.binary(max_size=3000)),
    st.tuples(st.just("speechlike"), st.integers(1, 12_000)),
    st.tuples(st.just("oversize"), st.integers(MAX_FRAME + 1, MAX_FRAME + 64)),
    st.tuples(st.just("text"), st.text(max_size=40)),
    st.tuples(st.just("json"), _json_values.map(json.dumps)),
    st.tuples(st.just("eos"), st.just(EOS)),
    st.tuples(st.just("ping"), st.none()),
    st.tuples(st.just("pause"), st.integers(0, 30)),
    st.tuples(st.just("close"), st.sampled_from([1000, 1001, 3000, 4999])),
)


class Clip:
    """Speech audio with a short repr (hypothesis prints the test's arguments)."""

    def __init__(self, pcm: bytes) -> None:
        self.pcm = pcm

    def __repr__(self) -> str:
        return f"Clip(<{len(self.pcm)} bytes>)"


@pytest.fixture(scope="module")
def clip(one_sentence: bytes) -> Clip:
    return Clip(one_sentence)


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[EmbeddedServer]:
    args = ["--max-frame-bytes", str(MAX_FRAME), "--idle-timeout", "5"]
    with EmbeddedServer(apikeys=[KEY], extra_args=args) as server:
        yield server


async def play(url: str, sequence: list[tuple[str, object]], loud: bytes) -> None:
    async with asyncio.timeout(20):
        ws = await open_session(url, KEY)
        try:
            for kind, arg in sequence:
                if kind == "audio":
                    await ws.send(arg)  # type: ignore[arg-type]
                elif kind == "speechlike":
                    n = int(arg)  # type: ignore[call-overload]
                    await ws.send(loud[:n])
                elif kind == "oversize":
                    await ws.send(b"\1" * int(arg))  # type: ignore[call-overload]
                elif kind in ("text", "json", "eos"):
                    await ws.send(str(arg))
                elif kind == "ping":
                    await ws.ping()  # random payload: two equal pings would clash
                elif kind == "pause":
                    await asyncio.sleep(int(arg) / 1000)  # type: ignore[call-overload]
                else:
                    await ws.close(int(arg))  # type: ignore[call-overload]
        except ConnectionClosed:
            pass
        finally:
            await ws.close()


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(sequence=st.lists(actions, max_size=12))
def test_random_sequences_never_break_the_server(
    fuzz_server: EmbeddedServer, clip: Clip, sequence: list[tuple[str, object]]
) -> None:
    run(play(fuzz_server.url, sequence, clip.pcm[16000:]))
    assert fuzz_server.process is not None and fuzz_server.process.poll() is None, (
        fuzz_server.stderr_tail()
    )
    assert wait_metric(fuzz_server.http_url, "asrx_active_sessions", 0) == 0, "leaked session"
    fresh = run(stream(fuzz_server.url, KEY, clip.pcm, frame_bytes=4096, timeout=20))
    assert fresh.texts and fresh.confirmed and fresh.close_code == 1000


def test_fuzz_server_logged_no_crash(fuzz_server: EmbeddedServer) -> None:
    run(stream(fuzz_server.url, KEY, silence(100)))
    assert "session_crashed" not in fuzz_server.stderr_text()
    assert "Traceback" not in fuzz_server.stderr_text()
