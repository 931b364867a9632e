"""What word latencies cost a load worker: CPU per completed session.

A Locust user computes ``word_latencies`` (and keeps a ``SessionSample``) once per completed
session, after its last frame, in the worker's one thread: the figure is both CPU taken
from streaming and, on a busy worker, a stall of every other user's next send.

Two kinds of timelines:

- real: each utterance of the real-speech corpus (``en-real``) streamed once at real time
  to the embedded pocketsphinx server, as a load run would (its messages as that server
  sends them);
- made: a server that sends a message every ``--every`` ms whose text grows by one word
  per word spoken, for a 7 s utterance of 25 words and a 60 s one of 150 words: how the
  cost grows with the number of messages.

    python benchmarks/word_latency_cost.py              # real and made
    python benchmarks/word_latency_cost.py --no-real    # made only (no server)

Figures measured on the 2-core CI machine are in docs/load.md (word latency).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

from harness.client.aio import stream
from harness.client.target import Target
from harness.corpus import REAL_SPEECH_CORPUS, Utterance, load_corpus, shipped_corpus
from harness.load.samples import SessionSample
from harness.protocol.audio import BYTES_PER_MS, split_frames
from harness.protocol.timeline import MessageRecord, Timeline
from harness.protocol.words import ReferenceWord, word_latencies
from harness.server.embedded import EmbeddedServer

FRAME_BYTES = 1024
KEY = "bench-key"


def cpu_ms(run: Callable[[], object], repeat: int) -> float:
    """Median process CPU of one call, in ms."""
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        run()
        times.append((time.process_time() - t0) * 1000.0)
    return sorted(times)[len(times) // 2]


def real_sessions() -> list[tuple[Utterance, Timeline]]:
    utterances = list(load_corpus(shipped_corpus(REAL_SPEECH_CORPUS)).utterances)
    out = []
    with EmbeddedServer(engine="pocketsphinx", apikeys=(KEY,)) as server:
        target = Target(server.url, KEY)
        for utt in utterances:
            frames = split_frames(utt.pcm(), FRAME_BYTES)
            result = asyncio.run(stream(target, frames, speed=1.0))
            out.append((utt, result.session.timeline))
    return out


def made_session(words: int, seconds: float, every_ms: float) -> tuple[Utterance, Timeline]:
    """A server that answers every ``every_ms`` with the words whose audio has ended."""
    per_word = seconds * 1000.0 / words
    ref = tuple(ReferenceWord(f"w{i}", i * per_word, (i + 1) * per_word) for i in range(words))
    tl = Timeline()
    n = int(seconds * 1000.0 * BYTES_PER_MS / FRAME_BYTES) + 1
    for k in range(n):
        tl.frames.append(k * FRAME_BYTES, FRAME_BYTES, k * 0.032, k * 0.032)
    t = 0.0
    while t < seconds * 1000.0 + 300.0:
        heard = min(words, int(max(0.0, t - 150.0) / per_word))
        text = " ".join(f"w{i}" for i in range(heard))
        tl.messages.append(MessageRecord(t / 1000 + 0.15, text, "Partial", not tl.messages))
        t += every_ms
    tl.messages.append(MessageRecord(t / 1000 + 0.2, "Confirm Close Connection", "", False, True))
    utt = Utterance(
        id=f"made-{words}w-{seconds:g}s",
        audio=Path("unread.pcm"),  # never read
        lang="en",
        text=" ".join(w.text for w in ref),
        duration_ms=seconds * 1000.0,
        segments=((0.0, seconds * 1000.0),),
        source="benchmarks/word_latency_cost.py",
        words=ref,
    )
    return utt, tl


def row(utt: Utterance, tl: Timeline, repeat: int) -> str:
    lat = cpu_ms(lambda: word_latencies(tl, utt.words, utt.lang), repeat)
    sample = cpu_ms(lambda: SessionSample.of(utt, tl), repeat)
    audio_s = utt.duration_ms / 1000.0
    return (
        f"| {utt.id} | {audio_s:.1f} | {len(utt.words)} | {len(tl.messages)} | {lat:.2f} | "
        f"{lat / audio_s:.2f} | {sample:.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-real", action="store_true", help="skip the pocketsphinx sessions")
    parser.add_argument("--repeat", type=int, default=20, help="calls per figure (median)")
    args = parser.parse_args()
    print(
        "| session | audio s | words | messages | word_latencies ms CPU | per audio-second | "
        "sample ms CPU |"
    )
    print("|---|---|---|---|---|---|---|")
    if not args.no_real:
        for utt, tl in real_sessions():
            print(row(utt, tl, args.repeat))
    for words, seconds in ((25, 7.0), (150, 60.0)):
        for every in (300.0, 100.0, 32.0):
            utt, tl = made_session(words, seconds, every)
            utt = dataclasses.replace(utt, id=f"{utt.id}, every {every:g} ms")
            print(row(utt, tl, max(3, args.repeat // 4)))


if __name__ == "__main__":
    main()
