"""The report's word-level section: what became of the reference words, and the pictures.

``words_section`` puts into the run summary what the section shows: the reference words
of every completed session counted by status (``harness.protocol.words``: final, lost,
missed, untimed, unsent), the missed and lost ratios over the timed words sent, why word
latencies may be unmeasured, and the last completed session of each utterance
(``harness.load.samples``). ``words_html`` renders it, each sample as a partials-over-time
picture (``harness.plots.partials``) drawn from the summary alone.

Against an engine that does not recognize speech (the synthetic engine's placeholder
words) every word would read as missed: the section says "not applicable" instead, as the
accuracy section does, and its pictures show how the transcript grew, without the
reference's words.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from harness.load.report_html import num, table, td
from harness.load.samples import MAX_SAMPLES, SessionSample, sample_list
from harness.load.stats import TIMED_STATUSES, RunStats
from harness.load.verdict import unmeasured_words
from harness.plots.partials import partials_svg

STATUSES = ("final", "lost", "missed", "untimed", "unsent")
#: What each status means, for the section's table.
MEANINGS = {
    "final": "shown, and still shown at the end (has a UPL and a finalization latency)",
    "lost": "shown, then replaced by the end (has a UPL only)",
    "missed": "never shown (no latency: counted, not timed)",
    "untimed": "no timing in the manifest (compared, never timed)",
    "unsent": "its end lies past the audio the session sent",
}


def words_section(stats: RunStats, why_not: str | None) -> dict[str, Any]:
    """The summary's ``words``; ``why_not``: why the engine's words cannot match (None:
    they can)."""
    counts = {s: stats.words[s] for s in STATUSES}
    timed = sum(counts[s] for s in TIMED_STATUSES)
    applicable = why_not is None
    measured = stats.histograms["word_upl"].count > 0
    return {
        "applicable": applicable,
        "note": f"not applicable: {why_not}" if why_not else "",
        "unmeasured": "" if measured or not applicable else unmeasured_words(stats),
        "counts": counts,
        "timed": timed,
        "missed_ratio": stats.word_ratio("missed") if applicable else None,
        "lost_ratio": stats.word_ratio("lost") if applicable else None,
        "samples": [s.to_dict() for s in sample_list(stats.samples)],
        "samples_too_large": stats.samples_too_large,
        "sample_limit": MAX_SAMPLES,
    }


def _figures(s: Mapping[str, Any]) -> str:
    upl = s["percentiles"].get("word_upl") or {}
    fin = s["percentiles"].get("word_final") or {}
    if not upl.get("count"):
        return ""
    return (
        f"<p><b>UPL</b> p50 {num(upl.get('p50'))} ms, p90 {num(upl.get('p90'))} ms, "
        f"p99 {num(upl.get('p99'))} ms over {upl['count']} words; <b>finalization</b> "
        f"p50 {num(fin.get('p50'))} ms, p95 {num(fin.get('p95'))} ms over "
        f"{fin.get('count', 0)} words.</p>"
    )


def _percent(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.1%}"


def _counts_html(w: Mapping[str, Any]) -> str:
    counts, timed = w["counts"], w["timed"]
    if not any(counts.values()):
        return ""
    rows = []
    for status in STATUSES:
        timed_status = status in TIMED_STATUSES and timed
        share = f"{counts[status] / timed:.1%} of timed" if timed_status else ""
        rows.append(
            [
                f"<td>{status}</td>",
                td(counts[status]),
                f'<td class="n">{share}</td>',
                f'<td class="text">{escape(MEANINGS[status])}</td>',
            ]
        )
    return table(["words", "count", "share", "meaning"], rows)


def _picture(sample: SessionSample, applicable: bool) -> str:
    title = f"{sample.utterance_id}: partials over time (last completed session)"
    words = sample.words if applicable else ()
    return partials_svg(
        sample.timeline(), words, sample.lang, sample.segments, title=title, completed=True
    )


def _pictures_html(w: Mapping[str, Any]) -> str:
    samples = [SessionSample.from_dict(d) for d in w["samples"]]
    if not samples:
        return '<p class="muted">No picture: no session completed.</p>'
    intro = (
        "<p>Partials over time, one utterance per picture: the last completed session "
        "that ended before the report. Each row is a reference word (grey: its audio); the "
        "thin line runs from the end of its audio to when it was first shown (its UPL), "
        "filled circles mark it final, crosses missed or lost. Hover a message tick for its "
        "text.</p>"
    )
    if not w["applicable"]:
        intro = (
            "<p>Partials over time of the last completed session per utterance: the "
            "placeholder words as the transcript grew (no reference words: they cannot "
            "match).</p>"
        )
    more = []
    if len(samples) >= w["sample_limit"]:
        more.append(f"pictures of the first {w['sample_limit']} utterances by id")
    if w["samples_too_large"]:
        more.append(f"{w['samples_too_large']} session(s) too large to keep as a sample")
    note = f'<p class="muted">{escape("; ".join(more))}.</p>' if more else ""
    parts = []
    for i, sample in enumerate(samples):
        shown = " open" if i == 0 else ""
        what = f" ({len(sample.words)} reference words)" if w["applicable"] else ""
        parts.append(
            f"<details{shown}><summary>{escape(sample.utterance_id)}{what}</summary>"
            f'<div class="picture">{_picture(sample, w["applicable"])}</div></details>'
        )
    return intro + note + "".join(parts)


def words_html(s: Mapping[str, Any]) -> str:
    w = s.get("words")
    if not w:
        return '<p class="muted">Not recorded in this summary.</p>'
    what = (
        "<p>Per reference word: the <b>UPL</b> (user-perceived latency) is the first "
        "message whose text holds the word minus when the end of the word's audio was sent; "
        "the <b>finalization latency</b> is the message after which it no longer changed, "
        "minus the same moment (docs/protocol.md §5). Neither depends on how the server "
        "cuts sentences. Only completed sessions count.</p>"
    )
    if not w["applicable"]:
        head = (
            f"<p><b>Word latency {escape(w['note'])}.</b> Run against a server that "
            "recognizes speech (<code>--asrx-engine pocketsphinx</code> with "
            "<code>--asrx-corpus</code> of real speech, or your service with "
            "<code>--host</code>) to measure it.</p>"
        )
    elif w["unmeasured"]:
        head = f'<p class="fail">Word latency not measured: {escape(w["unmeasured"])}.</p>'
    else:
        head = _figures(s) + (
            f"<p>{w['timed']} timed words sent: <b>{_percent(w['missed_ratio'])} missed</b>, "
            f"{_percent(w['lost_ratio'])} lost.</p>"
        )
    counts = _counts_html(w) if w["applicable"] else ""
    return what + head + counts + _pictures_html(w)
