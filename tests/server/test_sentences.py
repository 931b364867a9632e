"""Sentences, silence, isolation, --delay-ms and the public example client (synthetic engine)."""

from __future__ import annotations

import asyncio
import json

import pytest

from harness.server.embedded import EmbeddedServer
from tests.server.conftest import KEY, silence
from tests.server.streaming import CONFIRM, metric, run, stream, wait_metric


def test_two_sentences_give_two_new_sentences(
    synthetic_server: EmbeddedServer, two_sentence_pcm: bytes
) -> None:
    got = run(stream(synthetic_server.url, KEY, two_sentence_pcm))
    states = [m["state"] for m in got.transcripts]
    assert states.count("NewSentence") == 2, got.frames
    assert states[0] == "NewSentence", "the very first message opens a sentence too"
    assert len(got.sentences()) == 2
    assert all(s.startswith("word1") for s in got.sentences())
    assert got.messages[-1] == {"text": CONFIRM, "state": ""}
    assert got.close_code == 1000


def test_final_text_precedes_confirmation(
    synthetic_server: EmbeddedServer, one_sentence: bytes
) -> None:
    # The audio ends without the 600 ms pause: the final comes from end-of-stream flushing.
    got = run(stream(synthetic_server.url, KEY, one_sentence[: len(one_sentence) - 9000]))
    assert got.messages[-2].get("final") is True, got.frames
    assert got.messages[-1]["text"] == CONFIRM


def test_silence_gives_no_text(synthetic_server: EmbeddedServer) -> None:
    got = run(stream(synthetic_server.url, KEY, silence(3000)))
    assert got.transcripts == []
    assert got.confirmed and got.close_code == 1000


def test_quiet_noise_is_not_speech(synthetic_server: EmbeddedServer) -> None:
    import numpy as np

    noise = (np.random.default_rng(1).normal(0, 30, 16000 * 2)).astype("<i2").tobytes()
    got = run(stream(synthetic_server.url, KEY, noise))
    assert got.texts == []


def test_sessions_are_isolated(synthetic_server: EmbeddedServer, two_sentence_pcm: bytes) -> None:
    async def both() -> list:
        return await asyncio.gather(
            stream(synthetic_server.url, KEY, two_sentence_pcm, realtime=False),
            stream(synthetic_server.url, KEY, silence(2000)),
        )

    speech, quiet = run(both())
    alone = run(stream(synthetic_server.url, KEY, two_sentence_pcm))
    assert quiet.transcripts == [], "silence session saw another session's text"
    assert speech.sentences() == alone.sentences()


def test_no_session_leaks_after_sessions(
    synthetic_server: EmbeddedServer, one_sentence: bytes
) -> None:
    run(stream(synthetic_server.url, KEY, one_sentence))
    assert wait_metric(synthetic_server.http_url, "asrx_active_sessions", 0) == 0


def test_delay_ms_shifts_first_transcript(one_sentence: bytes) -> None:
    delay_ms = 700

    def first_transcript_s(server: EmbeddedServer) -> float:
        got = run(stream(server.url, KEY, one_sentence))
        return got.times[0] - got.started

    with EmbeddedServer(apikeys=[KEY]) as plain:
        base = min(first_transcript_s(plain) for _ in range(2))
    with EmbeddedServer(apikeys=[KEY], delay_ms=delay_ms) as delayed:
        late = min(first_transcript_s(delayed) for _ in range(2))
    assert 0.65 <= late - base <= 0.9, (base, late)


def test_delay_ms_does_not_slow_reading(one_sentence: bytes) -> None:
    """Audio is read at full speed while transcripts wait: the send side never stalls."""

    async def send_time(url: str) -> float:
        from tests.server.streaming import open_session

        ws = await open_session(url, KEY)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        for _ in range(20):
            for i in range(0, len(one_sentence), 1024):
                await ws.send(one_sentence[i : i + 1024])
        elapsed = loop.time() - t0
        await ws.close()
        return elapsed

    with EmbeddedServer(apikeys=[KEY], delay_ms=2000) as server:
        assert run(send_time(server.url)) < 2.0


def test_public_example_client_works_unchanged(
    synthetic_server: EmbeddedServer, two_sentence_pcm: bytes, tmp_path: pytest.TempPathFactory
) -> None:
    """The documentation's 'stream from file' client (legacy websockets, extra_headers),
    changed only in URL, key and file (and print -> a list)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import websockets
        from websockets.legacy.client import WebSocketClientProtocol, connect

    path = tmp_path / "male.pcm"  # type: ignore[operator]
    path.write_bytes(two_sentence_pcm)
    seen: list[tuple[str, str]] = []

    async def send_audio_data(ws_client: WebSocketClientProtocol) -> None:
        frame_size = 1024
        with open(path, "rb") as file:
            while True:
                buff = file.read(frame_size)
                if buff:
                    await ws_client.send(buff)
                else:
                    data_to_send = {"data": {"status": "CloseConnection"}}
                    await ws_client.send(json.dumps(data_to_send))
                    break
                await asyncio.sleep(0.02)

    async def receive_message(ws_client: WebSocketClientProtocol) -> None:
        try:
            while True:
                message = await ws_client.recv()
                data = json.loads(message)
                state = data.get("state")
                transcribe = data.get("text")
                seen.append((transcribe, state))
                if transcribe == "Confirm Close Connection":
                    break
        except websockets.exceptions.ConnectionClosed as e:
            seen.append((str(e), "closed"))

    async def client_test() -> None:
        url = synthetic_server.url
        async with connect(url, ping_timeout=None, extra_headers={"apikey": KEY}) as cli_ws:
            send_data_task = asyncio.create_task(send_audio_data(cli_ws))
            receive_data_task = asyncio.create_task(receive_message(cli_ws))
            await send_data_task
            await receive_data_task

    run(asyncio.wait_for(client_test(), 60))
    assert seen[-1][0] == "Confirm Close Connection", seen
    assert [s for _, s in seen].count("NewSentence") == 2
    assert metric(synthetic_server.http_url, "asrx_sessions_total", {"code": "1000"}) >= 1
