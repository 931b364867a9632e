"""The run summary (JSON, for machines) and the self-contained HTML report (for people).

``build_summary`` gathers everything a run produced into one JSON-able dict, its verdict
included (``passed``, ``exit_code``, ``headline``: the same the process exits with); the
HTML report is rendered from that dict alone (``harness.load.report_page``), so the two
always agree and a summary can be re-rendered later. Both go to ``reports/``
(``write_reports``) as ``asrx-summary-<timestamp>.json`` and
``asrx-report-<timestamp>.html`` plus the stable copies ``asrx-summary.json`` and
``asrx-report.html`` (the latest run).

Secrets: the summary is built through a ``harness.redaction.Redactor``: options whose name
says secret are masked, the target URL loses a key in its query, and no string value
anywhere (settings, failure messages, hypotheses) carries the key. Server text (failure
messages, hypotheses) is escaped (``printable``) before it is stored.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.compare.identity import run_identity
from harness.compare.record import histograms_section
from harness.load.outcome import MEANINGS as FAILURE_MEANINGS
from harness.load.report_page import render_html
from harness.load.report_words import words_section
from harness.load.slo import SLO
from harness.load.stats import METRICS, LatencyHistogram, RunStats
from harness.load.verdict import MEANINGS, Verdict, exit_code, is_saturated, lateness_p99
from harness.load.verdict import headline as verdict_headline
from harness.protocol.escape import printable
from harness.protocol.rules import RULES
from harness.redaction import Redactor

__all__ = ["build_summary", "render_html", "target_info", "timestamp", "write_reports"]

SCHEMA = "asrx-summary/2"
#: Percentiles sampled for the distribution curves (x axis: "nines").
CURVE_PERCENTILES = (0, 10, 25, 50, 75, 90, 95, 97.5, 99, 99.5, 99.9, 99.95, 99.99, 100)
#: Engines whose transcripts are not recognition: their WER/CER measures nothing.
NON_RECOGNIZING_ENGINES = {
    "synthetic": "the synthetic engine emits placeholder words, not recognized speech"
}
_FAILURE_MEANINGS = {kind.value: meaning for kind, meaning in FAILURE_MEANINGS.items()}


def timestamp(now: dt.datetime | None = None) -> str:
    """File-name timestamp, UTC, sortable: ``20261123T202621Z``."""
    return (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")


def target_info(url: str, embedded_engine: str | None) -> dict[str, Any]:
    """What was tested: the URL (without key) and, for the embedded server, its engine."""
    return {"url": url, "embedded_engine": embedded_engine}


def distribution(hist: LatencyHistogram) -> list[list[float]]:
    """[percentile, ms] points of the latency curve, only as far as the samples resolve.

    With n samples a percentile above 100 (1 - 1/n) is the maximum again: a curve drawn out
    to 99.99 % from 5 samples would show precision the run does not have. The last point
    is the maximum, placed at the last percentile the samples resolve.
    """
    n = hist.count
    if not n:
        return []
    resolved = 100.0 * (1.0 - 1.0 / n) if n > 1 else 0.0
    points = [
        [p, hist.h.get_value_at_percentile(p) / 1000.0] for p in CURVE_PERCENTILES if p < resolved
    ]
    points.append([resolved, hist.h.get_max_value() / 1000.0])
    return points


def percentile_table(stats: RunStats) -> dict[str, dict[str, float | int | None]]:
    table = {}
    for name, hist in stats.histograms.items():
        row = hist.summary()
        row["negative"] = hist.negative
        table[name] = row
    return table


def accuracy_section(stats: RunStats, engine: str | None) -> dict[str, Any]:
    rows = [
        {
            "utterance_id": a.utterance_id,
            "lang": a.lang,
            "metric": a.metric,
            "reference": a.reference,
            "hypothesis": printable(a.last_hypothesis),
            "errors": a.errors,
            "units": a.units,
            "sessions": a.sessions,
            "rate": a.rate,
        }
        for a in sorted(stats.accuracy.values(), key=lambda a: a.utterance_id)
    ]
    why_not = NON_RECOGNIZING_ENGINES.get(engine or "")
    return {
        "applicable": why_not is None,
        "note": f"not applicable: {why_not}" if why_not else "",
        "pooled_wer": stats.pooled_error_rate("wer"),
        "pooled_cer": stats.pooled_error_rate("cer"),
        "utterances": rows,
    }


def failures_section(stats: RunStats) -> list[dict[str, Any]]:
    """One row per failure kind that happened: count, meaning, sampled messages."""
    rows = []
    for kind, n in sorted(stats.failures.items(), key=lambda kv: -kv[1]):
        messages: Mapping[str, int] = stats.failure_messages.get(kind, {})
        rows.append(
            {
                "kind": kind,
                "sessions": n,
                "meaning": _FAILURE_MEANINGS.get(kind, ""),
                "messages": [
                    [printable(m), c] for m, c in sorted(messages.items(), key=lambda kv: -kv[1])
                ],
            }
        )
    return rows


def findings_section(stats: RunStats) -> list[dict[str, Any]]:
    """Rules the server broke, by the number of sessions; NON-STRICT ones marked."""
    rows = [
        {"rule": rule, "sessions": n, "non_strict": False, "text": RULES.get(rule, "")}
        for rule, n in sorted(stats.findings.items())
    ]
    rows += [
        {"rule": rule, "sessions": n, "non_strict": True, "text": RULES.get(rule, "")}
        for rule, n in sorted(stats.non_strict.items())
    ]
    return rows


def build_summary(
    *,
    stats: RunStats,
    slo: SLO,
    verdicts: Sequence[Verdict],
    settings: Mapping[str, Any],
    redactor: Redactor | None = None,
    target: Mapping[str, Any] | None = None,
    started_at: dt.datetime | None = None,
    ended_at: dt.datetime | None = None,
    timeseries: Sequence[Mapping[str, Any]] = (),
    capacity: Mapping[str, Any] | None = None,
    interrupted: bool = False,
    locust_html: str | None = None,
    code: int | None = None,
    headline: str | None = None,
) -> dict[str, Any]:
    """Everything the run produced, JSON-able, with the key redacted.

    ``code`` and ``headline`` are the gate's when they are not the verdicts' own (a
    capacity run, a run the harness stopped).
    """
    redactor = redactor or Redactor()
    target = dict(target or target_info("", None))
    ended = ended_at or dt.datetime.now(dt.UTC)
    code = exit_code(verdicts) if code is None else code
    lateness = stats.histograms["send_lateness"]
    plain = {
        name: value if value is None or isinstance(value, bool | int | float | list) else str(value)
        for name, value in sorted(settings.items())
    }
    summary: dict[str, Any] = {
        "schema": SCHEMA,
        "target": target,
        "started_at": started_at.isoformat() if started_at else None,
        "ended_at": ended.isoformat(),
        "duration_s": (ended - started_at).total_seconds() if started_at else None,
        "interrupted": interrupted,
        "passed": code == 0,
        "exit_code": code,
        "exit_meaning": MEANINGS.get(code, "failed"),
        "headline": headline or verdict_headline(verdicts, code),
        "slo": slo.settings(),
        "gated": slo.gated,
        "verdicts": [v.to_dict() for v in verdicts],
        "sessions": stats.sessions,
        "sessions_ok": stats.sessions_ok,
        "sessions_failed": stats.failed,
        "error_ratio": stats.error_ratio,
        "segmentation_mismatches": stats.segmentation_mismatches,
        "failures": failures_section(stats),
        "findings": findings_section(stats),
        "metrics": {name: m.description for name, m in METRICS.items()},
        "percentiles": percentile_table(stats),
        "distribution": {n: distribution(h) for n, h in stats.histograms.items()},
        "accuracy": accuracy_section(stats, target.get("embedded_engine")),
        "words": words_section(
            stats, NON_RECOGNIZING_ENGINES.get(target.get("embedded_engine") or "")
        ),
        "harness_health": {
            "lateness_bound_ms": slo.lateness_bound_ms,
            "send_lateness": lateness.summary(),
            "p99_send_lateness_ms": lateness_p99(stats),
            "saturated": is_saturated(stats, slo.lateness_bound_ms),
        },
        "timeseries": list(timeseries),
        # What a comparison with another run needs (harness.compare, docs/compare.md).
        "histograms": histograms_section(stats),
        "identity": run_identity(
            settings,
            target,
            (ended - started_at).total_seconds() if started_at else None,
            timeseries,
            is_saturated(stats, slo.lateness_bound_ms),
        ),
        "capacity": dict(capacity) if capacity else None,
        "locust_html": locust_html,
        "settings": redactor.options(plain),
    }
    # No value anywhere (hypotheses, failure details, paths) may carry the key.
    clean: dict[str, Any] = redactor.value(json.loads(json.dumps(summary)))
    return clean


def write_reports(summary: Mapping[str, Any], report_dir: Path, stamp: str) -> tuple[Path, Path]:
    """Write the summary JSON and HTML (timestamped and stable names); return both paths."""
    report_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(summary, indent=2, ensure_ascii=False) + "\n"
    page = render_html(summary)
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
