"""Does the word latency (UPL) see a server's delay exactly, whatever its sentence segmentation?

Streams real speech at real time to three reference servers running pocketsphinx: two
answering at once (a control: the same server twice) and one ``--delay-ms D`` late, for
each sentence segmentation asked for (``--end-silence-ms``). The speech: each utterance
of the real-speech corpus (``en-real``, LibriVox; a single sentence at any end silence the
server accepts, their pauses being short), and all of them joined with ``GAP_MS`` of
silence between, which the server cuts into five sentences at 300 ms and leaves whole at
1200 ms.

The servers run in their calibration mode (``--result-latency-ms L``): each result leaves
``L`` after the audio it covers arrived, not when decoding ends, so the servers' own
timing is known and what is left to see is the harness's. The sessions' ``results_late``
say whether decoding always finished within ``L``; a late result voids the run. With
``--raw`` the servers send each result when decoded, as a real service does: then two
sessions differ by a few ms of decoding time, and the median UPL of 6 to 22 words
(one word's) with them.

Sessions go to the three servers in turns, the order rotated every round, so the
machine's load drifts over all alike. For each stream it reports the median UPL at 0, the
shift of the median UPL to the delayed server and to the control (the median over rounds,
and the round furthest off), whether the servers sent the same messages, and each word's
own shift (the median over words, over the rounds where the messages were the same); then
each round more than the tolerance off: how many words moved by more, and the harness's
own send lateness in both sessions.

Exit 1 when a stream's shift of the median UPL in any round is more than
``--tolerance-ms`` off D, the control's more than that off 0, a result was late, or a
session's log line does not say whether one was.

    python benchmarks/upl_delay.py                    # D = 200, L = 1500, end silences 300 and 1200
    python benchmarks/upl_delay.py --raw --end-silence-ms 300
    python benchmarks/upl_delay.py --delay-ms 500 --rounds 5 --end-silence-ms 1200

Figures measured on the 2-core CI machine are in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Iterable
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
#: The three servers: at once, at once again (the control), ``--delay-ms D``.
SERVERS = ("base", "control", "delayed")


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
    #: Every message's text, to tell whether the servers recognized the same thing.
    texts: list[str]
    #: The harness's own health: its latest frame against the real-time schedule.
    send_lateness_max_ms: float

    @property
    def median(self) -> float:
        return median(self.upl_ms)


@dataclass
class Outcome:
    """One stream against the three servers, over the rounds."""

    speech: Speech
    sessions: dict[str, list[Session]] = field(default_factory=lambda: {s: [] for s in SERVERS})


@dataclass
class Lateness:
    """What the calibration servers' session log lines say."""

    sessions: int = 0
    #: Sessions whose log line does not say whether a result was late (not calibrated).
    unknown: int = 0
    late: int = 0
    worst_ms: float = 0.0

    def add(self, log: str) -> None:
        for line in log.splitlines():
            if '"session_end"' not in line:
                continue
            end = json.loads(line)
            self.sessions += 1
            if "results_late" not in end:
                self.unknown += 1
                continue
            self.late += end["results_late"]
            self.worst_ms = max(self.worst_ms, end["results_late_max_ms"])


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
    return Session(upl, len(tl.sentences()), texts, max(tl.frames.lateness_ms()))


def measure(
    speeches: list[Speech], end_silence_ms: int, opts: argparse.Namespace, lateness: Lateness
) -> list[Outcome]:
    args = ["--end-silence-ms", str(end_silence_ms), "--workers", str(opts.workers)]
    if not opts.raw:
        args += ["--result-latency-ms", str(opts.result_latency_ms)]
    delays = {"base": 0, "control": 0, "delayed": opts.delay_ms}
    outcomes = [Outcome(s) for s in speeches]
    servers = {
        name: EmbeddedServer(
            engine="pocketsphinx", apikeys=[KEY], delay_ms=delays[name], extra_args=args
        )
        for name in SERVERS
    }
    try:
        for server in servers.values():
            server.start()
        for r in range(opts.rounds):
            order = SERVERS[r % 3 :] + SERVERS[: r % 3]
            for o in outcomes:
                for name in order:
                    session = asyncio.run(run_session(servers[name].url, o.speech, opts.speed))
                    o.sessions[name].append(session)
    finally:
        for server in servers.values():
            server.stop()
            lateness.add(server.stderr_text())
            server.close()
    return outcomes


def median(values: list[float | None]) -> float:
    defined = [v for v in values if v is not None]
    return statistics.median(defined) if defined else float("nan")


def word_shifts(base: Session, other: Session) -> list[float]:
    """Each word's own UPL shift, for a pair of sessions that sent the same messages."""
    if base.texts != other.texts:
        return []
    return [
        d - b
        for b, d in zip(base.upl_ms, other.upl_ms, strict=True)
        if b is not None and d is not None
    ]


@dataclass(frozen=True)
class Shift:
    """The shift of the median UPL from the base server to another, round by round."""

    #: One per round: the other session's median UPL minus the base session's.
    rounds: tuple[float, ...]
    same_texts: int
    per_word: float

    @staticmethod
    def of(base: list[Session], other: list[Session]) -> Shift:
        pairs = list(zip(base, other, strict=True))
        return Shift(
            tuple(o.median - b.median for b, o in pairs),
            sum(b.texts == o.texts for b, o in pairs),
            median([v for b, o in pairs for v in word_shifts(b, o)]),
        )

    @property
    def median(self) -> float:
        return median(list(self.rounds))

    @property
    def worst(self) -> float:
        """The round's shift furthest from the median over the rounds."""
        mid = self.median
        return max(self.rounds, key=lambda s: abs(s - mid))

    def within(self, target: float, tolerance: float) -> bool:
        """Every round's shift, not only their median: one pair of sessions off is a miss.
        NaN (no UPL at all) is not within anything."""
        return all(abs(s - target) <= tolerance for s in self.rounds)


def strays(o: Outcome, server: str, target: float, tolerance: float) -> list[str]:
    """One line per round whose shift of the median UPL missed: how many words moved by
    more than the tolerance, and whether the harness itself fell behind its pacing then."""
    lines = []
    for r, (b, x) in enumerate(zip(o.sessions["base"], o.sessions[server], strict=True)):
        shift = x.median - b.median
        if abs(shift - target) <= tolerance:
            continue
        off = [v - target for v in word_shifts(b, x) if abs(v - target) > tolerance]
        words = (
            f"{len(off)} of {len(word_shifts(b, x))} words off by more than {tolerance:g} ms"
            + (f" (furthest {max(off, key=abs):+.1f} ms)" if off else "")
            if b.texts == x.texts
            else "different messages"
        )
        lines.append(
            f"  {o.speech.name} round {r + 1}, {server}: {shift - target:+.1f} ms off; {words}; "
            f"send lateness max {b.send_lateness_max_ms:.1f} / {x.send_lateness_max_ms:.1f} ms"
        )
    return lines


def report(end_silence_ms: int, opts: argparse.Namespace, outcomes: list[Outcome]) -> bool:
    d, tol = opts.delay_ms, opts.tolerance_ms
    print(f"\n--end-silence-ms {end_silence_ms}: shift of the median UPL, 0 -> {d} ms and 0 -> 0")
    print(
        f"  {'speech':<14} {'sentences':>9} {'UPLs':>4} {'median 0':>9} "
        f"{'to D':>8} {'worst':>8} {'same':>5} {'per word':>9}   "
        f"{'to 0':>7} {'worst':>7} {'same':>5} {'per word':>8}"
    )
    ok = True
    rounds = opts.rounds
    for o in outcomes:
        base = o.sessions["base"]
        late = Shift.of(base, o.sessions["delayed"])
        twin = Shift.of(base, o.sessions["control"])
        ok = ok and late.within(d, tol) and twin.within(0, tol)
        sentences = "/".join(_counts(x.sentences for x in o.sessions[s]) for s in SERVERS)
        # Rounds need not recognize the same words (pocketsphinx does not always).
        count = _counts(sum(v is not None for v in b.upl_ms) for b in base)
        print(
            f"  {o.speech.name:<14} {sentences:>9} {count:>4} "
            f"{median([b.median for b in base]):>6.1f} ms "
            f"{late.median:>5.1f} ms {late.worst:>5.1f} ms {late.same_texts:>2}/{rounds} "
            f"{late.per_word:>6.1f} ms   "
            f"{twin.median:>+4.1f} ms {twin.worst:>+4.1f} ms {twin.same_texts:>2}/{rounds} "
            f"{twin.per_word:>+5.1f} ms"
        )
    missed = [
        line
        for o in outcomes
        for server, target in (("delayed", d), ("control", 0))
        for line in strays(o, server, target, tol)
    ]
    if missed:
        print(f"rounds more than {tol:g} ms off:", *missed, sep="\n")
    return ok


def _counts(values: Iterable[int]) -> str:
    """One count, or the range of counts when the rounds differed."""
    seen = sorted(set(values))
    return str(seen[0]) if len(seen) == 1 else f"{seen[0]}-{seen[-1]}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--delay-ms", type=int, default=200)
    ap.add_argument(
        "--result-latency-ms",
        type=int,
        default=1500,
        help="the servers' calibrated latency, above their slowest decoding (default 1500)",
    )
    ap.add_argument(
        "--raw", action="store_true", help="servers send each result when decoded (noisier)"
    )
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
    mode = "raw" if args.raw else f"--result-latency-ms {args.result_latency_ms}"
    print(f"servers: pocketsphinx, {mode}; {args.rounds} rounds")
    ok = True
    lateness = Lateness()
    silences = [int(s) for s in args.end_silence_ms.split(",")]
    started = time.monotonic()
    for silence in silences:
        outcomes = measure(speeches, silence, args, lateness)
        ok = report(silence, args, outcomes) and ok
    if not args.raw:
        # A session whose log line is missing or silent about lateness proves nothing.
        expected = len(silences) * len(SERVERS) * args.rounds * len(speeches)
        known = lateness.sessions - lateness.unknown
        print(
            f"\nlate results: {lateness.late} in {known} of {expected} sessions "
            f"(worst {lateness.worst_ms:.1f} ms past {args.result_latency_ms} ms)"
        )
        ok = ok and lateness.late == 0 and known == expected
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    verdict = "PASS" if ok else "FAIL"
    print(
        f"{verdict}: every shift of the median UPL within {args.tolerance_ms:g} ms of "
        f"{args.delay_ms} ms, the control's of 0"
        + ("" if args.raw else ", every session's lateness known and no result late")
        + f" (machine load average {load}, {os.cpu_count()} cores; "
        f"{(time.monotonic() - started) / 60:.1f} min)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
