"""The partials picture's legend and the line of figures under its title."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from harness.plots.rows import CHANGING, SHOWN, SPOKEN, WAIT, WRONG, cross
from harness.plots.svg import element
from harness.protocol.metrics import summarize

if TYPE_CHECKING:
    from harness.plots.rows import WordRow

SPEECH, IDEAL = "#dde8f3", "#009E73"
#: Width of a legend glyph and the gap after an entry's text (px); text at ~6.6 px a char.
GLYPH, GAP, CHAR_PX = 22, 16, 6.6
LINE = 20


#: Glyphs drawn around (0, 0), as the rows draw them, and what each means.
ENTRIES: tuple[tuple[str, str], ...] = (
    (element("rect", x=0.0, y=-8.0, width=18.0, height=16.0, fill=SPEECH), "speech"),
    (element("rect", x=0.0, y=-4.0, width=18.0, height=8.0, fill=SPOKEN), "word's audio"),
    (
        element(
            "line",
            x1=0.0,
            x2=18.0,
            y1=6.0,
            y2=-6.0,
            stroke=IDEAL,
            stroke_width="1.5",
            stroke_dasharray="5 4",
        ),
        "zero latency",
    ),
    (element("line", x1=0.0, x2=18.0, y1=0.0, y2=0.0, stroke=WAIT), "wait (UPL)"),
    (
        element("circle", cx=9.0, cy=0.0, r=4.5, fill="#fff", stroke=SHOWN, stroke_width="1.5"),
        "first shown",
    ),
    (
        element("line", x1=0.0, x2=18.0, y1=0.0, y2=0.0, stroke=CHANGING, stroke_width="4"),
        "shown, later replaced",
    ),
    (
        element(
            "line",
            x1=0.0,
            x2=18.0,
            y1=0.0,
            y2=0.0,
            stroke=WRONG,
            stroke_width="1.5",
            stroke_dasharray="1.5 2.5",
        ),
        "replaced",
    ),
    (element("circle", cx=9.0, cy=0.0, r=4.5, fill=SHOWN), "final"),
    (cross(9.0, 0.0, 4.5, "legend"), "missed / lost"),
    (
        element("line", x1=9.0, x2=9.0, y1=-7.0, y2=7.0, stroke="#000"),
        "server message (tall: new sentence)",
    ),
    (
        element("line", x1=9.0, x2=9.0, y1=-7.0, y2=7.0, stroke="#555", stroke_dasharray="2 3"),
        "end of stream sent",
    ),
)


TIMED_ONLY = frozenset({"word's audio", "zero latency", "wait (UPL)"})


class Legend:
    """One line of glyphs and words, as the rows draw them."""

    def __init__(self, x: float, y: float, right: float, timed: bool = True) -> None:
        """Lines start at ``x``, the first centred on ``y``, none passes ``right``; without
        word times the entries only times draw are left out."""
        self.x, self.y, self.right = x, y, right
        self.entries = [e for e in ENTRIES if timed or e[1] not in TIMED_ONLY]

    def draw(self) -> list[str]:
        """The entries, wrapped onto another line (``LINE`` lower) past ``right``."""
        out: list[str] = []
        x, y = self.x, self.y
        for glyph, label in self.entries:
            width = GLYPH + len(label) * CHAR_PX
            if x + width > self.right:
                x, y = self.x, y + LINE
            out.append(
                f'<g transform="translate({x:.1f} {y:.1f})">{glyph}'
                + element("text", label, x=float(GLYPH), y=4.0, fill="#333")
                + "</g>"
            )
            x += width + GAP
        return out

    def height(self) -> float:
        """How far below ``y`` the last line lies."""
        x, lines = self.x, 0
        for _, label in self.entries:
            width = GLYPH + len(label) * CHAR_PX
            if x + width > self.right:
                x, lines = self.x, lines + 1
            x += width + GAP
        return lines * LINE


def subtitle(rows: Sequence[WordRow], completed: bool, from_transcript: bool) -> str:
    """The figures of the picture in one line: UPL and finalization, and the words' fates
    as the picture shows them (``WordRow.shown``)."""
    if from_transcript:
        return (
            f"{len(rows)} words of the final transcript (no reference words: no UPL; "
            "the rows show the hypothesis growing)"
        )
    counts = Counter(r.shown for r in rows)
    fates = ", ".join(
        f"{counts[s]} {s}"
        for s in ("final", "lost", "missed", "unsent")
        if counts[s] or s != "unsent"
    )
    untimed = sum(1 for r in rows if r.word.end_ms is None)
    if untimed == len(rows):
        return f"{len(rows)} words: {fates}; no word timings, so no UPL"
    if untimed:
        fates += f" ({untimed} without times)"
    if not completed:
        return f"{len(rows)} words: {fates}; the session did not complete: no latency counts"
    upl = summarize(r.fate.upl_ms for r in rows)
    fin = summarize(r.fate.finalization_ms for r in rows)

    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v:.0f}"

    return (
        f"UPL p50 {ms(upl.p50)} / p90 {ms(upl.p90)} / max {ms(upl.max)} ms, "
        f"finalization p50 {ms(fin.p50)} / p90 {ms(fin.p90)} ms; {len(rows)} words: {fates}"
    )
