"""The word latency sees a server's delay exactly: ``asrx stream`` of a real-speech utterance
against the reference server (pocketsphinx) answering at once and ``DELAY_MS`` late.

The two sessions are compared only when both servers sent the same messages: a decoder
that falls behind on a loaded machine batches more audio per call and hypothesizes
differently, which moves the latencies by more than the delay (an attempt like that is
inconclusive, and repeated). Without the delay in the UPL the shift would be about 0,
counted twice about 800 ms: a shift within a few tens of ms of 400 ms is no accident.
``benchmarks/upl_delay.py`` measures the same over the whole corpus and two segmentations.
"""

from __future__ import annotations

import json
import statistics
from typing import Any

import pytest

from harness.corpus import REAL_SPEECH_CORPUS, shipped_corpus
from harness.server.embedded import EmbeddedServer
from tests.conftest import APIKEY, run_asrx

DELAY_MS = 400
#: The p50 is one word's UPL, and which word is the median can differ by a few ms of
#: decoding time between two sessions; every word's own shift is far steadier.
P50_TOLERANCE_MS, WORD_TOLERANCE_MS = 25.0, 5.0
ATTEMPTS = 3
UTTERANCE = "austen-0870"  # 22 words, 7.1 s


def stream(url: str) -> tuple[list[str], dict[str, Any]]:
    """The messages' texts and the summary of one session, paced at half real time so
    that the decoder keeps up even on a busy machine."""
    corpus = str(shipped_corpus(REAL_SPEECH_CORPUS))
    args = ["stream", UTTERANCE, "--corpus", corpus, "--url", url, "--speed", "0.5", "--json"]
    r = run_asrx(*args, env={"ASRX_APIKEY": APIKEY}, timeout=120)
    assert r.returncode == 0, r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines()]
    return [e["text"] for e in events if e["event"] == "transcript"], events[-1]


@pytest.mark.slow
def test_median_upl_moves_by_the_servers_delay() -> None:
    with (
        EmbeddedServer(
            engine="pocketsphinx", apikeys=[APIKEY], extra_args=["--workers", "1"]
        ) as plain,
        EmbeddedServer(
            engine="pocketsphinx",
            apikeys=[APIKEY],
            delay_ms=DELAY_MS,
            extra_args=["--workers", "1"],
        ) as late,
    ):
        for _ in range(ATTEMPTS):
            said, base = stream(plain.url)
            said_late, delayed = stream(late.url)
            if said == said_late:
                break
        else:
            pytest.fail(f"the decoder recognized differently in all {ATTEMPTS} attempts")
    assert base["upl_ms"]["count"] >= 10, base["words"]
    shift = delayed["upl_ms"]["p50"] - base["upl_ms"]["p50"]
    assert abs(shift - DELAY_MS) <= P50_TOLERANCE_MS, (shift, base["upl_ms"], delayed["upl_ms"])
    pairs = zip(base["words"]["list"], delayed["words"]["list"], strict=True)
    shifts = [d["upl_ms"] - b["upl_ms"] for b, d in pairs if b["upl_ms"] is not None]
    assert len(shifts) == base["upl_ms"]["count"]  # the same words were shown in both
    assert abs(statistics.median(shifts) - DELAY_MS) <= WORD_TOLERANCE_MS, shifts
