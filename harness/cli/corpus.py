"""``asrx corpus import|synth|check``: make and verify PCM corpora (see ``harness.corpus``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.corpus import Corpus
from harness.corpus.check import inspect_corpus
from harness.corpus.importer import ImportOptions, import_corpus
from harness.corpus.lines import show
from harness.corpus.manifest import check_lang
from harness.corpus.synth import VOICES, synth_corpus
from harness.errors import HarnessError
from harness.exitcodes import INTERNAL_ERROR, OK, TARGET_FAILED


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "corpus",
        help="make and check PCM corpora",
        description="Make and check corpora: folders of 16 kHz mono s16le .pcm files and a "
        "manifest.jsonl of reference text and speech segments.",
    )
    sub = parser.add_subparsers(dest="corpus_command", metavar="ACTION")
    sub.required = True

    imp = sub.add_parser(
        "import",
        help="convert audio files into a new corpus",
        description="Convert audio files (anything libsndfile reads, or raw s16le PCM) into a "
        "new corpus: downmixed, resampled to 16 kHz, speech segments found by the VAD. "
        "Reference text comes from --text-csv or a .txt (or .lab) next to each file; without "
        "it the utterance is latency-only. Word timings come from a .TextGrid or .ctm of the "
        "same name (beside the file or in --timings DIR), else from --align.",
    )
    imp.add_argument("sources", nargs="+", metavar="SRC", type=Path, help="audio files or folders")
    imp.add_argument("--out", required=True, type=Path, help="corpus folder to create")
    imp.add_argument("--lang", required=True, help="language tag of the speech, e.g. en, th")
    imp.add_argument(
        "--raw-rate", type=_positive_int, metavar="HZ", help="read sources as raw s16le PCM at HZ"
    )
    imp.add_argument(
        "--raw-channels", type=_positive_int, default=1, metavar="N", help="channels of raw PCM"
    )
    imp.add_argument(
        "--text-csv", type=Path, metavar="FILE", help="CSV or TSV of file,text reference rows"
    )
    imp.add_argument(
        "--source", help="provenance and licence to record, e.g. 'LibriSpeech, CC BY 4.0'"
    )
    imp.add_argument(
        "--align",
        action="store_true",
        help="English: align the reference text with pocketsphinx for word timings "
        "(words it cannot align are reported and kept without times)",
    )
    imp.add_argument(
        "--timings",
        type=Path,
        metavar="DIR",
        help="folder of TextGrid (e.g. Montreal Forced Aligner) or CTM files named like the "
        "audio files (default: beside them)",
    )
    imp.add_argument("--force", action="store_true", help="replace --out if it exists")
    imp.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    imp.set_defaults(run=run_import)

    syn = sub.add_parser(
        "synth",
        help="synthesize a corpus with espeak-ng",
        description="Synthesize a corpus with espeak-ng from a text list (one utterance a "
        "line, sentences separated by ' | '), with known pauses so the segments are exact.",
    )
    syn.add_argument("--lang", required=True, choices=sorted(VOICES))
    syn.add_argument("--out", required=True, type=Path, help="corpus folder to create")
    syn.add_argument("--texts", type=Path, metavar="FILE", help="text list (default: built in)")
    syn.add_argument("--force", action="store_true", help="replace --out if it exists")
    syn.set_defaults(run=run_synth)

    chk = sub.add_parser(
        "check",
        help="verify a corpus folder",
        description="Verify a corpus: manifest lines, audio files, durations, segments, text, "
        "word timings. Prints one line per problem and per note; exit 0 with no problem, 1 "
        "with problems, 2 when DIR is not a corpus folder.",
    )
    chk.add_argument("corpus", type=Path, metavar="DIR")
    chk.add_argument(
        "--vad", action="store_true", help="also compare the segments with the VAD's (slower)"
    )
    chk.set_defaults(run=run_check)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _warn(message: str) -> None:
    print(f"asrx corpus: warning: {message}", file=sys.stderr)


def _summary(verb: str, corpus: Corpus) -> str:
    seconds = sum(u.duration_ms for u in corpus) / 1000
    segments = sum(len(u.segments) for u in corpus)
    return (
        f"{verb} {len(corpus)} utterances ({seconds:.1f} s of audio, {segments} speech "
        f"segments) into {corpus.root}"
    )


def run_import(args: argparse.Namespace) -> int:
    opts = ImportOptions(
        lang=check_lang(args.lang),
        raw_rate=args.raw_rate,
        raw_channels=args.raw_channels,
        text_table=args.text_csv,
        source=args.source,
        force=args.force,
        progress=False if args.no_progress else None,
        align=args.align,
        timings_dir=args.timings,
    )
    corpus = import_corpus(args.sources, args.out, opts, _warn)
    print(_summary("imported", corpus))
    return 0


def run_synth(args: argparse.Namespace) -> int:
    corpus = synth_corpus(args.lang, args.out, texts=args.texts, force=args.force)
    print(_summary("synthesized", corpus))
    return 0


def run_check(args: argparse.Namespace) -> int:
    try:
        report = inspect_corpus(args.corpus, vad=args.vad)
    except HarnessError:
        raise
    except Exception as exc:  # a bug: say so in one line, with a code of its own
        print(
            f"asrx corpus check: internal error ({type(exc).__name__}: {show(str(exc))}); "
            "this is a bug in asrx-harness, please report it",
            file=sys.stderr,
        )
        return INTERNAL_ERROR
    for problem in report.problems:
        print(problem)
    for note in report.notes:
        print(f"{note} (note)")
    if report.problems:
        print(
            f"asrx corpus check: {len(report.problems)} problem(s) in {args.corpus}",
            file=sys.stderr,
        )
        return TARGET_FAILED
    extras = [f"{report.utterances} utterances"]
    if report.with_words:
        extras.append(f"{report.with_words} with word timings")
    if report.latency_only:
        extras.append(f"{report.latency_only} latency-only")
    print(f"{args.corpus}: ok ({', '.join(extras)})")
    return OK
