"""Where ``asrx stream`` gets the reference words and their times in the audio.

- ``--corpus DIR``: the utterance's manifest words (exact for synthesized corpora, aligned
  at import for real speech);
- ``--timings FILE``: an aligner's TextGrid or CTM of the audio, any language, its words
  placed on ``--ref``'s text (``harness.corpus.timings``), or taken as they are without it;
- ``--align``: ``--ref``'s text aligned to the audio with pocketsphinx before streaming,
  English only (``harness.corpus.align``), with the same quality check as an import.

Words that could not be placed are kept without times (never given invented ones) and
named on stderr before the session starts.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

from harness.audio.convert import iter_pcm16k
from harness.client.display import WordReport
from harness.corpus import Utterance
from harness.corpus.align import Aligner, can_align
from harness.corpus.importer import MAX_ALIGN_MS
from harness.corpus.timings import NON_WORDS, Placement, place_words, read_timings
from harness.errors import UsageError
from harness.protocol.audio import BYTES_PER_MS
from harness.protocol.result import StreamResult
from harness.protocol.words import ReferenceWord, WordLatencies, word_latencies

HOW_TO_TIME = "--corpus DIR, or --ref TEXT with --timings FILE (TextGrid/CTM) or --align"


@dataclass(frozen=True)
class StreamWords:
    """The reference words of one stream, their language, and where their times came from."""

    words: tuple[ReferenceWord, ...] = ()
    lang: str = "en"
    #: Where the times come from, for the summary; None when no word has times.
    timings_from: str | None = None
    #: Why no word latency can be shown whatever the session does; None when it can.
    missing: str | None = None
    unplaced: list[str] = field(default_factory=list)


def check_options(args: argparse.Namespace) -> None:
    """Refuse combinations that cannot give word times, before anything is read."""
    if not (args.timings or args.align):
        return
    which = "--timings" if args.timings else "--align"
    if args.mic or args.corpus:
        raise UsageError(
            f"{which} times the words of a FILE; "
            + ("a --corpus manifest gives its own" if args.corpus else "not of --mic")
        )
    if args.align and not args.ref:
        raise UsageError("--align needs --ref TEXT: the words to align to the audio")
    if args.align and not can_align(args.lang):
        raise UsageError(
            f"--align aligns English only (pocketsphinx's shipped model), not {args.lang!r}: "
            "give --timings FILE of another aligner instead"
        )


def stream_words(args: argparse.Namespace, utt: Utterance | None) -> StreamWords:
    """The words ``asrx stream``'s options give, with times when they give them."""
    if utt is not None:
        origin = f"the manifest of {args.corpus}"
        if not utt.words:
            why = f"{origin} has no words for {utt.id} (re-import it with --align)"
            return StreamWords((), utt.lang, None, why)
        return StreamWords(utt.words, utt.lang, *_timed(utt.words, origin))
    if args.timings:
        tokens = read_timings(Path(args.timings), Path(args.file).stem)
        text = args.ref or " ".join(t.text for t in tokens if t.text.casefold() not in NON_WORDS)
        return _placed(place_words(text, args.lang, tokens), args.lang, Path(args.timings).name)
    if args.align:
        placement = Aligner().align(_pcm_to_align(args), args.ref)
        return _placed(placement, args.lang, "pocketsphinx alignment of --ref")
    if args.ref:
        words = tuple(ReferenceWord(w) for w in args.ref.split())
        return StreamWords(words, args.lang, None, f"no word timings: give {HOW_TO_TIME}")
    return StreamWords((), args.lang, None, f"no reference words: give {HOW_TO_TIME}")


def _timed(words: tuple[ReferenceWord, ...], origin: str) -> tuple[str | None, str | None]:
    if any(w.end_ms is not None for w in words):
        return origin, None
    return None, f"none of the {len(words)} words has times in {origin}"


def _placed(placement: Placement, lang: str, origin: str) -> StreamWords:
    words = placement.words
    if placement.unplaced:
        shown = " ".join(placement.unplaced[:8]) + (" ..." if len(placement.unplaced) > 8 else "")
        print(
            f"asrx stream: {len(placement.unplaced)} of {len(words)} words could not be placed "
            f"({origin}), kept without times: {shown}",
            file=sys.stderr,
        )
    return StreamWords(words, lang, *_timed(words, origin), unplaced=list(placement.unplaced))


def _pcm_to_align(args: argparse.Namespace) -> bytes:
    """FILE as 16 kHz PCM, refused past what ``--align`` holds in memory."""
    limit = int(MAX_ALIGN_MS * BYTES_PER_MS)
    pcm = bytearray()
    for block in iter_pcm16k(args.file, raw_rate=args.raw_rate):
        pcm += block
        if len(pcm) > limit:
            raise UsageError(
                f"{args.file}: longer than {MAX_ALIGN_MS / 60000:g} minutes, too long to "
                "--align; give --timings FILE instead"
            )
    if not pcm:
        raise UsageError(f"{args.file}: contains no audio samples")
    return bytes(pcm)


def word_report(result: StreamResult, words: StreamWords) -> WordReport:
    """The word latencies; shown only with timings, and only for a completed session
    (docs/protocol.md §5), like every latency the harness counts."""
    tl = result.session.timeline
    latencies = word_latencies(tl, words.words, words.lang) if words.words else WordLatencies()
    why = words.missing
    if why is None and not result.completed:
        why = f"the session did not complete ({result.end.value}): its latencies do not count"
    return WordReport(words.words, latencies, words.timings_from, why)
