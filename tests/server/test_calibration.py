"""``--result-latency-ms``: results leave a known time after the audio they cover arrived.

The decoder is driven in process by a recognizer that takes as long as each test says, so
the release times can be checked against the exact arrival times it was given; then the
option end to end, through the real server and a real WebSocket.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import dataclass, field

import pytest

from harness.errors import UsageError
from harness.protocol.audio import BYTES_PER_MS
from harness.protocol.dialect import DEFAULT_DIALECT
from harness.server.config import ServerConfig, add_arguments, config_from_args
from harness.server.decoder import Audio, Begin, Decoder, End, Finish
from harness.server.embedded import EmbeddedServer
from harness.server.engines import Decoded
from harness.server.faults import FaultPolicy
from harness.server.observability import ServerMetrics
from harness.server.outbox import Outbox, SendLimits
from harness.server.replies import Replies
from tests.server.conftest import KEY
from tests.server.streaming import EOS, Received, metric, open_session, read_all

BATCH_MS = 250
#: Timers on an idle event loop fire within about a millisecond; this allows a busy machine.
TOLERANCE_S = 0.015


@dataclass
class SlowRecognizer:
    """Takes ``compute_s[i]`` to decode the i-th call; says a new word every call."""

    compute_s: list[float]
    batches_ms: list[float] = field(default_factory=list)

    async def begin(self) -> None:
        return None

    async def _decode(self, pcm: bytes) -> Decoded:
        await asyncio.sleep(self.compute_s[len(self.batches_ms)])
        self.batches_ms.append(len(pcm) / BYTES_PER_MS)
        return Decoded(" ".join(f"w{i}" for i in range(len(self.batches_ms))))

    async def accept(self, pcm: bytes, hypothesis: bool) -> Decoded:
        return await self._decode(pcm)

    async def end(self, pcm: bytes) -> Decoded:
        return await self._decode(pcm)

    async def close(self) -> None:
        return None


class RecordingSocket:
    def __init__(self) -> None:
        self.sent: list[tuple[str, float]] = []

    async def send(self, payload: str) -> None:
        self.sent.append((json.loads(payload)["text"], asyncio.get_running_loop().time()))

    async def close(self, code: int, reason: str) -> None:
        return None


@dataclass
class Run:
    #: (text, loop time sent) of every message, the confirmation last.
    sent: list[tuple[str, float]]
    #: Loop time each partial's audio arrived, then the sentence end's.
    arrived: list[float]
    recognizer: SlowRecognizer
    decoder: Decoder
    metrics: ServerMetrics


def drive(
    compute_s: list[float],
    *,
    latency_ms: int | None,
    delay_ms: int = 0,
    batches: int = 4,
    every_s: float = BATCH_MS / 1000,
) -> Run:
    """One sentence: ``batches`` batches of speech arriving ``every_s`` apart, then its end."""

    async def scenario() -> Run:
        loop = asyncio.get_running_loop()
        socket = RecordingSocket()
        outbox = Outbox(socket, delay_ms / 1000, SendLimits(1000, 1 << 20))  # type: ignore[arg-type]
        config = ServerConfig(result_latency_ms=latency_ms, partial_every_ms=BATCH_MS)
        replies = Replies(outbox, DEFAULT_DIALECT, FaultPolicy(), [], loop.time())
        metrics = ServerMetrics()
        decoder = Decoder(replies, outbox, metrics, config, loop.time, 1)
        recognizer = SlowRecognizer(compute_s)
        tasks = [asyncio.create_task(decoder.run(recognizer)), asyncio.create_task(outbox.run())]
        decoder.put(Begin())
        arrived = []
        for _ in range(batches):
            arrived.append(loop.time())
            decoder.put(Audio(bytes(BATCH_MS * BYTES_PER_MS), arrived[-1]))
            await asyncio.sleep(every_s)
        arrived.append(loop.time())
        decoder.put(End(arrived[-1]))
        decoder.put(Finish())
        async with asyncio.timeout(10):
            await tasks[0]
            while not socket.sent or socket.sent[-1][0] != DEFAULT_DIALECT.confirmation_text:
                await asyncio.sleep(0.01)
        tasks[1].cancel()
        return Run(socket.sent, arrived, recognizer, decoder, metrics)

    return asyncio.run(scenario())


def test_each_result_leaves_its_latency_after_its_audio_arrived_whatever_decoding_took() -> None:
    latency, delay = 300, 100
    run = drive([0.0, 0.12, 0.03, 0.21, 0.08], latency_ms=latency, delay_ms=delay)
    *results, (confirm, confirmed_at) = run.sent
    assert [text for text, _ in results] == [
        "w0",
        "w0 w1",
        "w0 w1 w2",
        "w0 w1 w2 w3",
        "w0 w1 w2 w3 w4",
    ]
    for (_, sent), arrived in zip(results, run.arrived, strict=True):
        assert sent - arrived == pytest.approx((latency + delay) / 1000, abs=TOLERANCE_S)
    assert confirm == DEFAULT_DIALECT.confirmation_text
    assert confirmed_at - results[-1][1] < TOLERANCE_S, "the confirmation follows the final"
    assert run.decoder.late == 0 and run.decoder.lateness() == {
        "results_late": 0,
        "results_late_max_ms": 0.0,
    }


def test_a_result_decoded_after_its_release_time_goes_at_once_and_is_counted_late() -> None:
    # The second batch takes 400 ms to decode against a 100 ms latency.
    run = drive([0.0, 0.4, 0.0, 0.0, 0.0], latency_ms=100, every_s=0.5)
    (_, first), (_, second), *_ = run.sent
    assert first - run.arrived[0] == pytest.approx(0.1, abs=TOLERANCE_S)
    assert second - run.arrived[1] == pytest.approx(0.4, abs=TOLERANCE_S)
    assert run.decoder.late == 1
    assert run.decoder.lateness()["results_late_max_ms"] == pytest.approx(300, abs=15)
    assert run.metrics.results_late._value.get() == 1  # noqa: SLF001


def test_batches_are_never_joined_so_the_same_audio_gives_the_same_results() -> None:
    """A decoder that fell behind decodes each batch on its own under a result latency."""
    slow_first = [0.6, 0.0, 0.0, 0.0, 0.0]
    calibrated = drive(slow_first, latency_ms=1000, every_s=0.1)
    assert calibrated.recognizer.batches_ms == [BATCH_MS] * 4 + [0]
    # Sending each result when decoded (the default), the queued audio is decoded in one call.
    default = drive(slow_first, latency_ms=None, every_s=0.1)
    assert default.recognizer.batches_ms == [BATCH_MS, 3 * BATCH_MS, 0]
    assert default.decoder.lateness() == {}


def test_without_the_option_results_leave_when_decoded() -> None:
    run = drive([0.0, 0.12, 0.03, 0.21, 0.08], latency_ms=None)
    decode_end = [0.0, 0.12, 0.03, 0.21, 0.08]
    for (_, sent), arrived, took in zip(run.sent, run.arrived, decode_end, strict=False):
        assert sent - arrived == pytest.approx(took, abs=TOLERANCE_S)


@pytest.mark.parametrize("value", ["0", "-5"])
def test_result_latency_must_be_positive(value: str) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--no-auth", "--result-latency-ms", value])
    with pytest.raises(UsageError, match="--result-latency-ms must be >= 1"):
        config_from_args(args)


def test_the_server_holds_results_and_the_confirmation_follows(
    two_sentence_pcm: bytes, one_sentence: bytes
) -> None:
    """A burst of three sentences, the last cut before its closing pause, then end-of-stream
    a second later: the results of the audio in the burst (the VAD ended two sentences in
    it) leave L + D after the burst, the last final L + D after end-of-stream; the
    session's log line says none was late."""
    latency_ms, delay_ms = 400, 100
    hold = (latency_ms + delay_ms) / 1000
    audio = two_sentence_pcm + one_sentence[: len(one_sentence) - 9000]

    async def scenario(url: str) -> tuple[Received, float, float, float]:
        ws = await open_session(url, KEY)
        got = Received()
        reader = asyncio.create_task(read_all(ws, got))
        burst_start = time.monotonic()
        for i in range(0, len(audio), 1024):
            await ws.send(audio[i : i + 1024])
        burst_end = time.monotonic()
        await asyncio.sleep(1.0)
        eos = time.monotonic()
        await ws.send(EOS)
        await asyncio.wait_for(reader, 20)
        return got, burst_start, burst_end, eos

    args = ["--result-latency-ms", str(latency_ms)]
    with EmbeddedServer(apikeys=[KEY], delay_ms=delay_ms, extra_args=args) as server:
        got, burst_start, burst_end, eos = asyncio.run(scenario(server.url))
        late = metric(server.http_url, "asrx_results_late_total")
        server.stop()
        log = server.stderr_text()
    messages = got.messages
    assert [m["state"] for m in messages].count("NewSentence") == 3, messages
    for at in got.times[:-2]:  # all but the last final and the confirmation
        assert burst_start + hold <= at <= burst_end + hold + TOLERANCE_S, (at - burst_end, got)
    final_at, confirmed_at = got.times[-2:]
    assert messages[-2].get("final") and got.confirmed
    assert eos + hold <= final_at <= eos + hold + TOLERANCE_S, final_at - eos
    assert confirmed_at - final_at < TOLERANCE_S
    assert late == 0
    end = [json.loads(line) for line in log.splitlines() if '"session_end"' in line]
    assert end and end[0]["results_late"] == 0, log


def test_the_default_session_log_has_no_lateness(one_sentence: bytes) -> None:
    from tests.server.streaming import run, stream

    with EmbeddedServer(apikeys=[KEY]) as server:
        got = run(stream(server.url, KEY, one_sentence))
        server.stop()
        log = server.stderr_text()
    assert got.confirmed
    end = [json.loads(line) for line in log.splitlines() if '"session_end"' in line]
    assert end and "results_late" not in end[0], end
