"""The run summary (JSON, for machines) and the self-contained HTML report (for people).

``build_summary`` gathers everything a run produced into one JSON-able dict; the HTML
report is rendered from that dict alone (``render_html``), so the two always agree and a
summary can be re-rendered later. Both go to ``reports/`` (``write_reports``) as
``asrx-summary-<timestamp>.json`` and ``asrx-report-<timestamp>.html`` plus the stable
copies ``asrx-summary.json`` and ``asrx-report.html`` (the latest run).

The HTML has no external reference at all: styles inline, charts are inline SVG
(``harness.load.svgplot``), no script. It opens offline and sits beside Locust's own
``--html`` report, which it links to when one was requested.

Secrets: ``harness.redaction`` masks settings whose name says secret and removes the API
key from every string value of the summary (as a whole token, never from the summary's
own key names: a short key such as ``k`` corrupts nothing). The HTML is rendered from the
redacted summary only.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from harness.load.slo import EXIT_CODES, SLO, Verdict, exit_code, is_saturated, lateness_p99
from harness.load.stats import FAILURE_KINDS, METRICS, LatencyHistogram, RunStats
from harness.load.svgplot import line_chart
from harness.redaction import Redactor

SCHEMA = "asrx-summary/1"
LATENCY_METRICS = ("connect", "first_partial", "sentence", "close")
#: Percentiles sampled for the distribution curves (x axis: "nines").
CURVE_PERCENTILES = (0, 10, 25, 50, 75, 90, 95, 97.5, 99, 99.5, 99.9, 99.95, 99.99, 100)


def timestamp(now: dt.datetime | None = None) -> str:
    """File-name timestamp, UTC, sortable: ``20261123T202621Z``."""
    return (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")


def redacted_settings(options: Mapping[str, Any], apikey: str | None) -> dict[str, Any]:
    """Options as JSON-able values, without the key (``harness.redaction``)."""
    plain = {
        name: value if value is None or isinstance(value, bool | int | float | list) else str(value)
        for name, value in sorted(options.items())
    }
    return Redactor([apikey]).options(plain)


def distribution(hist: LatencyHistogram) -> list[list[float]]:
    """[percentile, ms] points of the latency curve (empty without samples)."""
    if not hist.count:
        return []
    return [[p, hist.h.get_value_at_percentile(p) / 1000.0] for p in CURVE_PERCENTILES]


def percentile_table(stats: RunStats) -> dict[str, dict[str, float | int | None]]:
    table = {}
    for name, hist in stats.histograms.items():
        row = hist.summary()
        row["negative"] = hist.negative
        table[name] = row
    return table


def accuracy_section(stats: RunStats) -> dict[str, Any]:
    rows = [
        {
            "utterance_id": a.utterance_id,
            "lang": a.lang,
            "metric": a.metric,
            "reference": a.reference,
            "hypothesis": a.last_hypothesis,
            "errors": a.errors,
            "units": a.units,
            "sessions": a.sessions,
            "rate": a.rate,
        }
        for a in sorted(stats.accuracy.values(), key=lambda a: a.utterance_id)
    ]
    return {
        "pooled_wer": stats.pooled_error_rate("wer"),
        "pooled_cer": stats.pooled_error_rate("cer"),
        "utterances": rows,
    }


def build_summary(
    *,
    stats: RunStats,
    slo: SLO,
    verdicts: Sequence[Verdict],
    settings: Mapping[str, Any],
    apikey: str | None = None,
    started_at: dt.datetime | None = None,
    ended_at: dt.datetime | None = None,
    timeseries: Sequence[Mapping[str, Any]] = (),
    capacity: Mapping[str, Any] | None = None,
    interrupted: bool = False,
    locust_html: str | None = None,
    code: int | None = None,
    exit_meaning: str | None = None,
) -> dict[str, Any]:
    """Everything the run produced, JSON-able, with the key redacted.

    ``code`` is the gate's exit code when it is not the verdicts' own (a capacity run).
    """
    ended = ended_at or dt.datetime.now(dt.UTC)
    code = exit_code(verdicts) if code is None else code
    lateness = stats.histograms["send_lateness"]
    summary: dict[str, Any] = {
        "schema": SCHEMA,
        "started_at": started_at.isoformat() if started_at else None,
        "ended_at": ended.isoformat(),
        "duration_s": (ended - started_at).total_seconds() if started_at else None,
        "interrupted": interrupted,
        "settings": redacted_settings(settings, apikey),
        "slo": slo.settings(),
        "gated": slo.gated,
        "passed": code == 0,
        "exit_code": code,
        "exit_meaning": exit_meaning or EXIT_CODES[code],
        "verdicts": [v.to_dict() for v in verdicts],
        "sessions": stats.sessions,
        "sessions_ok": stats.sessions_ok,
        "error_ratio": stats.error_ratio,
        "failures": {k: stats.failures.get(k, 0) for k in FAILURE_KINDS}
        | {k: n for k, n in stats.failures.items() if k not in FAILURE_KINDS},
        "percentiles": percentile_table(stats),
        "distribution": {n: distribution(h) for n, h in stats.histograms.items()},
        "accuracy": accuracy_section(stats),
        "harness_health": {
            "lateness_bound_ms": slo.lateness_bound_ms,
            "send_lateness": lateness.summary(),
            "p99_send_lateness_ms": lateness_p99(stats),
            "saturated": is_saturated(stats, slo.lateness_bound_ms),
        },
        "timeseries": list(timeseries),
        "capacity": dict(capacity) if capacity else None,
        "locust_html": locust_html,
    }
    # No value anywhere (hypotheses, failure details, paths) may carry the key.
    return redact_values(json.loads(json.dumps(summary)), apikey)


def redact_values(node: Any, secret: str | None) -> Any:
    """``node`` with ``secret`` removed from every string value (``Redactor.value``)."""
    return Redactor([secret]).value(node) if secret else node


# -- HTML -------------------------------------------------------------------------------
_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ccc;padding-bottom:2px;
margin-top:28px}table{border-collapse:collapse;margin:8px 0}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f3f3f3}
.pass{color:#06702a;font-weight:600}.fail{color:#b00020;font-weight:600}
.badge{display:inline-block;padding:4px 10px;border-radius:4px;color:#fff}
.badge.pass{background:#06702a}.badge.fail{background:#b00020}
svg.chart{font:11px sans-serif;margin:6px 12px 6px 0}svg .t{font-size:13px;font-weight:600}
.muted{color:#777}td.text{max-width:420px;white-space:pre-wrap}
"""


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


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], cls: str = "") -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><tr>{head}</tr>{body}</table>'


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
    for p, label in ((0, "0%"), (90, "90%"), (99, "99%"), (99.9, "99.9%"), (99.99, "99.99%"))
]


def _settings_html(s: Mapping[str, Any]) -> str:
    rows = [[f"<td>{escape(k)}</td>", f"<td>{_num(v)}</td>"] for k, v in s["settings"].items()]
    return _table(["setting", "value"], rows) if rows else '<p class="muted">none recorded</p>'


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
        else (
            '<p class="muted">No SLO threshold configured: only run completion and harness '
            "health are gated.</p>"
        )
    )
    return note + _table(["SLO", "threshold", "measured", "verdict", "reason"], rows)


def _percentiles_html(s: Mapping[str, Any]) -> str:
    cols = ["count", "p50", "p90", "p95", "p99", "max"]
    rows = []
    for name, row in s["percentiles"].items():
        rows.append(
            [f"<td>{escape(name)}</td>"]
            + [_td(row.get(c), 2) for c in cols]
            + [f"<td>{escape(METRICS.get(name, ''))}</td>"]
        )
    return "<p>Milliseconds, from full-resolution HdrHistograms (3 significant digits).</p>" + (
        _table(["metric", *cols, "what"], rows)
    )


def _distribution_html(s: Mapping[str, Any]) -> str:
    charts = []
    for name in (*LATENCY_METRICS, "send_lateness"):
        points = s["distribution"].get(name) or []
        charts.append(
            line_chart(
                [(name, [(_nines(p), v) for p, v in points])],
                title=f"{name} latency by percentile ({s['percentiles'][name]['count']} samples)",
                x_label="percentile",
                y_label="ms",
                x_ticks=_NINES_TICKS,
                width=520,
                height=240,
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
    users = line_chart(
        [("users", _series(rows, "users"))],
        title="users over time",
        x_label="s since start",
        y_label="users",
        step=True,
    )
    lat = line_chart(
        [
            ("first_partial p50", _series(rows, "first_partial", "p50")),
            ("first_partial p95", _series(rows, "first_partial", "p95")),
            ("sentence p95", _series(rows, "sentence", "p95")),
            ("close p95", _series(rows, "close", "p95")),
        ],
        title="latency over time (per interval)",
        x_label="s since start",
        y_label="ms",
    )
    health = line_chart(
        [("send lateness p99", _series(rows, "send_lateness", "p99"))],
        title="send lateness over time (per interval)",
        x_label="s since start",
        y_label="ms",
    )
    return users + "\n" + lat + "\n" + health


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
    rows = []
    for st in cap.get("steps", []):
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
    table = _table(
        [
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
        ],
        rows,
    )
    chart = line_chart(
        [
            (
                "first_partial p95",
                [
                    (st["users"], st["first_partial"]["p95"])
                    for st in cap.get("steps", [])
                    if st.get("first_partial", {}).get("p95") is not None
                ],
            ),
            (
                "sentence p95",
                [
                    (st["users"], st["sentence"]["p95"])
                    for st in cap.get("steps", [])
                    if st.get("sentence", {}).get("p95") is not None
                ],
            ),
        ],
        title="p95 latency per step",
        x_label="users",
        y_label="ms",
    )
    return head + table + chart


def _accuracy_html(s: Mapping[str, Any]) -> str:
    acc = s["accuracy"]
    rows = [
        [
            f"<td>{escape(a['utterance_id'])}</td>",
            f"<td>{escape(a['lang'])}</td>",
            f"<td>{escape(a['metric'].upper())}</td>",
            _td(a["rate"], 3),
            _td(a["sessions"]),
            f'<td class="text">{escape(a["reference"])}</td>',
            f'<td class="text">{escape(a["hypothesis"])}</td>',
        ]
        for a in acc["utterances"]
    ]
    pooled = (
        f"<p>Pooled WER {_num(acc['pooled_wer'], 3)}, pooled CER {_num(acc['pooled_cer'], 3)}"
        " (errors over reference units, every session).</p>"
    )
    if not rows:
        return pooled + '<p class="muted">No utterance scored.</p>'
    return pooled + _table(
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
    return (
        verdict + "<p>Send lateness: actual minus scheduled send time of every frame.</p>" + (table)
    )


def _failures_html(s: Mapping[str, Any]) -> str:
    rows = [
        [f"<td>{escape(k)}</td>", _td(n), f"<td>{escape(FAILURE_KINDS.get(k, ''))}</td>"]
        for k, n in s["failures"].items()
    ]
    head = (
        f"<p>{s['sessions_ok']} session(s) completed, error ratio {_num(s['error_ratio'], 4)}.</p>"
    )
    return head + _table(["failure", "sessions", "meaning"], rows)


def render_html(summary: Mapping[str, Any]) -> str:
    """The self-contained report page for one summary."""
    s = summary
    badge_cls = "pass" if s["passed"] else "fail"
    title = f"asrx load report {escape(s['ended_at'])}"
    locust_link = (
        f'<p>Locust\'s own report: <a href="{escape(Path(s["locust_html"]).name)}">'
        f"{escape(s['locust_html'])}</a></p>"
        if s.get("locust_html")
        else ""
    )
    interrupted = '<p class="fail">The run was interrupted.</p>' if s.get("interrupted") else ""
    duration = s.get("duration_s")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{title}</title><style>{_CSS}</style></head><body>",
        f"<h1>{title}</h1>",
        f'<p><span class="badge {badge_cls}">{"PASS" if s["passed"] else "FAIL"}</span> '
        f"exit code {s['exit_code']}: {escape(s['exit_meaning'])}. "
        f"Started {escape(str(s.get('started_at')))}, duration "
        f"{_num(duration)} s.</p>",
        interrupted,
        locust_link,
        _section("verdicts", "SLO verdicts", _verdicts_html(s)),
        _section("percentiles", "Latency percentiles", _percentiles_html(s)),
        _section("distribution", "Latency distributions", _distribution_html(s)),
        _section("over-time", "Users and latency over time", _over_time_html(s)),
        _section("capacity", "Capacity steps", _capacity_html(s)),
        _section("accuracy", "Accuracy per utterance", _accuracy_html(s)),
        _section("health", "Harness health", _health_html(s)),
        _section("failures", "Failures", _failures_html(s)),
        _section("settings", "Run settings", _settings_html(s)),
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p)


def write_reports(
    summary: Mapping[str, Any], report_dir: Path, stamp: str, apikey: str | None = None
) -> tuple[Path, Path]:
    """Write the summary JSON and HTML (timestamped and stable names); return both paths."""
    report_dir.mkdir(parents=True, exist_ok=True)
    clean = redact_values(summary, apikey)
    text = json.dumps(clean, indent=2, ensure_ascii=False) + "\n"
    page = render_html(clean)
    json_path = report_dir / f"asrx-summary-{stamp}.json"
    html_path = report_dir / f"asrx-report-{stamp}.html"
    for path, content in (
        (json_path, text),
        (html_path, page),
        (report_dir / "asrx-summary.json", text),
        (report_dir / "asrx-report.html", page),
    ):
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(content, encoding="utf-8")
        tmp.replace(path)
    return json_path, html_path
