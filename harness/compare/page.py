"""The comparison as HTML: a page of its own (``asrx compare --html``) and the sections of a
load report (``--asrx-baseline``, ``--asrx-history``).

Rendered from the comparison's dict alone (``Comparison.to_dict``), so a report
re-rendered from its summary shows the same. Self-contained like the load report: its
style sheet, cells and inline-SVG charts (``harness.load.report_html``,
``harness.load.svgplot``), no script. Each latency's baseline and current percentile
curves are overlaid on one chart; every text is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from harness.compare.verdicts import (
    IMPROVED_V,
    NO_CHANGE_V,
    NOT_COMPARABLE_V,
    NOT_MEASURED_V,
    REGRESSED_V,
    WITHIN_V,
)
from harness.load.report_charts import percentile_chart
from harness.load.report_html import CSS, num, table, td
from harness.load.svgplot import line_chart

#: The CSS class each verdict is shown in.
VERDICT_CLASS = {
    REGRESSED_V: "fail",
    NOT_COMPARABLE_V: "fail",
    IMPROVED_V: "pass",
    WITHIN_V: "muted",
    NO_CHANGE_V: "",
    NOT_MEASURED_V: "muted",
}
_EXTRA_CSS = "td.v,td.n{white-space:nowrap}"


def _verdict(v: str) -> str:
    return f'<td class="v {VERDICT_CLASS.get(v, "")}">{escape(v)}</td>'


def _signed(v: Any, unit: str) -> str:
    if not isinstance(v, int | float):
        return num(None)
    return escape(f"{v:+.4g}" + (" ms" if unit == "ms" else ""))


def _run_facts(c: Mapping[str, Any]) -> str:
    def corpus(ident: Mapping[str, Any]) -> str:
        cor = ident.get("corpus") or {}
        ids = cor.get("utterances")
        return f"{cor.get('name') or '-'}" + (f" ({len(ids)} utterances)" if ids else "")

    def target(ident: Mapping[str, Any]) -> str:
        t = ident.get("target") or {}
        engine = t.get("embedded_engine")
        return f"embedded ({engine})" if engine else str(t.get("url") or "-")

    facts = (
        ("file", lambda r: r.get("path")),
        ("started", lambda r: r.get("started_at")),
        ("target", lambda r: target(r["identity"])),
        ("corpus", lambda r: corpus(r["identity"])),
        ("users", lambda r: r["identity"].get("users")),
        ("duration s", lambda r: r["identity"].get("duration_s")),
        ("frame bytes", lambda r: r["identity"].get("frame_bytes")),
        ("speed", lambda r: r["identity"].get("speed")),
        ("harness", lambda r: r["identity"].get("harness_version")),
        ("its own verdict", lambda r: r.get("headline")),
    )
    rows = [
        [f"<th>{escape(label)}</th>", td(get(c["baseline"])), td(get(c["current"]))]
        for label, get in facts
    ]
    return table(["", "baseline", "current"], rows)


def _verdict_table(metrics: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for m in metrics:
        changes = m["changes"] or [None]
        for i, ch in enumerate(changes):
            head = []
            if i == 0:
                span = f' rowspan="{len(changes)}"'
                gates = "" if m["gates"] else '<br><span class="muted">(does not gate)</span>'
                unit = f" ({m['unit']})" if m["unit"] == "ms" else ""
                head = [f"<td{span}><b>{escape(m['metric'])}</b>{unit}{gates}</td>"]
            if ch is None:
                rows.append([*head, f'<td colspan="6" class="muted">{escape(m["reason"])}</td>'])
                rows[-1].append(_verdict(m["verdict"]))
                continue
            unit = m["unit"]
            base = ch["baseline"]
            rel = f"({ch['change'] / base:+.1%})" if base else ""
            interval = (
                f"{_signed(ch['low'], unit)} .. {_signed(ch['high'], unit)}"
                if ch["low"] is not None
                else '<span class="muted">too few samples</span>'
            )
            rows.append(
                [
                    *head,
                    f"<td>{escape(ch['figure'])}</td>",
                    td(base, 3),
                    td(ch["current"], 3),
                    f'<td class="n">{_signed(ch["change"], unit)} {escape(rel)}</td>',
                    f'<td class="n">{interval}</td>',
                    f'<td class="n">{_signed(ch["allowed"], "").lstrip("+")} '
                    f"({escape(ch['tolerance'])})</td>",
                    _verdict(ch["verdict"]),
                ]
            )
    headers = [
        "metric",
        "figure",
        "baseline",
        "current",
        "change",
        "interval",
        "allowed",
        "verdict",
    ]
    return table(headers, rows)


def _overlays(metrics: Sequence[Mapping[str, Any]]) -> str:
    charts = []
    for m in metrics:
        dist = m.get("distribution") or {}
        curves = [(run, dist.get(run) or []) for run in ("baseline", "current")]
        if not any(points for _, points in curves):
            continue
        charts.append(
            percentile_chart(curves, title=f"{m['metric']}: {m['verdict']}", x_label="percentile")
        )
    return "\n".join(charts)


def comparison_html(c: Mapping[str, Any]) -> str:
    """The comparison's body: verdict, the two runs, the table, the overlaid curves."""
    cls = "fail" if c["exit_code"] else "pass"
    parts = [
        f'<div class="banner {cls}"><span class="badge {cls}">{escape(c["verdict"].upper())}'
        f'</span><span class="headline">{escape(c["headline"])}</span></div>'
    ]
    lines = [*c["differences"], *c["allowed_differences"], *c["notes"]]
    if lines:
        items = "".join(f"<li>{escape(line)}</li>" for line in lines)
        parts.append(f"<ul>{items}</ul>")
    parts.append(_run_facts(c))
    parts.append(
        f"<p>Change = current minus baseline. A figure <b>regressed</b> when its "
        f"{c['confidence']:.0%} interval lies above 0 <i>and</i> the change exceeds what "
        "its tolerance allows; <b>within tolerance</b>: detectable but smaller; <b>no "
        "detectable change</b>: the interval holds 0. Intervals come from resampling each "
        "run's own samples (see the method under each metric's curves; docs/compare.md).</p>"
    )
    parts.append(_verdict_table(c["metrics"]))
    methods = sorted({m["method"] for m in c["metrics"] if m.get("method")})
    parts.append(
        '<p class="muted">Method: '
        + "; ".join(escape(x) for x in methods)
        + f"; {c['resamples']} resamples, seed {c['seed']}.</p>"
    )
    parts.append(
        "<p>Baseline and current percentile curves (each stops where its samples stop "
        "resolving):</p>" + _overlays(c["metrics"])
    )
    return "\n".join(parts)


def render_page(c: Mapping[str, Any]) -> str:
    """The self-contained comparison page."""
    title = f"asrx comparison: {c['verdict']}"
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{escape(title)}</title><style>{CSS}{_EXTRA_CSS}</style></head><body>",
            "<h1>asrx comparison: baseline against current</h1>",
            comparison_html(c),
            "</body></html>",
        ]
    )


def trend_html(history: Mapping[str, Any] | None) -> str:
    """p50 and p95 of every latency across the runs of ``--asrx-history`` (oldest first)."""
    if not history:
        return '<p class="muted">No history (--asrx-history DIR shows a trend across runs).</p>'
    runs = history["runs"]
    head = (
        f"<p>{len(runs)} runs from <code>{escape(history['dir'])}</code> comparable with this "
        "one, oldest first; the last point is this run.</p>"
    )
    skipped = history.get("skipped") or []
    if skipped:
        items = "".join(f"<li>{escape(s)}</li>" for s in skipped[:10])
        more = f"<li>{len(skipped) - 10} more</li>" if len(skipped) > 10 else ""
        head += (
            f"<details><summary>{len(skipped)} file(s) left out</summary>"
            f"<ul>{items}{more}</ul></details>"
        )
    ticks = [(float(i), str(i + 1)) for i in range(len(runs) - 1)] + [(len(runs) - 1.0, "this")]
    charts = []
    for name in history["metrics"]:
        series = [
            (
                f"{name} {p}",
                [
                    (float(i), float(v))
                    for i, r in enumerate(runs)
                    if isinstance(v := (r["metrics"].get(name) or {}).get(p), int | float)
                ],
            )
            for p in ("p50", "p95")
        ]
        charts.append(
            line_chart(
                series,
                title=f"{name} across runs",
                x_label="run (the table below dates them)",
                y_label="ms",
                x_ticks=ticks if len(ticks) <= 8 else None,
                width=520,
                height=240,
                markers=True,
            )
        )
    return head + "\n".join(charts) + _trend_table(runs, history["metrics"])


def _trend_table(runs: Sequence[Mapping[str, Any]], names: Sequence[str]) -> str:
    rows = []
    for i, r in enumerate(runs):
        last = i == len(runs) - 1
        cells = [
            f"<td>{'this run' if last else i + 1}</td>",
            f"<td>{escape(str(r.get('started_at') or '-')[:19].replace('T', ' '))}</td>",
            '<td class="pass">pass</td>' if r.get("passed") else '<td class="fail">FAIL</td>',
        ]
        for name in names:
            fig = r["metrics"].get(name) or {}
            cells += [td(fig.get("p50"), 1), td(fig.get("p95"), 1)]
        rows.append(cells)
    headers = ["run", "started", "gate"] + [f"{n} {p}" for n in names for p in ("p50", "p95")]
    return table(headers, rows)


def comparison_section(summary: Mapping[str, Any]) -> str:
    """The load report's section for ``--asrx-baseline`` (``summary["comparison"]``)."""
    c = summary.get("comparison")
    if not c:
        return (
            '<p class="muted">No baseline (--asrx-baseline FILE compares this run with an '
            "earlier one and gates on the regressions).</p>"
        )
    if "error" in c:
        return f'<p class="fail">Not compared: {escape(str(c["error"]))}</p>'
    return comparison_html(c)


def trend_section(summary: Mapping[str, Any]) -> str:
    """The load report's section for ``--asrx-history`` (``summary["history"]``)."""
    return trend_html(summary.get("history"))
