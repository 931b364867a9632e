"""Where everything of the partials picture goes: the time scale, the rows, the axes.

The horizontal axis is seconds since the first audio frame was sent (``t0``); a moment on
the timeline's clock ``at`` lies at ``x(at)``, and audio position ``a`` at ``x(W(a))``.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.load.svgplot import nice_ticks
from harness.plots.legend import IDEAL, SPEECH, Legend
from harness.plots.rows import LABEL_CHARS, WordRow, row_parts
from harness.plots.svg import FONT, element, label, line, svg_text
from harness.protocol.audio import BYTES_PER_MS, BYTES_PER_SECOND, ms_to_bytes
from harness.protocol.timeline import Timeline

WIDTH = 1000
#: Row height bounds; rows shrink so that they never take more than ``ROWS_PX``.
MAX_ROW_PX, ROWS_PX = 22.0, 1200.0
#: A message's tooltip shows at most this much of its text (the end: the newest words).
TOOLTIP_CHARS = 200
#: Title, figures, legend (first line at ``LEGEND_Y``), the audio axis, the rows, the time axis.
LEGEND_Y, AXIS_GAP, BOTTOM, RIGHT = 62.0, 30.0, 58.0, 24.0
MUTED = "#555"

Segment = tuple[float, float]


class Canvas:
    def __init__(
        self, tl: Timeline, rows: Sequence[WordRow], segments: Sequence[Segment], timed: bool
    ) -> None:
        self.tl, self.rows, self.segments = tl, rows, segments
        frames = tl.frames
        self.t0 = frames.sent[0] if len(frames) else (tl.connected or 0.0)
        moments = [m.at for m in tl.messages] + [self.t0]
        if len(frames):
            moments.append(frames.sent[-1])
        if tl.end_of_stream_at is not None:
            moments.append(tl.end_of_stream_at)
        self.lo = min(0.0, min(moments) - self.t0)
        self.hi = max(moments) - self.t0
        self.hi += max(0.05 * (self.hi - self.lo), 0.1)
        longest = max((len(svg_text(r.word.text, LABEL_CHARS)) for r in rows), default=4)
        self.left = min(170, 24 + 7 * max(longest, 8))
        self.right_edge = WIDTH - RIGHT
        self.row_px = min(MAX_ROW_PX, ROWS_PX / max(1, len(rows)))
        self.legend = Legend(12, LEGEND_Y, self.right_edge, timed)
        self.top = LEGEND_Y + self.legend.height() + AXIS_GAP
        self.bottom = self.top + self.row_px * max(1, len(rows))
        self.height = self.bottom + BOTTOM

    def x(self, at: float) -> float:
        """Pixel column of a moment on the timeline's clock (seconds)."""
        return self.left + (at - self.t0 - self.lo) / (self.hi - self.lo) * (
            self.right_edge - self.left
        )

    def sent(self, audio_ms: float) -> float | None:
        """W(audio_ms), or None past the audio this session sent (1 ms of rounding)."""
        if ms_to_bytes(audio_ms) > self.tl.audio_bytes + BYTES_PER_MS:
            return None
        return self.tl.sent_at(ms_to_bytes(audio_ms))

    def draw(self, title: str, figures: str) -> str:
        h = f"{self.height:.0f}"
        head = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{h}" '
            f'viewBox="0 0 {WIDTH} {h}" font-family="{FONT}" font-size="12" '
            f'role="img" aria-label="{svg_text(title)}">',
            element("title", svg_text(title)),
            element("rect", x=0, y=0, width=WIDTH, height=h, fill="#fff"),
            label(svg_text(title), 12, 20, font_size=15, font_weight="bold"),
            label(svg_text(figures), 12, 40, fill="#333"),
        ]
        body = self.legend.draw() + self._speech() + self._axes() + self._rows()
        return "\n".join([*head, *body, *self._messages(), "</svg>", ""])

    def _speech(self) -> list[str]:
        out = []
        for on, off in self.segments:
            a, b = self.sent(on), self.sent(off)
            if a is None:
                continue
            x0, x1 = self.x(a), self.x(b if b is not None else self.tl.frames.sent[-1])
            out.append(
                element(
                    "rect",
                    x=x0,
                    y=self.top,
                    width=max(1.0, x1 - x0),
                    height=self.bottom - self.top,
                    fill=SPEECH,
                    class_="speech",
                )
            )
        return out

    def _axes(self) -> list[str]:
        top, bottom, left = self.top, self.bottom, float(self.left)
        out = [
            element(
                "rect",
                x=left,
                y=top,
                width=self.right_edge - left,
                height=bottom - top,
                fill="none",
                stroke="#999",
            ),
            label(
                "time since the first audio was sent (s): when audio went out and when "
                "text came in",
                left,
                bottom + 52,
                fill="#333",
            ),
            label("audio (s)", left - 6, top - 7, text_anchor="end", fill=MUTED, font_size=11),
        ]
        for t in nice_ticks(self.lo, self.hi - 1e-9, 10):
            x = self.x(self.t0 + t)
            out.append(line(x, top, x, bottom, "#000", stroke_opacity="0.08"))
            out.append(label(f"{t:g}", x, bottom + 34, text_anchor="middle"))
        audio_s = self.tl.audio_bytes / BYTES_PER_SECOND
        for a in nice_ticks(0.0, audio_s, 10) if audio_s > 0 else []:
            at = self.sent(a * 1000.0)
            if at is not None:
                x = self.x(at)
                out.append(line(x, top - 4, x, top, MUTED))
                out.append(
                    label(f"{a:g}", x, top - 7, text_anchor="middle", fill=MUTED, font_size=11)
                )
        if self.tl.end_of_stream_at is not None:
            x = self.x(self.tl.end_of_stream_at)
            out.append(line(x, top, x, bottom, MUTED, stroke_dasharray="2 3", class_="eos"))
        return out

    def _rows(self) -> list[str]:
        out: list[str] = []
        ideal: list[str] = []
        for j, row in enumerate(self.rows):
            y = self.top + (j + 0.5) * self.row_px
            if j % 2:
                out.append(
                    element(
                        "rect",
                        x=float(self.left),
                        y=y - self.row_px / 2,
                        width=self.right_edge - self.left,
                        height=self.row_px,
                        fill="#000",
                        fill_opacity="0.025",
                    )
                )
            end = self.sent(row.word.end_ms) if row.word.end_ms is not None else None
            if end is not None:
                ideal.append(f"{self.x(end):.1f},{y:.1f}")
            out.append(row_parts(self, row, y, end))
        if len(ideal) > 1:
            out.append(
                element(
                    "polyline",
                    points=" ".join(ideal),
                    fill="none",
                    stroke=IDEAL,
                    stroke_width="1.5",
                    stroke_dasharray="5 4",
                    class_="ideal",
                )
            )
        return out

    def _messages(self) -> list[str]:
        y = self.bottom + 2
        out = [
            label("messages", self.left - 6, y + 12, text_anchor="end", fill=MUTED, font_size=11)
        ]
        for msg in self.tl.messages:
            x = self.x(msg.at)
            what = "(confirmation)" if msg.confirmation else msg.text[-TOOLTIP_CHARS:] or "(empty)"
            tip = element("title", svg_text(f"{msg.at - self.t0:.3f} s: {what}", TOOLTIP_CHARS))
            tall = 18.0 if msg.new_sentence else 10.0
            colour = "#000" if msg.new_sentence else "#666"
            out.append(
                element("line", tip, x1=x, x2=x, y1=y, y2=y + tall, stroke=colour, class_="message")
            )
        return out
