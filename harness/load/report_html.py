"""The HTML pieces the load report is built of: its style sheet, cells and tables.

Every text a piece writes goes through ``html.escape``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Any

CSS = """
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


def num(v: Any, digits: int = 1) -> str:
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


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def td(v: Any, digits: int = 1) -> str:
    numeric = isinstance(v, int | float) and not isinstance(v, bool)
    return f'<td class="n">{num(v, digits)}</td>' if numeric else f"<td>{num(v)}</td>"


def ok(passed: bool) -> str:
    return '<td class="pass">pass</td>' if passed else '<td class="fail">FAIL</td>'


def section(ident: str, title: str, body: str) -> str:
    return f'<section id="{ident}"><h2>{escape(title)}</h2>\n{body}\n</section>'
