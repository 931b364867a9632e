"""The HTML report page, rendered from a run summary alone (``harness.load.report``).

One self-contained page: styles inline, charts inline SVG (``harness.load.svgplot``), no
script, no external reference, so it opens offline and as a CI artefact. It reads top
down the way a reviewer asks: did it pass and why (the banner: verdict, the deciding
check, what was tested), which checks, which failures and what they said, which protocol
rules broke; then the figures. Every text comes escaped (``html.escape``); server text was
made printable before it reached the summary.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from harness.load.stats import LATENCY_METRICS
from harness.load.svgplot import line_chart

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;color:#222;max-width:1120px;
padding:0 16px}h1{font-size:22px;margin-bottom:8px}h2{font-size:18px;border-bottom:1px solid
#ccc;padding-bottom:2px;margin-top:28px}table{border-collapse:collapse;margin:8px 0}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f3f3f3}
.pass{color:#06702a;font-weight:600}.fail{color:#b00020;font-weight:600}
.banner{border:2px solid;border-radius:6px;padding:12px 16px;margin:12px 0}
.banner.pass{border-color:#06702a;background:#eef8f0;color:#222;font-weight:400}
.banner.fail{border-color:#b00020;background:#fdeef0;color:#222;font-weight:400}
.badge{display:inline-block;padding:3px 12px;border-radius:4px;color:#fff;font-weight:700;
font-size:18px;margin-right:10px}.badge.pass{background:#06702a}.badge.fail{background:#b00020}
.headline{font-size:16px;font-weight:600}.facts{margin:8px 0 0;display:grid;
grid-template-columns:max-content auto;gap:2px 14px}.facts dt{color:#555}.facts dd{margin:0}
nav{margin:8px 0;color:#555}nav a{margin-right:10px}
svg.chart{font:11px sans-serif;margin:6px 12px 6px 0}svg .t{font-size:13px;font-weight:600}
.muted{color:#777}td.text{max-width:460px;white-space:pre-wrap;word-break:break-word}
ul.msgs{margin:0;padding-left:18px}code{font-size:13px}
"""

_SECTIONS = (
    ("verdicts", "Checks"),
    ("failures", "Failures"),
    ("findings", "Protocol findings"),
    ("percentiles", "Latency percentiles"),
    ("distribution", "Latency distributions"),
    ("over-time", "Users and latency over time"),
    ("capacity", "Capacity steps"),
    ("accuracy", "Accuracy"),
    ("health", "Harness health"),
    ("settings", "Run settings"),
)


def _num(v: Any, digits: int = 1) -> str:
    if v is None:
        return '<span class="muted">-</span>'
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            return escape(str(v))
        return f"{v:.{digits}f}" if abs(v) >= 0.1 or v == 0 else f"{v:.4g}"
    return escape(str(v))


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _td(v: Any, digits: int = 1) -> str:
    numeric = isinstance(v, int | float) and not isinstance(v, bool)
    return f'<td class="n">{_num(v, digits)}</td>' if numeric else f"<td>{_num(v)}</td>"


def _ok(passed: bool) -> str:
    return '<td class="pass">pass</td>' if passed else '<td class="fail">FAIL</td>'


def _section(ident: str, title: str, body: str) -> str:
    return f'<section id="{ident}"><h2>{escape(title)}</h2>\n{body}\n</section>'


def _nines(p: float) -> float:
    """x position of a percentile on an HdrHistogram-style axis (1 per "nine")."""
    return math.log10(100.0 / max(100.0 - p, 0.001))


_NINES_TICKS = [
    (_nines(p), label)
    for p, label in (
        (0, "0%"),
        (50, "50%"),
        (90, "90%"),
        (99, "99%"),
        (99.9, "99.9%"),
        (99.99, "99.99%"),
    )
]


# -- the banner ---------------------------------------------------------------------------
def _target_text(target: Mapping[str, Any]) -> str:
    url = escape(target.get("url") or "-")
    engine = target.get("embedded_engine")
    if engine:
        return f"<code>{url}</code> (embedded reference server, {escape(engine)} engine)"
    return f"<code>{url}</code>"


def _banner(s: Mapping[str, Any]) -> str:
    cls = "pass" if s["passed"] else "fail"
    word = "PASS" if s["passed"] else "FAIL"
    failed = s.get("sessions_failed", 0)
    ratio = _num(s["error_ratio"], 4)
    sessions = f"{s['sessions_ok']} completed, {failed} failed (error ratio {ratio})"
    facts = [
        ("Target", _target_text(s.get("target") or {})),
        ("Sessions", sessions),
        ("Started", escape(str(s.get("started_at") or "-"))),
        ("Duration", f"{_num(s.get('duration_s'))} s"),
        ("Exit code", f"{s['exit_code']} ({escape(s['exit_meaning'])})"),
    ]
    if s.get("interrupted"):
        facts.append(("Interrupted", '<span class="fail">yes: judged on what ran</span>'))
    if s.get("locust_html"):
        name = escape(Path(s["locust_html"]).name)
        facts.append(("Locust's report", f'<a href="{name}">{escape(s["locust_html"])}</a>'))
    rows = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    return (
        f'<div class="banner {cls}" id="verdict"><span class="badge {cls}">{word}</span>'
        f'<span class="headline">{escape(s["headline"])}</span>'
        f'<dl class="facts">{rows}</dl></div>'
    )


# -- sections -------------------------------------------------------------------------------
def _verdicts_html(s: Mapping[str, Any]) -> str:
    rows = [
        [
            f"<td>{escape(v['name'])}</td>",
            _td(v["threshold"], 3),
            _td(v["measured"], 3),
            _ok(v["passed"]),
            f"<td>{escape(v['reason'])}</td>",
        ]
        for v in s["verdicts"]
    ]
    note = (
        ""
        if s["gated"]
        else '<p class="muted">No latency or accuracy threshold configured: the run is '
        "judged on sessions completed, the error ratio and harness health.</p>"
    )
    return note + _table(["check", "threshold", "measured", "verdict", "reason"], rows)


def _failures_html(s: Mapping[str, Any]) -> str:
    rows = s["failures"]
    if not rows:
        return f'<p class="pass">No session failed ({s["sessions_ok"]} completed).</p>'
    out = []
    for r in rows:
        msgs = "".join(
            f"<li><code>{escape(m)}</code>" + (f' <span class="muted">× {n}</span>' * (n > 1))
            for m, n in r["messages"]
        )
        shown = sum(n for _, n in r["messages"])
        more = r["sessions"] - shown
        if more > 0:
            msgs += f'<li class="muted">{more} more with other messages</li>'
        out.append(
            [
                f'<td class="fail">{escape(r["kind"])}</td>',
                _td(r["sessions"]),
                f'<td class="text">{escape(r["meaning"])}</td>',
                f'<td class="text"><ul class="msgs">{msgs}</ul></td>',
            ]
        )
    return _table(["failure", "sessions", "meaning", "sampled messages"], out)


def _findings_html(s: Mapping[str, Any]) -> str:
    rows = s.get("findings") or []
    if not rows:
        return '<p class="pass">No protocol rule broken in any session that opened.</p>'
    out = [
        [
            f"<td><code>§{escape(r['rule'])}</code></td>",
            '<td class="muted">NON-STRICT</td>'
            if r["non_strict"]
            else '<td class="fail">broken</td>',
            _td(r["sessions"]),
            f'<td class="text">{escape(r["text"])}</td>',
        ]
        for r in rows
    ]
    return (
        "<p>Rules of the asrx protocol (docs/protocol.md) the server broke, by the number of "
        "sessions. NON-STRICT findings do not fail a session.</p>"
        + _table(["rule", "grade", "sessions", "rule text"], out)
    )


def _percentiles_html(s: Mapping[str, Any]) -> str:
    cols = ["count", "p50", "p90", "p95", "p99", "max"]
    what = s.get("metrics") or {}
    rows = [
        [f"<td>{escape(name)}</td>"]
        + [_td(row.get(c), 2) for c in cols]
        + [f"<td>{escape(what.get(name, ''))}</td>"]
        for name, row in s["percentiles"].items()
    ]
    return (
        "<p>Milliseconds, from full-resolution HdrHistograms (3 significant digits). Only "
        "sessions that completed without failing give latencies.</p>"
        + _table(["metric", *cols, "what"], rows)
    )


def _distribution_html(s: Mapping[str, Any]) -> str:
    charts = []
    for name in (*LATENCY_METRICS, "send_lateness"):
        points = s["distribution"].get(name) or []
        count = s["percentiles"].get(name, {}).get("count", 0)
        charts.append(
            line_chart(
                [(name, [(_nines(p), v) for p, v in points])],
                title=f"{name} by percentile ({count} sample{'s' * (count != 1)})",
                x_label="percentile (the curve ends where the samples stop resolving)",
                y_label="ms",
                x_ticks=_NINES_TICKS,
                width=520,
                height=240,
                markers=True,
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


def _over_time_html(s: Mapping[str, Any]) -> str:
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
    return "\n".join((users, outcome, lat, health))


def _capacity_html(s: Mapping[str, Any]) -> str:
    cap = s.get("capacity")
    if not cap:
        return '<p class="muted">Not a capacity run.</p>'
    held = cap.get("highest_held_users")
    head = (
        f"<p>Highest step that held: <b>{_num(held)}</b> users"
        f" (step {_num(cap.get('highest_held_step'))}). "
        f"{escape(cap.get('stopped_reason') or '')}</p>"
    )
    steps = cap.get("steps", [])
    rows = []
    for st in steps:
        fp, se = st.get("first_partial", {}), st.get("sentence", {})
        rows.append(
            [
                _td(st["step"]),
                _td(st["users"]),
                _td(st.get("start_s")),
                _td(st.get("end_s")),
                _td(st.get("sessions_ok")),
                _td(st.get("failures")),
                _td(st.get("error_ratio"), 3),
                _td(fp.get("p95"), 1),
                _td(se.get("p95"), 1),
                _td(st.get("lateness_p99_ms"), 2),
                _ok(bool(st.get("held"))),
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
        "lateness p99 ms",
        "held",
        "breaches",
    ]

    def per_step(metric: str) -> list[tuple[float, float]]:
        return [
            (st["users"], st[metric]["p95"])
            for st in steps
            if st.get(metric, {}).get("p95") is not None
        ]

    chart = line_chart(
        [("first_partial p95", per_step("first_partial")), ("sentence p95", per_step("sentence"))],
        title="p95 latency per step",
        x_label="users",
        y_label="ms",
        markers=True,
    )
    return head + _table(headers, rows) + chart


def _accuracy_html(s: Mapping[str, Any]) -> str:
    acc = s["accuracy"]
    if not acc.get("applicable", True):
        head = (
            f"<p><b>WER/CER {escape(acc['note'])}.</b> Run against a server that "
            "recognizes speech (<code>--asrx-engine pocketsphinx</code>, or your service "
            "with <code>--host</code>) to measure accuracy.</p>"
        )
        rate = "n/a"
    else:
        head = (
            f"<p>Pooled WER {_num(acc['pooled_wer'], 3)}, pooled CER {_num(acc['pooled_cer'], 3)}"
            " (errors over reference units, every completed session).</p>"
        )
        rate = ""
    rows = [
        [
            f"<td>{escape(a['utterance_id'])}</td>",
            f"<td>{escape(a['lang'])}</td>",
            f"<td>{escape(a['metric'].upper())}</td>",
            f'<td class="n muted">{rate}</td>' if rate else _td(a["rate"], 3),
            _td(a["sessions"]),
            f'<td class="text">{escape(a["reference"])}</td>',
            f'<td class="text">{escape(a["hypothesis"])}</td>',
        ]
        for a in acc["utterances"]
    ]
    if not rows:
        return head + '<p class="muted">No utterance scored (no session completed).</p>'
    return head + _table(
        ["utterance", "lang", "metric", "rate", "sessions", "reference", "hypothesis (last)"],
        rows,
    )


def _health_html(s: Mapping[str, Any]) -> str:
    h = s["harness_health"]
    lat = h["send_lateness"]
    verdict = (
        '<p class="fail">Harness SATURATED: p99 send lateness above the bound; the '
        "latencies of this run are untrusted and it cannot pass.</p>"
        if h["saturated"]
        else '<p class="pass">Harness healthy: p99 send lateness within the bound.</p>'
    )
    cols = ["count", "p50", "p90", "p95", "p99", "max"]
    table = _table(
        ["bound ms", *cols], [[_td(h["lateness_bound_ms"], 1)] + [_td(lat.get(c), 3) for c in cols]]
    )
    what = "<p>Send lateness: actual minus scheduled send time of every frame.</p>"
    return verdict + what + table


def _settings_html(s: Mapping[str, Any]) -> str:
    rows = [[f"<td>{escape(k)}</td>", f"<td>{_num(v)}</td>"] for k, v in s["settings"].items()]
    if not rows:
        return '<p class="muted">none recorded</p>'
    table = _table(["setting", "value"], rows)
    return f"<details><summary>{len(rows)} settings</summary>{table}</details>"


_RENDER = {
    "verdicts": _verdicts_html,
    "failures": _failures_html,
    "findings": _findings_html,
    "percentiles": _percentiles_html,
    "distribution": _distribution_html,
    "over-time": _over_time_html,
    "capacity": _capacity_html,
    "accuracy": _accuracy_html,
    "health": _health_html,
    "settings": _settings_html,
}


def render_html(summary: Mapping[str, Any]) -> str:
    """The self-contained report page for one summary."""
    s = summary
    title = f"asrx load report: {'PASS' if s['passed'] else 'FAIL'} {s['ended_at']}"
    nav = " ".join(f'<a href="#{ident}">{escape(name)}</a>' for ident, name in _SECTIONS)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>",
        "<h1>asrx load report</h1>",
        _banner(s),
        f"<nav>{nav}</nav>",
        *(_section(ident, name, _RENDER[ident](s)) for ident, name in _SECTIONS),
        "</body></html>",
    ]
    return "\n".join(parts)
