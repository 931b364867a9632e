"""The load report's charts: latency distributions, the run over time, the capacity steps.

Drawn by ``harness.load.svgplot``. With few points every point is a dot, and a
distribution curve stops at the percentile its samples resolve.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from harness.load.report_html import num, ok, table, td
from harness.load.stats import LATENCY_METRICS
from harness.load.svgplot import line_chart


def nines(p: float) -> float:
    """x position of a percentile on an HdrHistogram-style axis (1 per "nine")."""
    return math.log10(100.0 / max(100.0 - p, 0.001))


NINES_TICKS = [
    (nines(p), label)
    for p, label in (
        (0, "0%"),
        (50, "50%"),
        (90, "90%"),
        (99, "99%"),
        (99.9, "99.9%"),
        (99.99, "99.99%"),
    )
]


def percentile_chart(
    curves: Sequence[tuple[str, Sequence[Sequence[float]]]], title: str, x_label: str
) -> str:
    """Latency (ms) by percentile, one line per ``(name, [[percentile, ms], ...])``, on a
    "nines" axis: the load report's distributions and the comparison's overlays."""
    return line_chart(
        [(name, [(nines(p), v) for p, v in points]) for name, points in curves],
        title=title,
        x_label=x_label,
        y_label="ms",
        x_ticks=NINES_TICKS,
        width=520,
        height=240,
        markers=True,
    )


def distribution_html(s: Mapping[str, Any]) -> str:
    charts = []
    for name in (*LATENCY_METRICS, "send_lateness"):
        count = s["percentiles"].get(name, {}).get("count", 0)
        charts.append(
            percentile_chart(
                [(name, s["distribution"].get(name) or [])],
                title=f"{name} by percentile ({count} sample{'s' * (count != 1)})",
                x_label="percentile (the curve ends where the samples stop resolving)",
            )
        )
    return "\n".join(charts)


def _series(rows: Sequence[Mapping[str, Any]], key: str, sub: str | None = None) -> list:
    out = []
    for r in rows:
        v = r.get(key)
        if sub is not None:
            v = v.get(sub) if isinstance(v, Mapping) else None
        if isinstance(v, int | float):
            out.append((float(r["t_s"]), float(v)))
    return out


def over_time_html(s: Mapping[str, Any]) -> str:
    rows = s["timeseries"]
    if not rows:
        return '<p class="muted">No samples (the run ended before the first interval).</p>'
    few = len(rows) < 8
    users = line_chart(
        [("users", _series(rows, "users"))],
        title="users over time",
        x_label="s since start",
        y_label="users",
        step=True,
        markers=few,
    )
    lat = line_chart(
        [
            ("first_partial p50", _series(rows, "first_partial", "p50")),
            ("first_partial p95", _series(rows, "first_partial", "p95")),
            ("sentence p95", _series(rows, "sentence", "p95")),
            ("close p95", _series(rows, "close", "p95")),
        ],
        title="latency per interval",
        x_label="s since start",
        y_label="ms",
        markers=few,
    )
    outcome = line_chart(
        [
            ("sessions completed", _series(rows, "sessions_ok")),
            ("failed", _series(rows, "failures")),
        ],
        title="sessions per interval",
        x_label="s since start",
        y_label="sessions",
        markers=few,
    )
    health = line_chart(
        [("send lateness p99", _series(rows, "send_lateness", "p99"))],
        title="send lateness per interval",
        x_label="s since start",
        y_label="ms",
        markers=few,
    )
    charts = [users, outcome, lat]
    upl = [
        ("UPL p50", _series(rows, "word_upl", "p50")),
        ("UPL p95", _series(rows, "word_upl", "p95")),
        ("word final p95", _series(rows, "word_final", "p95")),
    ]
    if any(points for _, points in upl):
        charts.append(
            line_chart(
                upl,
                title="word latency per interval",
                x_label="s since start",
                y_label="ms",
                markers=few,
            )
        )
    return "\n".join((*charts, health))


def capacity_html(s: Mapping[str, Any]) -> str:
    cap = s.get("capacity")
    if not cap:
        return '<p class="muted">Not a capacity run.</p>'
    held = cap.get("highest_held_users")
    head = (
        f"<p>Highest step that held: <b>{num(held)}</b> users"
        f" (step {num(cap.get('highest_held_step'))}). "
        f"{escape(cap.get('stopped_reason') or '')}</p>"
    )
    steps = cap.get("steps", [])
    words = any((st.get("word_upl") or {}).get("count") for st in steps)
    rows = []
    for st in steps:
        fp, se = st.get("first_partial", {}), st.get("sentence", {})
        upl = [td((st.get("word_upl") or {}).get("p95"), 1)] if words else []
        rows.append(
            [
                td(st["step"]),
                td(st["users"]),
                td(st.get("start_s")),
                td(st.get("end_s")),
                td(st.get("sessions_ok")),
                td(st.get("failures")),
                td(st.get("error_ratio"), 3),
                td(fp.get("p95"), 1),
                td(se.get("p95"), 1),
                *upl,
                td(st.get("lateness_p99_ms"), 2),
                ok(bool(st.get("held"))),
                f"<td>{escape('; '.join(st.get('breaches', [])))}</td>",
            ]
        )
    headers = [
        "step",
        "users",
        "start s",
        "end s",
        "sessions ok",
        "failed",
        "error ratio",
        "first partial p95 ms",
        "sentence p95 ms",
        *(["UPL p95 ms"] if words else []),
        "lateness p99 ms",
        "held",
        "breaches",
    ]

    def per_step(metric: str) -> list[tuple[float, float]]:
        return [
            (st["users"], st[metric]["p95"])
            for st in steps
            if (st.get(metric) or {}).get("p95") is not None
        ]

    series = [
        ("first_partial p95", per_step("first_partial")),
        ("sentence p95", per_step("sentence")),
    ]
    if words:
        series.append(("UPL p95", per_step("word_upl")))
    chart = line_chart(
        series,
        title="p95 latency per step",
        x_label="users",
        y_label="ms",
        markers=True,
    )
    return head + table(headers, rows) + chart
