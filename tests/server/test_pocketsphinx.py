"""Real recognition with pocketsphinx in worker processes (slow: loads acoustic models)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from harness.server.embedded import EmbeddedServer
from tests.server.conftest import KEY, SENTENCE_1, SENTENCE_2
from tests.server.streaming import http_get, metric, run, stream

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sphinx_server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer(engine="pocketsphinx", apikeys=[KEY], ready_timeout=90) as server:
        yield server


def overlap(reference: str, hypothesis: str) -> float:
    """Share of reference words found in the hypothesis (a WER-ish, order-free check)."""
    ref = reference.lower().split()
    hyp = set(hypothesis.lower().split())
    return sum(w in hyp for w in ref) / len(ref)


def test_recognizes_two_spoken_sentences(
    sphinx_server: EmbeddedServer, two_sentence_pcm: bytes
) -> None:
    got = run(stream(sphinx_server.url, KEY, two_sentence_pcm, timeout=60))
    sentences = got.sentences()
    assert len(sentences) == 2, got.frames
    assert [m["state"] for m in got.transcripts].count("NewSentence") == 2
    # espeak-ng voices through pocketsphinx's en-us model are rough (typically "got to learn
    # as we want" / "please golly tomorrow"): ask for some of the words, not all.
    assert overlap(SENTENCE_1 + " " + SENTENCE_2, " ".join(sentences)) >= 0.25, sentences
    assert got.confirmed and got.close_code == 1000


def test_partials_arrive_while_speech_streams(
    sphinx_server: EmbeddedServer, one_sentence: bytes
) -> None:
    """Real-time pacing: partial hypotheses come at a steady cadence before the audio ends,
    and the event loop keeps answering HTTP while the decoders work."""

    async def scenario() -> tuple[object, list[float]]:
        health: list[float] = []

        async def poll_health() -> None:
            while True:
                t0 = time.monotonic()
                status, _, _ = await asyncio.to_thread(
                    http_get, sphinx_server.http_url + "/healthz"
                )
                assert status == 200
                health.append(time.monotonic() - t0)
                await asyncio.sleep(0.2)

        poller = asyncio.create_task(poll_health())
        got = await stream(sphinx_server.url, KEY, one_sentence, realtime=True, timeout=60)
        poller.cancel()
        await asyncio.gather(poller, return_exceptions=True)
        return got, health

    got, health = run(scenario())
    audio_s = len(one_sentence) / 32000
    partials = [
        t - got.started
        for t, m in zip(got.times, got.messages, strict=False)
        if not m.get("final") and m.get("text")
    ]
    assert len(partials) >= 2, got.frames
    assert partials[0] < audio_s, "first partial only after the audio ended"
    assert max(health) < 0.5, health
    assert metric(sphinx_server.http_url, "asrx_decode_real_time_factor") > 0
