"""Limits and bad input: frame cap (1009), odd-length frames, bad text frames, idle timeout,
session length cap."""

from __future__ import annotations

import asyncio

from harness.server.embedded import EmbeddedServer
from tests.server.conftest import KEY, silence
from tests.server.streaming import EOS, Received, open_session, read_all, run, stream


def test_oversize_frame_closes_1009(synthetic_server: EmbeddedServer) -> None:
    got = run(stream(synthetic_server.url, KEY, silence(40_000), frame_bytes=(1 << 20) + 2))
    assert got.close_code == 1009


def test_frame_cap_is_configurable() -> None:
    with EmbeddedServer(apikeys=[KEY], extra_args=["--max-frame-bytes", "4096"]) as server:
        assert run(stream(server.url, KEY, silence(500), frame_bytes=4096)).close_code == 1000
        assert run(stream(server.url, KEY, silence(500), frame_bytes=4098)).close_code == 1009


def test_odd_length_frames_carry_the_half_sample(
    synthetic_server: EmbeddedServer, two_sentence_pcm: bytes
) -> None:
    even = run(stream(synthetic_server.url, KEY, two_sentence_pcm, frame_bytes=1024))
    odd = run(stream(synthetic_server.url, KEY, two_sentence_pcm, frame_bytes=1023))
    assert odd.close_code == 1000 and odd.confirmed
    # Same samples in, same sentences out: the half samples were stitched back together.
    assert odd.sentences() == even.sentences()


async def _session_with_text_frames(url: str, frames: list[str], pcm: bytes) -> Received:
    got = Received()
    async with asyncio.timeout(30):
        ws = await open_session(url, KEY)
        for frame in frames:
            await ws.send(frame)
        for i in range(0, len(pcm), 2048):
            await ws.send(pcm[i : i + 2048])
        await ws.send(EOS)
        await read_all(ws, got)
    return got


def test_malformed_json_gets_error_reply_and_session_goes_on(
    synthetic_server: EmbeddedServer, one_sentence: bytes
) -> None:
    frames = ["{not json", '{"data": {"status": "Whatever"}}', "[1, 2]", ""]
    got = run(_session_with_text_frames(synthetic_server.url, frames, one_sentence))
    errors = [m for m in got.messages if m["state"] == "Error"]
    assert len(errors) == len(frames)
    assert all(m["text"] == "" and m["error"] for m in errors)
    assert got.texts and got.confirmed and got.close_code == 1000


def test_idle_timeout_closes_1000_with_reason() -> None:
    async def idle(url: str) -> Received:
        got = Received()
        async with asyncio.timeout(10):
            ws = await open_session(url, KEY)
            await ws.send(silence(100))
            await read_all(ws, got)
        return got

    with EmbeddedServer(apikeys=[KEY], extra_args=["--idle-timeout", "0.5"]) as server:
        got = run(idle(server.url))
    assert got.close_code == 1000
    assert "idle" in got.close_reason


def test_session_length_cap() -> None:
    async def long(url: str) -> Received:
        got = Received()
        async with asyncio.timeout(10):
            ws = await open_session(url, KEY)

            async def keep_sending() -> None:
                while True:
                    await ws.send(silence(100))
                    await asyncio.sleep(0.05)

            sender = asyncio.create_task(keep_sending())
            await read_all(ws, got)
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
        return got

    with EmbeddedServer(apikeys=[KEY], extra_args=["--max-session-seconds", "1"]) as server:
        got = run(long(server.url))
    assert got.close_code == 1008
    assert "length" in got.close_reason


def test_frames_after_end_of_stream_are_ignored(
    synthetic_server: EmbeddedServer, one_sentence: bytes
) -> None:
    async def scenario(url: str) -> Received:
        got = Received()
        async with asyncio.timeout(30):
            ws = await open_session(url, KEY)
            await ws.send(one_sentence)
            await ws.send(EOS)
            await ws.send(one_sentence)  # may race the close: either way, nothing changes
            await ws.send(EOS)
            await read_all(ws, got)
        return got

    got = run(scenario(synthetic_server.url))
    assert [m["text"] for m in got.messages].count("Confirm Close Connection") == 1
    assert got.messages[-1]["text"] == "Confirm Close Connection"
    assert len(got.sentences()) == 1 and got.close_code == 1000


def test_client_that_ignores_the_close_is_cut_off() -> None:
    """After an idle-timeout close, a client that never answers loses its TCP connection
    one idle period later, well before websockets' own 10 s close timeout."""
    import socket
    import time
    from urllib.parse import urlsplit

    from websockets.client import ClientProtocol
    from websockets.uri import parse_uri

    with EmbeddedServer(apikeys=[KEY], extra_args=["--idle-timeout", "0.5"]) as server:
        protocol = ClientProtocol(parse_uri(server.url))
        request = protocol.connect()
        request.headers["apikey"] = KEY
        protocol.send_request(request)
        address = urlsplit(server.url)
        with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
            sock.sendall(b"".join(protocol.data_to_send()))
            started = time.monotonic()
            received = b""
            while True:  # read, never answer the close frame; until the server cuts us
                try:
                    chunk = sock.recv(65536)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                received += chunk
            elapsed = time.monotonic() - started
    assert b"101 Switching Protocols" in received and b"idle timeout" in received
    assert elapsed < 3.0, elapsed


def test_a_closed_session_frees_its_slot_before_the_client_can_reconnect() -> None:
    """With --max-sessions 1, back-to-back sessions never meet a 503: the slot is given
    back the moment the connection ends, not after the session's cleanup."""

    async def back_to_back(url: str) -> list[int | None]:
        codes = []
        for _ in range(15):
            got = await stream(url, KEY, silence(64))
            codes.append(got.close_code)
        return codes

    with EmbeddedServer(apikeys=[KEY], extra_args=["--max-sessions", "1"]) as server:
        assert run(back_to_back(server.url)) == [1000] * 15
