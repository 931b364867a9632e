"""How ``asrx stream`` shows a session: a live transcript, JSON lines, and a summary.

Server text never reaches the output raw: the live transcript shows it through ``printable``
and JSON lines are written by ``safe_json`` (``harness.protocol.escape``), so no escape
sequence, NUL or bidi override from a server reaches the user's terminal or a log.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from harness.protocol.escape import printable, safe_json
from harness.protocol.events import Confirmation, Event, Finding, Transcript
from harness.protocol.metrics import DEFAULT_LATENESS_BOUND_MS, SessionMetrics, Summary, summarize
from harness.protocol.words import ReferenceWord, WordLatencies, WordStatus

#: The fates of a reference word, in the order the summary counts them.
WORD_STATUSES: tuple[WordStatus, ...] = ("final", "lost", "missed", "untimed", "unsent")


@dataclass(frozen=True)
class WordReport:
    """The word latencies of one session (``word_latencies``) as ``asrx stream`` shows them."""

    words: Sequence[ReferenceWord]
    latencies: WordLatencies
    #: Where the words' times come from; None when none has times.
    timings_from: str | None
    #: Why UPL is not shown (no timings, or the session did not complete); None when it is.
    not_shown: str | None

    @property
    def counted(self) -> bool:
        return self.not_shown is None


class LiveTranscript:
    """The current sentence rewritten in place; finished sentences kept above it.

    On a terminal the rewrite moves the cursor up over the rows the previous hypothesis
    wrapped onto (robust to scrolling, unlike the examples' cursor save/restore). Piped
    output gets each sentence's final text once, on its own line.
    """

    def __init__(self, out: TextIO, tty: bool) -> None:
        self.out = out
        self.tty = tty
        self.current = ""
        self._rows = 1  # terminal rows the current hypothesis occupies

    def on_event(self, ev: Event, at: float) -> None:
        if isinstance(ev, Transcript):
            if ev.new_sentence and self.current:
                self._finish_sentence()
            self.current = printable(ev.text)
            if self.tty:
                self._rewrite(self.current)
        elif isinstance(ev, Confirmation):
            self.finish()

    def finish(self) -> None:
        if self.current:
            self._finish_sentence()

    def _finish_sentence(self) -> None:
        self.out.write("\n" if self.tty else self.current + "\n")
        self.out.flush()
        self.current = ""
        self._rows = 1

    def _rewrite(self, text: str) -> None:
        width = max(1, shutil.get_terminal_size().columns)
        up = self._rows - 1
        self.out.write((f"\033[{up}A" if up else "") + "\r\033[J" + text)
        self.out.flush()
        self._rows = max(1, math.ceil(len(text) / width))


class JsonLines:
    """One JSON object per line per event, times in ms since the connect started."""

    def __init__(self, out: TextIO, t0: float) -> None:
        self.out = out
        self.t0 = t0
        self.sentence = -1

    def emit(self, event: str, at: float | None = None, **fields: object) -> None:
        obj: dict[str, object] = {"event": event}
        if at is not None:
            obj["t_ms"] = round((at - self.t0) * 1000.0, 3)
        obj.update(fields)
        self.out.write(safe_json(obj) + "\n")
        self.out.flush()

    def on_event(self, ev: Event, at: float) -> None:
        if isinstance(ev, Transcript):
            if ev.new_sentence or self.sentence < 0:
                self.sentence += 1
            self.emit("transcript", at, sentence=self.sentence, text=ev.text, state=ev.state)
        elif isinstance(ev, Confirmation):
            self.emit("confirmed", at)
        elif isinstance(ev, Finding):
            self.emit("finding", at, rule=ev.rule, expected=ev.expected, seen=ev.seen)


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f}"


def _row(name: str, s: Summary) -> str:
    return (
        f"  {name:<26} n={s.count:<3} p50 {_fmt(s.p50):>6}  p90 {_fmt(s.p90):>6}  "
        f"p95 {_fmt(s.p95):>6}  p99 {_fmt(s.p99):>6}  max {_fmt(s.max):>6} ms"
    )


def summary_dict(
    m: SessionMetrics, segments_from: str, words: WordReport | None = None, t0: float = 0.0
) -> dict[str, object]:
    """The summary event's fields; ``t0`` is the clock reading times are counted from."""
    late = summarize(m.lateness_ms)
    out: dict[str, object] = {
        "sentences": m.sentences,
        "speech_segments": m.corpus_segments,
        "segments_from": segments_from,
        "segmentation_mismatch": m.segmentation_mismatch,
        "connect_ms": m.connect_ms,
        "first_partial_ms": m.first_partial_ms,
        "sentence_ms": m.sentence_ms,
        "close_ms": m.close_ms,
        "send_lateness_ms": late.as_dict(),
        "harness_saturated": bool(late.p99 is not None and late.p99 > DEFAULT_LATENESS_BOUND_MS),
    }
    if words is not None:
        out.update(word_dict(words, t0))
    out.update(m.extra)
    return out


def word_dict(report: WordReport, t0: float) -> dict[str, object]:
    """``upl_ms`` and ``word_finalization_ms`` (count and percentiles, None when not shown)
    and ``words``: where the times came from, why not shown, counts by status, each word."""
    lat = report.latencies
    counted = report.counted
    each = []
    for w in lat.words:
        ref = report.words[w.index]
        each.append(
            {
                "index": w.index,
                "text": w.text,
                "start_ms": ref.start_ms,
                "end_ms": w.end_ms,
                "status": w.status,
                "upl_ms": w.upl_ms if counted else None,
                "finalization_ms": w.finalization_ms if counted else None,
                "first_t_ms": _since(w.first_at, t0),
                "final_t_ms": _since(w.final_at, t0),
                "revisions": w.revisions,
            }
        )
    words: dict[str, object] = {"timings_from": report.timings_from, "not_shown": report.not_shown}
    words.update({status: lat.count(status) for status in WORD_STATUSES})
    words["list"] = each
    return {
        "upl_ms": summarize(lat.upl_ms).as_dict() if counted else None,
        "word_finalization_ms": summarize(lat.finalization_ms).as_dict() if counted else None,
        "words": words,
    }


def _since(at: float | None, t0: float) -> float | None:
    return None if at is None else round((at - t0) * 1000.0, 3)


def word_lines(report: WordReport) -> list[str]:
    """The summary's word latency rows, or the one line that says why they are not shown."""
    lat = report.latencies
    if report.not_shown is not None:
        return [f"  word latency (UPL)         not shown: {report.not_shown}"]
    fates = ", ".join(f"{lat.count(s)} {s}" for s in WORD_STATUSES if s != "unsent" or lat.count(s))
    return [
        _row("word latency (UPL)", summarize(lat.upl_ms)) + "  (end of word to first shown)",
        _row("word finalization", summarize(lat.finalization_ms)) + "  (end of word to final)",
        f"  words                      {len(lat.words)}: {fates}"
        f" (times from {report.timings_from})",
    ]


def summary_text(m: SessionMetrics, segments_from: str, words: WordReport | None = None) -> str:
    lines = ["", "summary"]
    segs = "?" if m.corpus_segments is None else str(m.corpus_segments)
    lines.append(
        f"  sentences                  {len(m.sentences)}"
        f" (speech segments: {segs}, {segments_from})"
    )
    if m.segmentation_mismatch:
        lines.append(
            "  segmentation mismatch: server sentences != speech segments; "
            "sentence latency not defined"
        )
    lines.append(f"  connect                    {_fmt(m.connect_ms)} ms")
    per = "  ".join(f"#{i + 1} {_fmt(v)}" for i, v in enumerate(m.first_partial_ms)) or "-"
    lines.append(f"  first partial latency      {per} ms")
    per = "  ".join(f"#{i + 1} {_fmt(v)}" for i, v in enumerate(m.sentence_ms)) or "-"
    lines.append(f"  sentence latency           {per} ms  (end of speech to final)")
    lines.append(f"  close latency              {_fmt(m.close_ms)} ms")
    if words is not None:
        lines += word_lines(words)
    late = summarize(m.lateness_ms)
    lines.append(_row("send lateness", late))
    health = (
        "harness saturated: latencies untrusted"
        if late.p99 is not None and late.p99 > DEFAULT_LATENESS_BOUND_MS
        else "harness healthy"
    )
    lines.append(f"  {health} (p99 send lateness bound {DEFAULT_LATENESS_BOUND_MS:g} ms)")
    acc = m.extra.get("accuracy")
    if isinstance(acc, dict):
        unit = "words" if acc["metric"] == "wer" else "characters"
        lines.append(
            f"  accuracy                   {acc['metric'].upper()} {acc['rate']:.1%}"
            f" ({acc['errors']} errors in {acc['units']} reference {unit})"
        )
    return "\n".join(lines) + "\n"
