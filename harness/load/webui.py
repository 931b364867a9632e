"""The asrx tab in Locust's web UI, and the pages it links.

Locust lets a locustfile add Flask routes and tabs to its web UI
(``environment.web_ui.template_args``: ``extended_tabs``, ``extended_tables``,
``extended_csv_files``; the ``extended_stats`` of ``/stats/requests`` fill the tab). The
asrx tab shows, live, the full-resolution percentiles the gate will judge (connect, first
partial, sentence, close, word UPL and finalization, send lateness), the sessions completed
and failed, the timed words and how many were missed, and the verdict of the last judged
run. Routes:

- ``/asrx``: a page of its own with the same figures, the failures with sampled messages,
  the verdict and a link to the report (refreshes itself every few seconds);
- ``/asrx/status.json``: the same as JSON (for scripts and tests);
- ``/asrx/report``: the HTML report of the last judged run (also in "Download Data").

Every figure comes from ``harness.load.runstate.run_stats``, so Locust's Reset (which
clears the asrx statistics too) and a new run start the tab from zero.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from flask import Blueprint, Response, request
from locust.env import Environment

from harness.load.runstate import run_stats
from harness.load.stats import METRICS, TIMED_STATUSES, RunStats

TAB = "asrx"
REFRESH_S = 3
_COLUMNS = ("count", "p50", "p95", "p99", "max")


def last_judged(environment: Environment) -> Any:
    """The gate's ``JudgedRun`` of the last judged run, or None (``harness.load.gate``
    keeps its state on the environment and installs this module)."""
    gate = getattr(environment, "asrx_gate", None)
    return getattr(gate, "last", None)


def _ms(v: float | None) -> str:
    return "" if v is None else f"{v:.1f}"


def latency_rows(stats: RunStats) -> list[dict[str, Any]]:
    rows = []
    for name in METRICS:
        h = stats.histograms[name]
        rows.append(
            {
                "row": name,
                "count": h.count,
                "p50": _ms(h.percentile(50)),
                "p95": _ms(h.percentile(95)),
                "p99": _ms(h.percentile(99)),
                "max": _ms(h.max),
                "note": METRICS[name].description,
            }
        )
    return rows


def status(environment: Environment) -> dict[str, Any]:
    """What the tab and the page show, as JSON."""
    stats = run_stats(environment)
    last = last_judged(environment)
    runner = environment.runner
    return {
        "state": runner.state if runner is not None else None,
        "sessions_ok": stats.sessions_ok,
        "sessions_failed": stats.failed,
        "failures": dict(stats.failures),
        "failure_messages": {k: dict(v) for k, v in stats.failure_messages.items()},
        "latencies": {r["row"]: {c: r[c] for c in _COLUMNS} for r in latency_rows(stats)},
        "words": dict(stats.words),
        "missed_word_ratio": stats.word_ratio("missed"),
        "verdict": None
        if last is None
        else {
            "passed": last.passed,
            "exit_code": last.code,
            "headline": last.headline,
            "ended_at": last.ended_at.isoformat(),
            "report": "asrx/report",
            "summary": str(last.summary_path),
        },
    }


def words_row(
    environment: Environment, words: dict[str, int], missed: float | None
) -> dict[str, Any]:
    """The reference words of the completed sessions: how many were timed, and missed."""
    from harness.load.gate import embedded_engine  # the gate installs this module
    from harness.load.report import NON_RECOGNIZING_ENGINES

    timed = sum(words.get(k, 0) for k in TIMED_STATUSES)
    why_not = NON_RECOGNIZING_ENGINES.get(embedded_engine(environment) or "")
    if why_not:
        note = f"word latency not applicable: {why_not}"
    elif not timed:
        note = "no timed word yet (word latencies need a corpus with word timings)"
    else:
        note = f"{words.get('missed', 0)} missed ({missed or 0:.1%}), {words.get('lost', 0)} lost"
    return {"row": "timed words", "count": timed, "note": note}


def tab_rows(environment: Environment) -> list[dict[str, Any]]:
    """The rows of the asrx tab: the last verdict, the sessions, then the latencies.

    Locust's table sorts its rows by their ``name`` field, which the tab does not show: it
    holds the order, ``row`` the label.
    """
    s = status(environment)
    v = s["verdict"]
    note = (
        "judged when the run stops"
        if v is None
        else f"{'PASS' if v['passed'] else 'FAIL'} (exit {v['exit_code']}): {v['headline']}; "
        "the report: Download Data > asrx report, or the page /asrx"
    )
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(s["failures"].items())) or "none failed"
    rows = [
        {"row": "verdict", "note": note},
        {"row": "sessions", "count": s["sessions_ok"] + s["sessions_failed"], "note": kinds},
        *latency_rows(run_stats(environment)),
        words_row(environment, s["words"], s["missed_word_ratio"]),
    ]
    for i, row in enumerate(rows):
        row["name"] = f"{i:02d}"
    return rows


def _page(environment: Environment) -> str:
    s = status(environment)
    v = s["verdict"]
    if v is None:
        verdict = '<p class="muted">No verdict yet: the run is judged when it stops.</p>'
    else:
        cls, word = ("pass", "PASS") if v["passed"] else ("fail", "FAIL")
        verdict = (
            f'<div class="banner {cls}"><span class="badge {cls}">{word}</span> '
            f"{escape(v['headline'])} (exit {v['exit_code']}, {escape(v['ended_at'])}) "
            f'<a href="asrx/report">open the report</a></div>'
        )
    head = "".join(f"<th>{c}</th>" for c in ("metric", *_COLUMNS, "what"))
    body = "".join(
        f"<tr><td>{escape(r['row'])}</td>"
        + "".join(f'<td class="n">{escape(str(r[c]))}</td>' for c in _COLUMNS)
        + f"<td>{escape(r['note'])}</td></tr>"
        for r in latency_rows(run_stats(environment))
    )
    failures = "".join(
        f"<li><b>{escape(kind)}</b> × {n}<ul>"
        + "".join(
            f"<li><code>{escape(m)}</code> × {c}</li>"
            for m, c in s["failure_messages"].get(kind, {}).items()
        )
        + "</ul></li>"
        for kind, n in sorted(s["failures"].items())
    )
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="{REFRESH_S}"><title>asrx: live</title><style>
body{{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#222;max-width:1000px}}
table{{border-collapse:collapse}}th,td{{border:1px solid #ccc;padding:3px 8px}}
th{{background:#f3f3f3}}td.n{{text-align:right;font-variant-numeric:tabular-nums}}
.banner{{border:2px solid;border-radius:6px;padding:10px 14px;margin:12px 0}}
.banner.pass{{border-color:#06702a;background:#eef8f0}}
.banner.fail{{border-color:#b00020;background:#fdeef0}}
.badge{{color:#fff;padding:2px 10px;border-radius:4px;font-weight:700}}
.badge.pass{{background:#06702a}}.badge.fail{{background:#b00020}}.muted{{color:#777}}
</style></head><body><h1>asrx live figures (run {escape(str(s["state"]))})</h1>{verdict}
<p>{s["sessions_ok"]} session(s) completed, {s["sessions_failed"]} failed.
Latencies in ms, full resolution, from completed sessions only.
<a href="./">Back to Locust</a></p>
<table><tr>{head}</tr>{body}</table>
<h2>Failures</h2>{f"<ul>{failures}</ul>" if failures else '<p class="muted">none</p>'}
</body></html>"""


def install(environment: Environment) -> None:
    """Add the asrx tab and routes to the web UI (no-op without one)."""
    web_ui = environment.web_ui
    if web_ui is None or web_ui.app is None:
        return
    app = web_ui.app
    web_ui.template_args.update(
        extended_tabs=[{"title": "asrx", "key": TAB}],
        extended_tables=[
            {
                "key": TAB,
                "structure": [
                    {"key": "row", "title": "asrx"},
                    *({"key": c, "title": c if c == "count" else f"{c} ms"} for c in _COLUMNS),
                    {"key": "note", "title": "what / verdict"},
                ],
            }
        ],
        extended_csv_files=[
            {"href": "./asrx/report", "title": "asrx report (last judged run)"},
            {"href": "./asrx", "title": "asrx live page"},
        ],
    )
    prefix = getattr(environment.parsed_options, "web_base_path", None) or None
    blueprint = Blueprint("asrx", __name__, url_prefix=prefix)
    auth = web_ui.auth_required_if_enabled

    @blueprint.route("/asrx")
    @auth
    def page() -> Response:
        return Response(_page(environment), mimetype="text/html")

    @blueprint.route("/asrx/status.json")
    @auth
    def status_json() -> Response:
        return Response(json.dumps(status(environment)), mimetype="application/json")

    @blueprint.route("/asrx/report")
    @auth
    def last_report() -> Response:
        last = last_judged(environment)
        if last is None or not last.report_path.is_file():
            return Response("no asrx report yet: a run is judged when it stops\n", 404)
        page = last.report_path.read_text(encoding="utf-8")
        return Response(page, mimetype="text/html")

    app.register_blueprint(blueprint)

    @app.after_request
    def extend_stats(response: Response) -> Response:
        if not request.path.endswith("/stats/requests") or not response.is_json:
            return response
        data = response.get_json()
        if isinstance(data, dict):
            data["extended_stats"] = [{"key": TAB, "data": tab_rows(environment)}]
            response.set_data(json.dumps(data))
        return response
