"""``asrx stream FILE`` / ``asrx stream --mic``: the public example clients, done properly."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

from harness.cli.stream_words import StreamWords, check_options, stream_words, word_report
from harness.client.aio import clock, stream
from harness.client.display import JsonLines, LiveTranscript, summary_dict, summary_text
from harness.client.sources import SegmentWatcher, file_frames, import_sounddevice, mic_frames
from harness.client.target import Target
from harness.corpus import Utterance, load_corpus, score
from harness.errors import HarnessError, UsageError
from harness.exitcodes import INTERRUPTED
from harness.limits import DEFAULT_MAX_MESSAGE_BYTES, Limits
from harness.plots.partials import partials_svg
from harness.protocol.audio import DEFAULT_FRAME_BYTES
from harness.protocol.dialect import DEFAULT_DIALECT, load_profile
from harness.protocol.events import Event, Finding
from harness.protocol.metrics import Segment, session_metrics
from harness.protocol.result import StreamResult
from harness.redaction import redact
from harness.timeouts import DEFAULT_TIMEOUTS


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "stream",
        help="stream a file or the microphone to an asrx server and show the transcript",
        description="Stream audio to an asrx server at real-time pace, show the live "
        "transcript, then the latencies (docs/protocol.md §5).",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "file",
        nargs="?",
        help="audio file: raw PCM (16 kHz mono s16le, .pcm/.raw) "
        "or anything soundfile reads (WAV, FLAC, OGG, ...), converted on the fly",
    )
    src.add_argument(
        "--mic", action="store_true", help="stream the microphone (needs the mic extra)"
    )
    p.add_argument(
        "--url",
        default=os.environ.get("ASRX_URL"),
        help="ws:// or wss:// URL of the server (env ASRX_URL)",
    )
    p.add_argument("--apikey", default=None, help="API key (env ASRX_APIKEY; never printed)")
    p.add_argument("--ca-file", help="PEM file of CA certificates to trust for wss://")
    p.add_argument("--profile", help="TOML dialect profile (docs/protocol.md#dialect-profiles)")
    p.add_argument(
        "--frame-bytes",
        type=int,
        default=DEFAULT_FRAME_BYTES,
        help="bytes per audio frame (default 1024 = 32 ms)",
    )
    p.add_argument(
        "--speed", type=float, default=1.0, help="pacing as a multiple of real time (default 1.0)"
    )
    p.add_argument("--raw-rate", type=int, help="sample rate of a raw PCM file (default 16000)")
    p.add_argument("--device", help="microphone device name or index (sounddevice)")
    p.add_argument(
        "--timeout-scale",
        type=float,
        default=1.0,
        help="multiply every wait (open 10 s, confirm 10 s, close 5 s)",
    )
    p.add_argument(
        "--max-message-bytes",
        type=int,
        default=DEFAULT_MAX_MESSAGE_BYTES,
        metavar="N",
        help="largest server message accepted (default 1 MiB); a larger one is a finding "
        "(3.size) and ends the session",
    )
    p.add_argument("--json", action="store_true", help="print one JSON event per line")
    ref = p.add_mutually_exclusive_group()
    ref.add_argument("--ref", metavar="TEXT", help="reference transcript: print WER (or CER)")
    ref.add_argument(
        "--corpus",
        metavar="DIR",
        help="corpus folder: FILE is one of its utterance ids or audio files; its manifest "
        "gives the reference text, speech segments and word times",
    )
    p.add_argument(
        "--lang",
        default="en",
        help="language of --ref (default en; th, zh, ja, ... are scored by CER)",
    )
    timing = p.add_mutually_exclusive_group()
    timing.add_argument(
        "--timings",
        metavar="FILE",
        help="word times of FILE for the word latencies (UPL): an aligner's TextGrid "
        "(Montreal Forced Aligner) or CTM, any language; its words go on --ref's text",
    )
    timing.add_argument(
        "--align",
        action="store_true",
        help="align --ref's text to FILE with pocketsphinx (English) for the word latencies",
    )
    p.add_argument(
        "--plot",
        metavar="SVG",
        help="write a partials-over-time picture of the session (self-contained SVG)",
    )
    p.set_defaults(run=run)


def _target(args: argparse.Namespace) -> Target:
    if not args.url:
        raise UsageError("no server URL: give --url or set ASRX_URL")
    if args.frame_bytes <= 0 or args.frame_bytes % 2:
        raise UsageError(f"--frame-bytes must be a positive even number, got {args.frame_bytes}")
    if not args.speed > 0:
        raise UsageError(f"--speed must be > 0, got {args.speed}")
    if not args.timeout_scale > 0:
        raise UsageError(f"--timeout-scale must be > 0, got {args.timeout_scale}")
    if args.max_message_bytes <= 0:
        raise UsageError(f"--max-message-bytes must be > 0, got {args.max_message_bytes}")
    check_options(args)
    if args.plot and not Path(args.plot).resolve().parent.is_dir():
        raise UsageError(f"--plot {args.plot}: no such folder to write it in")
    if args.plot and Path(args.plot).is_dir():
        raise UsageError(f"--plot {args.plot}: is a folder, not a file name")
    apikey = args.apikey if args.apikey is not None else os.environ.get("ASRX_APIKEY")
    dialect = load_profile(args.profile) if args.profile else DEFAULT_DIALECT
    return Target(
        args.url,
        apikey,
        dialect,
        args.ca_file,
        DEFAULT_TIMEOUTS.scaled(args.timeout_scale),
        Limits(max_message_bytes=args.max_message_bytes),
    )


def run(args: argparse.Namespace) -> int:
    target = _target(args)
    try:
        return asyncio.run(_run(args, target))
    except HarnessError as exc:
        raise _redacted(exc, target) from None


def _redacted(exc: HarnessError, target: Target) -> HarnessError:
    if target.apikey and target.apikey in str(exc):
        err = HarnessError(redact(str(exc), target.apikey))
        err.exit_code = exc.exit_code
        return err
    return exc


def _utterance(args: argparse.Namespace) -> Utterance | None:
    """The corpus utterance FILE names, when ``--corpus`` is given."""
    if not args.corpus:
        return None
    if args.mic:
        raise UsageError("--corpus needs a FILE (an utterance id or audio file of the corpus)")
    corpus = load_corpus(args.corpus)
    wanted = Path(args.file).resolve()
    for utt in corpus.utterances:
        if args.file == utt.id or utt.audio == wanted:
            args.file = str(utt.audio)
            return utt
    raise UsageError(f"{args.file} is neither an utterance id nor an audio file of {args.corpus}")


async def _run(args: argparse.Namespace, target: Target) -> int:
    out = sys.stdout
    watcher = SegmentWatcher()
    utt = _utterance(args)
    words = stream_words(args, utt)
    if args.mic:
        import_sounddevice()  # fail before connecting when the mic extra is missing
        frames: Any = (
            watcher.watch(f) async for f in mic_frames(args.frame_bytes, _device(args.device))
        )
        speed = None
    else:
        frames = (watcher.watch(f) for f in file_frames(args.file, args.frame_bytes, args.raw_rate))
        speed = args.speed

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    interrupts = 0

    def on_sigint() -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts == 1:
            print(
                "\nasrx stream: stopping: sending end-of-stream (Ctrl-C again to abort)",
                file=sys.stderr,
            )
            stop.set()
        else:
            for task in asyncio.all_tasks(loop):
                task.cancel()

    loop.add_signal_handler(signal.SIGINT, on_sigint)
    t0 = clock()
    jsonl = JsonLines(out, t0) if args.json else None
    live = None if args.json else LiveTranscript(out, out.isatty())

    def on_event(ev: Event, at: float) -> None:
        if isinstance(ev, Finding) and not args.json:
            print(f"\nfinding: {ev}", file=sys.stderr)  # a Finding's text is escaped
        if jsonl:
            jsonl.on_event(ev, at)
        elif live:
            live.on_event(ev, at)

    try:
        result = await stream(target, frames, speed=speed, on_event=on_event, stop=stop)
    except asyncio.CancelledError:
        print("asrx stream: interrupted", file=sys.stderr)
        return INTERRUPTED
    finally:
        loop.remove_signal_handler(signal.SIGINT)
    if live:
        live.finish()
    return _report(args, result, watcher.finish(), utt, words, jsonl, interrupts > 0, t0)


def _write_plot(
    path: str, result: StreamResult, words: StreamWords, segments: list[Segment], title: str
) -> None:
    svg = partials_svg(
        result.session.timeline,
        words.words,
        words.lang,
        segments,
        title=title,
        completed=result.completed,
    )
    try:
        Path(path).write_text(svg, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--plot {path}: cannot write: {exc.strerror or exc}") from None


def _device(device: str | None) -> str | int | None:
    return int(device) if device is not None and device.isdigit() else device


def _report(
    args: argparse.Namespace,
    result: StreamResult,
    vad_segments: list[tuple[float, float]],
    utt: Utterance | None,
    words: StreamWords,
    jsonl: JsonLines | None,
    interrupted: bool,
    t0: float,
) -> int:
    tl = result.session.timeline
    if utt is not None:
        segments = list(utt.segments)
        source = f"from the manifest of {args.corpus}"
        reference, lang = utt.text, utt.lang
    else:
        segments = vad_segments
        source = "from the local VAD"
        reference, lang = args.ref, args.lang
    metrics = session_metrics(tl, segments)
    report = word_report(result, words)
    if reference is not None:
        sc = score(reference, " ".join(metrics.sentences), lang)
        metrics.extra["accuracy"] = {
            "metric": sc.metric,
            "rate": sc.rate,
            "errors": sc.errors,
            "units": sc.ref_units,
            "reference": reference,
        }
    for f in result.closing_findings:  # the rules the session's end broke
        if jsonl:
            jsonl.emit("finding", tl.closed_at, rule=f.rule, expected=f.expected, seen=f.seen)
        else:
            print(f"finding: {f}", file=sys.stderr)
    if args.plot:
        name = utt.id if utt is not None else Path(args.file or "microphone").name
        _write_plot(args.plot, result, words, segments, f"asrx stream: {name}")
        metrics.extra["plot"] = args.plot
    if jsonl:
        if tl.closed_at is not None:
            jsonl.emit("closed", tl.closed_at, code=tl.close_code, reason=tl.close_reason)
        fields = summary_dict(metrics, source, report, t0)
        jsonl.emit("summary", None, end=result.end.value, **fields)
        if result.error:
            jsonl.emit("error", None, message=str(result.error))
    else:
        sys.stdout.write(summary_text(metrics, source, report))
        sys.stdout.flush()
    if result.error:
        print(f"asrx stream: error: {result.error}", file=sys.stderr)
        return result.error.exit_code
    if interrupted and not args.mic:
        print("asrx stream: interrupted", file=sys.stderr)
        return INTERRUPTED
    if result.findings:
        n = len(result.findings)
        print(
            f"asrx stream: error: the server broke the protocol ({n} finding{'s' * (n != 1)})",
            file=sys.stderr,
        )
        return 1
    return 0
