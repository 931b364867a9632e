"""The HTML report page, rendered from a run summary alone (``harness.load.report``).

One self-contained page: styles inline, charts inline SVG (``harness.load.svgplot``), no
script, no external reference, so it opens offline and as a CI artefact. It reads top
down the way a reviewer asks: did it pass and why (the banner: verdict, the deciding
check, what was tested), which checks, which failures and what they said, which protocol
rules broke; then the figures. Every text comes escaped (``html.escape``); server text was
made printable before it reached the summary.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import Any

from harness.compare.page import comparison_section, trend_section
from harness.load.report_charts import capacity_html, distribution_html, over_time_html
from harness.load.report_html import CSS, num, ok, section, table, td
from harness.load.report_words import words_html

_SECTIONS = (
    ("verdicts", "Checks"),
    ("comparison", "Against the baseline"),
    ("failures", "Failures"),
    ("findings", "Protocol findings"),
    ("percentiles", "Latency percentiles"),
    ("distribution", "Latency distributions"),
    ("over-time", "Users and latency over time"),
    ("trend", "Trend across runs"),
    ("words", "Words: user-perceived latency"),
    ("capacity", "Capacity steps"),
    ("accuracy", "Accuracy"),
    ("health", "Harness health"),
    ("settings", "Run settings"),
)


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
    ratio = num(s["error_ratio"], 4)
    sessions = f"{s['sessions_ok']} completed, {failed} failed (error ratio {ratio})"
    facts = [
        ("Target", _target_text(s.get("target") or {})),
        ("Sessions", sessions),
        ("Started", escape(str(s.get("started_at") or "-"))),
        ("Duration", f"{num(s.get('duration_s'))} s"),
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
            td(v["threshold"], 3),
            td(v["measured"], 3),
            ok(v["passed"]),
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
    return note + table(["check", "threshold", "measured", "verdict", "reason"], rows)


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
                td(r["sessions"]),
                f'<td class="text">{escape(r["meaning"])}</td>',
                f'<td class="text"><ul class="msgs">{msgs}</ul></td>',
            ]
        )
    return table(["failure", "sessions", "meaning", "sampled messages"], out)


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
            td(r["sessions"]),
            f'<td class="text">{escape(r["text"])}</td>',
        ]
        for r in rows
    ]
    return (
        "<p>Rules of the asrx protocol (docs/protocol.md) the server broke, by the number of "
        "sessions. NON-STRICT findings do not fail a session.</p>"
        + table(["rule", "grade", "sessions", "rule text"], out)
    )


def _percentiles_html(s: Mapping[str, Any]) -> str:
    cols = ["count", "p50", "p90", "p95", "p99", "max"]
    what = s.get("metrics") or {}
    rows = [
        [f"<td>{escape(name)}</td>"]
        + [td(row.get(c), 2) for c in cols]
        + [f"<td>{escape(what.get(name, ''))}</td>"]
        for name, row in s["percentiles"].items()
    ]
    mismatched = s.get("segmentation_mismatches") or 0
    note = (
        f'<p class="muted">In {mismatched} of {s["sessions_ok"]} completed sessions the '
        "server cut a different number of sentences than the corpus has speech segments: "
        "lawful, but those sessions give no sentence latency (docs/protocol.md#latencies); "
        "word latency does not depend on where sentences end.</p>"
        if mismatched
        else ""
    )
    return (
        "<p>Milliseconds, from full-resolution HdrHistograms (3 significant digits). Only "
        "sessions that completed without failing give latencies.</p>"
        + table(["metric", *cols, "what"], rows)
        + note
    )


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
            f"<p>Pooled WER {num(acc['pooled_wer'], 3)}, pooled CER {num(acc['pooled_cer'], 3)}"
            " (errors over reference units, every completed session).</p>"
        )
        rate = ""
    rows = [
        [
            f"<td>{escape(a['utterance_id'])}</td>",
            f"<td>{escape(a['lang'])}</td>",
            f"<td>{escape(a['metric'].upper())}</td>",
            f'<td class="n muted">{rate}</td>' if rate else td(a["rate"], 3),
            td(a["sessions"]),
            f'<td class="text">{escape(a["reference"])}</td>',
            f'<td class="text">{escape(a["hypothesis"])}</td>',
        ]
        for a in acc["utterances"]
    ]
    if not rows:
        return head + '<p class="muted">No utterance scored (no session completed).</p>'
    return head + table(
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
    figures = table(
        ["bound ms", *cols], [[td(h["lateness_bound_ms"], 1)] + [td(lat.get(c), 3) for c in cols]]
    )
    what = "<p>Send lateness: actual minus scheduled send time of every frame.</p>"
    return verdict + what + figures


def _settings_html(s: Mapping[str, Any]) -> str:
    rows = [[f"<td>{escape(k)}</td>", f"<td>{num(v)}</td>"] for k, v in s["settings"].items()]
    if not rows:
        return '<p class="muted">none recorded</p>'
    listing = table(["setting", "value"], rows)
    return f"<details><summary>{len(rows)} settings</summary>{listing}</details>"


_RENDER = {
    "verdicts": _verdicts_html,
    "comparison": comparison_section,
    "failures": _failures_html,
    "findings": _findings_html,
    "percentiles": _percentiles_html,
    "distribution": distribution_html,
    "over-time": over_time_html,
    "trend": trend_section,
    "words": words_html,
    "capacity": capacity_html,
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
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        "<h1>asrx load report</h1>",
        _banner(s),
        f"<nav>{nav}</nav>",
        *(section(ident, name, _RENDER[ident](s)) for ident, name in _SECTIONS),
        "</body></html>",
    ]
    return "\n".join(parts)
