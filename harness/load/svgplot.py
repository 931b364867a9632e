"""A small inline-SVG line chart, so the HTML report needs no plotting library and no CDN.

The report's charts are all the same shape (a few named series of (x, y) points, linear
axes with a handful of ticks), which fits in a hundred lines; matplotlib would add a
heavy dependency and a font cache to every CI run for that.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape

#: Series colours (colour-blind safe, Okabe-Ito).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")

Point = tuple[float, float]


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(count, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.floor(lo / step) * step
    ticks = []
    t = first
    while t <= hi + step * 1e-9:
        if t >= lo - step * 1e-9:
            ticks.append(round(t, 10))
        t += step
    return ticks


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def line_chart(
    series: Sequence[tuple[str, Sequence[Point]]],
    *,
    title: str,
    x_label: str,
    y_label: str,
    width: int = 640,
    height: int = 280,
    x_ticks: Sequence[tuple[float, str]] | None = None,
    y_min: float | None = 0.0,
    step: bool = False,
    markers: bool = False,
    x_format: Callable[[float], str] = _fmt,
) -> str:
    """An ``<svg>`` element: one polyline per series, axes, ticks, a legend.

    ``markers`` draws every point as a dot (for a few points, where a line alone would hide
    how few there are); a series of one point is always a dot.
    """
    pts = [p for _, points in series for p in points if all(map(math.isfinite, p))]
    left, right, top, bottom = 64, 16, 40, 44
    out = [
        f'<svg class="chart" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}">',
        f'<text x="{width / 2:.0f}" y="16" text-anchor="middle" class="t">{escape(title)}</text>',
    ]
    if not pts:
        out.append(
            f'<text x="{width / 2:.0f}" y="{height / 2:.0f}" text-anchor="middle">no data</text>'
        )
        return "\n".join(out + ["</svg>"])
    x0, x1 = min(p[0] for p in pts), max(p[0] for p in pts)
    y0 = min(p[1] for p in pts) if y_min is None else min(y_min, *(p[1] for p in pts))
    y1 = max(p[1] for p in pts)
    if x1 <= x0:
        x1 = x0 + 1
    if y1 <= y0:
        y1 = y0 + 1
    y1 += (y1 - y0) * 0.05
    pw, ph = width - left - right, height - top - bottom

    def sx(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * pw

    def sy(y: float) -> float:
        return top + ph - (y - y0) / (y1 - y0) * ph

    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
    for t in nice_ticks(y0, y1):
        y = sy(t)
        out.append(
            f'<line x1="{left}" x2="{left + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{_fmt(t)}</text>'
        )
    xt = x_ticks if x_ticks is not None else [(t, x_format(t)) for t in nice_ticks(x0, x1, 6)]
    for t, label in xt:
        if x0 <= t <= x1:
            x = sx(t)
            out.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + ph}" stroke="#eee"/>'
                f'<text x="{x:.1f}" y="{top + ph + 14}" text-anchor="middle">'
                f"{escape(label)}</text>"
            )
    out.append(
        f'<text x="{left + pw / 2:.0f}" y="{height - 6}" text-anchor="middle">'
        f"{escape(x_label)}</text>"
        f'<text transform="translate(14 {top + ph / 2:.0f}) rotate(-90)" '
        f'text-anchor="middle">{escape(y_label)}</text>'
    )
    legend_x = left
    for i, (label, points) in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        good = [p for p in points if all(map(math.isfinite, p))]
        if not good:
            continue
        coords: list[str] = []
        for j, (x, y) in enumerate(good):
            if step and j:
                coords.append(f"{sx(x):.1f},{sy(good[j - 1][1]):.1f}")
            coords.append(f"{sx(x):.1f},{sy(y):.1f}")
        out.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="1.8" '
            f'points="{" ".join(coords)}"><title>{escape(label)}</title></polyline>'
        )
        if markers or len(good) == 1:
            out.extend(
                f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{colour}"/>'
                for x, y in good
            )
        # Legend in the top margin, one entry after another (about 7 px per character).
        out.append(
            f'<rect x="{legend_x}" y="{top - 15}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{legend_x + 14}" y="{top - 6}">{escape(label)}</text>'
        )
        legend_x += 28 + 7 * len(label)
    out.append("</svg>")
    return "\n".join(out)
