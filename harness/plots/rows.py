"""One word's row of the partials picture: its audio, the wait, its runs on screen, its fate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from harness.plots.svg import element, label, line, svg_text
from harness.protocol.words import ReferenceWord, WordLatency

#: Held from one arrival to another (None: to the end of the session).
Run = tuple[float, float | None]
#: What the picture shows of a word: on screen at the end, shown then gone, never shown,
#: or its audio never sent. Unlike ``WordLatency.status`` it holds for untimed words too.
Shown = Literal["final", "lost", "missed", "unsent"]

SPOKEN, WAIT = "#9a9a9a", "#8c8c8c"
SHOWN, CHANGING, WRONG, MUTED = "#0072B2", "#E69F00", "#D55E00", "#9a9a9a"
LABEL_ROW_PX = 9.0
LABEL_CHARS = 18


@dataclass(frozen=True)
class WordRow:
    """One reference word: its fate and the runs of arrivals during which it was held."""

    word: ReferenceWord
    fate: WordLatency
    runs: tuple[Run, ...]

    @property
    def shown(self) -> Shown:
        if self.fate.status == "unsent":
            return "unsent"
        if not self.runs:
            return "missed"
        return "final" if self.runs[-1][1] is None else "lost"


class Scale(Protocol):
    left: int
    right_edge: float
    row_px: float
    t0: float

    def x(self, at: float) -> float: ...

    def sent(self, audio_ms: float) -> float | None: ...


def cross(x: float, y: float, r: float, kind: str) -> str:
    a, b, c, e = x - r, x + r, y - r, y + r
    d = f"M{a:.1f},{c:.1f}L{b:.1f},{e:.1f}M{a:.1f},{e:.1f}L{b:.1f},{c:.1f}"
    return element("path", d=d, stroke=WRONG, stroke_width="2", fill="none", class_=kind)


def row_parts(scale: Scale, row: WordRow, y: float, end: float | None) -> str:
    """The row's group; ``end`` is W(end of the word), None when untimed or not sent."""
    word, runs, x = row.word, row.runs, scale.x
    r = max(1.2, min(4.5, scale.row_px * 0.28))
    parts: list[str] = [element("title", svg_text(_tooltip(scale, row), 400))]
    start = scale.sent(word.start_ms) if word.start_ms is not None else None
    if end is not None and start is not None:
        width = max(1.0, x(end) - x(start))
        parts.append(
            element(
                "rect", x=x(start), y=y - r, width=width, height=2 * r, fill=SPOKEN, class_="spoken"
            )
        )
    if end is not None and runs:
        parts.append(line(x(end), y, x(runs[0][0]), y, WAIT, class_="wait"))
    for i, (a, b) in enumerate(runs):
        if b is None:
            parts.append(element("circle", cx=x(a), cy=y, r=r, fill=SHOWN, class_="final"))
            continue
        thick = f"{max(1.5, r):.1f}"
        parts.append(line(x(a), y, x(b), y, CHANGING, stroke_width=thick, class_="changing"))
        if i + 1 < len(runs):
            parts.append(
                line(
                    x(b),
                    y,
                    x(runs[i + 1][0]),
                    y,
                    WRONG,
                    stroke_width="1.5",
                    stroke_dasharray="1.5 2.5",
                    class_="replaced",
                )
            )
        else:
            parts.append(cross(x(b), y, r, "lost"))
    if runs and runs[0][1] is not None:
        parts.append(
            element(
                "circle",
                cx=x(runs[0][0]),
                cy=y,
                r=r,
                fill="#fff",
                stroke=SHOWN,
                stroke_width="1.5",
                class_="first",
            )
        )
    if row.shown == "missed" and end is not None:
        parts.append(cross(x(end), y, r, "missed"))
    elif row.shown == "missed":  # no time to put a cross at: say it in words
        parts.append(
            label(
                "never shown",
                scale.right_edge - 6,
                y + 4,
                text_anchor="end",
                fill=WRONG,
                font_size=11,
                class_="missed",
            )
        )
    if scale.row_px >= LABEL_ROW_PX:
        colour = {"missed": WRONG, "lost": WRONG, "unsent": MUTED}.get(row.shown, "#222")
        size = f"{min(12.0, scale.row_px * 0.6 + 3):.0f}"
        parts.append(
            label(
                svg_text(word.text, LABEL_CHARS),
                scale.left - 6,
                y + 4,
                text_anchor="end",
                fill=colour,
                font_size=size,
            )
        )
    return element("g", "".join(parts), class_="word", data_status=row.fate.status)


def _tooltip(scale: Scale, row: WordRow) -> str:
    fate, word = row.fate, row.word
    bits = [word.text]
    if word.start_ms is not None and word.end_ms is not None:
        bits.append(f"audio {word.start_ms / 1000:.2f}-{word.end_ms / 1000:.2f} s")
    if fate.upl_ms is not None:
        bits.append(f"first shown {fate.upl_ms:.0f} ms after its audio was sent (UPL)")
    elif row.runs:
        bits.append(f"first shown at {row.runs[0][0] - scale.t0:.2f} s")
    if fate.finalization_ms is not None:
        bits.append(f"final after {fate.finalization_ms:.0f} ms")
    if fate.revisions:
        bits.append(f"replaced {fate.revisions} time{'s' * (fate.revisions != 1)}")
    bits.append({"missed": "never shown", "unsent": "its audio was not sent"}.get(row.shown, ""))
    return "; ".join(b for b in bits if b)
