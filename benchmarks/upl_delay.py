"""Does the word latency (UPL) see a server's delay exactly, whatever its sentence segmentation?

Streams real speech at real time to two reference servers running pocketsphinx, one
answering ``--delay-ms D`` late and one at once, for each sentence segmentation asked for
(``--end-silence-ms``). The speech: each utterance of the real-speech corpus (``en-real``,
LibriVox; a single sentence at any end silence the server accepts, their pauses being
short), and all of them joined with ``GAP_MS`` of silence between, which the server cuts
into five sentences at 300 ms and leaves whole at 1200 ms.

Sessions go to one server then the other, in turns, the order swapped every round, so the
machine's load drifts over both alike. For each stream it reports the median UPL at 0 and
at D and the shift between them (the median over rounds), and whether both servers sent
the same messages: a decoder that falls behind batches more audio per call and
hypothesizes differently, which moves the UPL by more than the delay. Over the rounds
where both sent the same messages, "per word" is the median of each word's own shift.

That is the figure checked (exit 1 when it is more than ``--tolerance-ms`` off D, or when
no round of a stream had the same messages): the median UPL is one word's, and of the 6
to 20 words of an utterance, which one is the median changes with a few ms of decoding
time between two sessions, moving the shift of the medians by 10-20 ms with the metric
exact. Each word's own shift has no such jump.

    python benchmarks/upl_delay.py                    # D = 200, end silences 300 and 1200
    python benchmarks/upl_delay.py --delay-ms 500 --rounds 5 --end-silence-ms 300

Figures measured on the 2-core CI machine are in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
from dataclasses import dataclass, field

from harness.audio.convert import reframe
from harness.client.aio import stream
from harness.client.target import Target
from harness.corpus import REAL_SPEECH_CORPUS, Utterance, load_corpus, shipped_corpus
from harness.protocol.audio import BYTES_PER_MS
from harness.protocol.words import ReferenceWord, word_latencies
from harness.server.embedded import EmbeddedServer

KEY = "bench-key"
FRAME_BYTES = 1024
#: Silence between the utterances of the joined stream: a sentence end at 300 ms, not at 1200.
GAP_MS = 800


@dataclass(frozen=True)
class Speech:
    name: str
    pcm: bytes
    words: tuple[ReferenceWord, ...]


@dataclass
class Session:
    #: Per reference word, None where it has none.
    upl_ms: list[float | None]
    sentences: int
    #: Every message's text, to tell whether both servers recognized the same thing.
    texts: list[str]


@dataclass
class Outcome:
    """One stream against both servers, over the rounds."""

    speech: Speech
    base: list[Session] = field(default_factory=list)
    delayed: list[Session] = field(default_factory=list)


def speech_of(utterances: list[Utterance]) -> list[Speech]:
    """Each utterance, then all of them joined with ``GAP_MS`` of silence between."""
    out = [Speech(u.id, u.pcm(), u.words) for u in utterances]
    pcm = bytearray()
    words: list[ReferenceWord] = []
    for u in utterances:
        if pcm:
            pcm += bytes(GAP_MS * BYTES_PER_MS)
        at = len(pcm) / BYTES_PER_MS
        words += [
            ReferenceWord(w.text, _plus(w.start_ms, at), _plus(w.end_ms, at)) for w in u.words
        ]
        pcm += u.pcm()
    return [*out, Speech(f"all {len(utterances)} joined", bytes(pcm), tuple(words))]


def _plus(ms: float | None, offset: float) -> float | None:
    return None if ms is None else ms + offset


async def run_session(url: str, speech: Speech, speed: float) -> Session:
    frames = reframe([speech.pcm], FRAME_BYTES)
    result = await stream(Target(url, KEY), frames, speed=speed)
    if not result.completed:
        raise SystemExit(f"{speech.name}: session did not complete ({result.end.value})")
    tl = result.session.timeline
    upl = [w.upl_ms for w in word_latencies(tl, speech.words, "en").words]
    texts = [m.text for m in tl.messages if not m.confirmation]
    return Session(upl, len(tl.sentences()), texts)


def measure(
    speeches: list[Speech],
    end_silence_ms: int,
    delay_ms: int,
    rounds: int,
    opts: argparse.Namespace,
) -> list[Outcome]:
    args = ["--end-silence-ms", str(end_silence_ms), "--workers", str(opts.workers)]
    outcomes = [Outcome(s) for s in speeches]
    with (
        EmbeddedServer(engine="pocketsphinx", apikeys=[KEY], extra_args=args) as plain,
        EmbeddedServer(
            engine="pocketsphinx", apikeys=[KEY], delay_ms=delay_ms, extra_args=args
        ) as late,
    ):
        for r in range(rounds):
            for o in outcomes:
                first, second = (plain, late) if r % 2 == 0 else (late, plain)
                one = asyncio.run(run_session(first.url, o.speech, opts.speed))
                two = asyncio.run(run_session(second.url, o.speech, opts.speed))
                o.base.append(one if first is plain else two)
                o.delayed.append(two if first is plain else one)
    return outcomes


def median(values: list[float | None]) -> float:
    defined = [v for v in values if v is not None]
    return statistics.median(defined) if defined else float("nan")


def word_shifts(base: Session, delayed: Session) -> list[float]:
    """Each word's own UPL shift, for a pair of sessions that sent the same messages."""
    if base.texts != delayed.texts:
        return []
    return [
        d - b
        for b, d in zip(base.upl_ms, delayed.upl_ms, strict=True)
        if b is not None and d is not None
    ]


def report(end_silence_ms: int, delay_ms: int, outcomes: list[Outcome], tol: float) -> bool:
    print(f"\n--end-silence-ms {end_silence_ms}, --delay-ms 0 vs {delay_ms}")
    print(
        f"  {'speech':<14} {'sentences':>9} {'UPLs':>4} {'median 0':>9} {'median D':>9} "
        f"{'shift':>9}   {'same text':>9} {'per word':>9} {'off by':>8}"
    )
    ok = True
    for o in outcomes:
        pairs = list(zip(o.base, o.delayed, strict=True))
        shift = median([median(d.upl_ms) - median(b.upl_ms) for b, d in pairs])
        same = [b for b, d in pairs if b.texts == d.texts]
        per_word = median([v for b, d in pairs for v in word_shifts(b, d)])
        ok = ok and abs(per_word - delay_ms) <= tol  # NaN (no round alike) fails too
        sentences = f"{o.base[0].sentences}/{o.delayed[0].sentences}"
        count = sum(v is not None for v in o.base[0].upl_ms)
        m0 = median([median(b.upl_ms) for b in o.base])
        m1 = median([median(d.upl_ms) for d in o.delayed])
        print(
            f"  {o.speech.name:<14} {sentences:>9} {count:>4} {m0:>6.1f} ms {m1:>6.1f} ms "
            f"{shift:>6.1f} ms {len(same):>7}/{len(pairs)} {per_word:>6.1f} ms "
            f"{per_word - delay_ms:>+5.1f} ms"
        )
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--delay-ms", type=int, default=200)
    ap.add_argument(
        "--end-silence-ms",
        default="300,1200",
        help="comma-separated sentence segmentations to try (default 300,1200)",
    )
    ap.add_argument("--rounds", type=int, default=3, help="sessions per stream and server")
    ap.add_argument("--tolerance-ms", type=float, default=2.0)
    ap.add_argument("--workers", type=int, default=1, help="decoder processes per server")
    ap.add_argument("--speed", type=float, default=1.0, help="pacing, 1.0 = real time")
    args = ap.parse_args()
    utterances = list(load_corpus(shipped_corpus(REAL_SPEECH_CORPUS)))
    speeches = speech_of(utterances)
    ok = True
    for silence in (int(s) for s in args.end_silence_ms.split(",")):
        outcomes = measure(speeches, silence, args.delay_ms, args.rounds, args)
        ok = report(silence, args.delay_ms, outcomes, args.tolerance_ms) and ok
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    verdict = "PASS" if ok else "FAIL"
    print(
        f"\n{verdict}: every per-word UPL shift within {args.tolerance_ms:g} ms of "
        f"{args.delay_ms} ms (machine load average {load}, {os.cpu_count()} cores)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
