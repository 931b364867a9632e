"""The self-contained HTML report of a conformance run (``--asrx-report PATH``).

One file, inline CSS, no script and no external resource: it opens offline. Each check
shows its grade (OK, NON-STRICT, FAILED, SKIPPED, ERROR), the PROTOCOL.md rules it
enforces and, for anything but OK, what was expected and what was seen.
"""

from __future__ import annotations

import html
import time
from collections import Counter
from pathlib import Path
from typing import Any

from harness.conformance.grading import PROP_NON_STRICT, PROP_RULE
from harness.protocol.rules import describe

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.4em}table{border-collapse:collapse;width:100%}
td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}
th{background:#f4f4f4}.OK{background:#dff5df}.NON-STRICT{background:#fff4cc}
.FAILED,.ERROR{background:#fbdada}.SKIPPED{background:#eee}
pre{white-space:pre-wrap;margin:0;font-size:12px}.summary span{margin-right:1.5em}
"""


def grade_of(result: dict[str, Any]) -> str:
    if result["outcome"] == "skipped":
        return "SKIPPED"
    if result["outcome"] == "failed":
        return "FAILED" if result["when"] == "call" else "ERROR"
    if any(k == PROP_NON_STRICT for k, _ in result["properties"]):
        return "NON-STRICT"
    return "OK"


def render(results: list[dict[str, Any]], *, target: str, strict: bool, started: float) -> str:
    rows = []
    # A test may report a setup error and a teardown error: keep the worst, in order.
    by_id: dict[str, dict[str, Any]] = {}
    for r in results:
        if r["nodeid"] not in by_id or r["outcome"] == "failed":
            by_id[r["nodeid"]] = r
    counts: Counter[str] = Counter()
    for r in by_id.values():
        grade = grade_of(r)
        counts[grade] += 1
        rules = [v for k, v in r["properties"] if k == PROP_RULE]
        notes = [v for k, v in r["properties"] if k == PROP_NON_STRICT]
        detail = r["message"] if grade in ("FAILED", "ERROR", "SKIPPED") else "\n".join(notes)
        rows.append(
            f'<tr class="{grade}"><td>{grade}</td><td>{html.escape(r["nodeid"])}</td>'
            f"<td>{'<br>'.join(html.escape(describe(x)) for x in rules)}</td>"
            f"<td>{r['duration']:.2f} s</td><td><pre>{html.escape(detail)}</pre></td></tr>"
        )
    summary = "".join(
        f"<span>{g}: {counts[g]}</span>" for g in ("OK", "NON-STRICT", "FAILED", "ERROR", "SKIPPED")
    )
    when = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(started))
    mode = "strict" if strict else "lenient (NON-STRICT results pass)"
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f"<title>asrx conformance: {html.escape(target)}</title><style>{_CSS}</style></head>"
        f"<body><h1>asrx conformance report</h1><p>Target: <code>{html.escape(target)}</code>"
        f"<br>Grading: {mode}<br>Started: {when}, took {time.time() - started:.1f} s</p>"
        f'<p class="summary">{summary}</p><table><tr><th>grade</th><th>check</th>'
        f"<th>PROTOCOL.md rules</th><th>time</th><th>expected / seen</th></tr>"
        + "".join(rows)
        + "</table></body></html>\n"
    )


def write_report(path: Path, results: list[dict[str, Any]], **meta: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(results, **meta), encoding="utf-8")
