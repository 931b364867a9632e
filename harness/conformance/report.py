"""The conformance run's reports: the JSON result and the self-contained HTML page.

Both are written from the same redacted dict (``RunResult`` as a dict), so they cannot
disagree. The HTML is one file, inline CSS, no script and no external resource: it opens
offline from a CI artefact. It reads top down: the verdict banner (PASS, PASS with
NON-STRICT, FAIL, ERROR) with the target, suite version, date and duration; the failures,
grouped by rule with the checks affected and each finding on its own line (expected, seen,
and what else was seen); known deviations; NON-STRICT results; checks not judged or
skipped; every check, collapsed by module; and a glossary of the rules, each with its
in-page anchor and its section in docs/protocol.md.
"""

from __future__ import annotations

import html
from collections import defaultdict
from importlib import resources
from pathlib import Path
from typing import Any

from harness.conformance.results import GRADES
from harness.protocol.escape import printable, safe_json
from harness.protocol.rules import RULES, doc_anchor

#: When a rule's finding is NON-STRICT rather than FAILED (the checks decide; docs say why).
NON_STRICT_WHEN = {
    "1.auth-strict": "always NON-STRICT: a refusal other than HTTP 401/403",
    "1.auth-close": "NON-STRICT: closed in time with another code; FAILED: left open",
    "2.pacing": "NON-STRICT: a lawful refusal of audio faster than real time",
    "3.state": "NON-STRICT on the confirmation only",
    "3.state-allowed": "NON-STRICT on the confirmation only",
    "4.isolation": "NON-STRICT: the same sentences with a few words different",
}

#: Checks shown per rule, and 'seen' lines per expectation, before a disclosure.
CHECKS_SHOWN = 3
SEEN_SHOWN = 3

#: The report's style sheet (package data beside this module), inlined in every report.
_CSS = (resources.files(__package__) / "report.css").read_text(encoding="utf-8")


def write_report(path: Path, data: dict[str, Any], kind: str) -> None:
    """Write the JSON result (``kind`` "json") or the HTML report (``kind`` "html")."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = render(data) if kind == "html" else safe_json(data) + "\n"
    path.write_text(text, encoding="utf-8")


def e(value: object) -> str:
    """Text for HTML: control characters made visible, then markup escaped."""
    return html.escape(printable(str(value)), quote=True)


def rule_link(rule: str) -> str:
    return f'<a href="#rule-{e(rule)}">§{e(rule)}</a>'


def _findings(fs: list[dict[str, str]]) -> str:
    """A check's findings of one rule: each 'expected' once, then each 'seen' on its own
    line (the first few shown, the rest behind a disclosure)."""
    by_expected: dict[str, list[dict[str, str]]] = defaultdict(list)
    for f in fs:
        by_expected[f["expected"]].append(f)
    out = []
    for expected, group in by_expected.items():
        lines = [
            f"<li><code>{e(f['seen'])}</code>"
            + (f' <span class="t">({e(f["note"])})</span>' if f.get("note") else "")
            + "</li>"
            for f in group
        ]
        shown, more = _folded(lines, SEEN_SHOWN, "more", "<ul>{}</ul>")
        out.append(
            f'<div class="x"><span class="l">expected</span> <code>{e(expected)}</code></div>'
            f'<div class="x"><span class="l">seen</span>{shown}{more}</div>'
        )
    return "".join(out)


def _folded(items: list[str], first: int, more: str, wrap: str) -> tuple[str, str]:
    """The first ``first`` items in ``wrap`` (a format string), and the rest in ``wrap``
    behind a disclosure saying how many ``more`` (empty when there are none)."""
    shown = wrap.format("".join(items[:first]))
    if len(items) <= first:
        return shown, ""
    rest = wrap.format("".join(items[first:]))
    return shown, f"<details><summary>{len(items) - first} {more}</summary>{rest}</details>"


def _also(check: dict[str, Any]) -> str:
    seen = check.get("also_seen") or []
    if not seen:
        return ""
    items = "".join(
        f"<li>{rule_link(f['rule'])}: expected <code>{e(f['expected'])}</code>; "
        f"seen <code>{e(f['seen'])}</code></li>"
        for f in seen
    )
    return (
        f'<details class="also"><summary>also seen during this check, counted by other '
        f"checks ({len(seen)})</summary><ul>{items}</ul></details>"
    )


def _check_cell(c: dict[str, Any]) -> str:
    return (
        f'<td class="ck"><div class="mono">{e(c["id"])}</div>'
        f'<span class="t">{c["duration_s"]:.2f} s</span></td>'
    )


def _by_rule(data: dict[str, Any], grade: str, key: str, css: str, title: str, anchor: str) -> str:
    groups: dict[str, list[tuple[dict[str, Any], list[dict[str, str]]]]] = defaultdict(list)
    for c in data["checks"]:
        if c["grade"] != grade:
            continue
        per_rule: dict[str, list[dict[str, str]]] = defaultdict(list)
        for f in c[key]:
            per_rule[f["rule"]].append(f)
        for rule, fs in per_rule.items():
            groups[rule].append((c, fs))
    if not groups:
        return ""
    order = list(RULES)
    parts = [f'<h2 id="{anchor}">{title}</h2>']
    for rule in sorted(groups, key=lambda r: order.index(r) if r in order else len(order)):
        checks = groups[rule]
        rows = [f"<tr>{_check_cell(c)}<td>{_findings(fs)}{_also(c)}</td></tr>" for c, fs in checks]
        shown, more = _folded(rows, CHECKS_SHOWN, "more check(s)", '<table class="fx">{}</table>')
        table = shown + more
        parts.append(
            f'<div class="rule {css}"><h3>{rule_link(rule)} <span class="d">'
            f"{e(RULES.get(rule, 'unknown rule'))}</span> "
            f'<span class="t">{len(checks)} check(s)</span></h3>{table}</div>'
        )
    return "".join(parts)


def _errors(data: dict[str, Any]) -> str:
    rows = [c for c in data["checks"] if c["grade"] == "ERROR"]
    if not rows:
        return ""
    body = "".join(
        f'<tr>{_check_cell(c)}<td class="mono">{e(c["message"])}</td></tr>' for c in rows
    )
    return (
        '<h2 id="errors">Could not test</h2>'
        f'<div class="rule"><table class="fx">{body}</table></div>'
    )


def _unjudged(data: dict[str, Any]) -> str:
    rows = [c for c in data["checks"] if c["grade"] in ("NOT JUDGED", "SKIPPED")]
    if not rows:
        return ""
    body = "".join(
        f'<tr><td class="g g-{c["grade"].replace(" ", "-")}">{e(c["grade"])}</td>'
        f'<td class="mono">{e(c["id"])}</td><td>{e(c["message"])}</td>'
        f"<td>{_also(c)}</td></tr>"
        for c in rows
    )
    return (
        '<h2 id="skipped">Not judged and skipped</h2><table><tr><th>grade</th><th>check</th>'
        f"<th>why</th><th>context</th></tr>{body}</table>"
    )


def _deviations(data: dict[str, Any]) -> str:
    devs = data.get("deviations") or []
    if not devs:
        return ""
    rows = "".join(
        f"<tr><td>{d['index']}</td><td>{e(d['label'])}</td><td>{e(d['reason'])}</td>"
        f'<td>{e(d["expires"] or "")}</td><td class="g">{e(_status_text(d["status"]))}</td></tr>'
        for d in devs
    )
    return (
        f'<p class="note">Known-deviations file <code>{e(data["known_file"])}</code>:</p>'
        "<table><tr><th>#</th><th>deviation</th><th>reason</th><th>expires</th>"
        f"<th>status</th></tr>{rows}</table>"
    )


def _status_text(status: str) -> str:
    return {
        "known": "KNOWN: still deviates",
        "expired": "EXPIRED: fails again",
        "fixed": "FIXED: remove it from the file",
        "not exercised": "not exercised in this run",
    }.get(status, status)


def _all_checks(data: dict[str, Any]) -> str:
    modules: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in data["checks"]:
        modules[c["module"]].append(c)
    parts = [
        '<h2 id="checks">All checks</h2>',
        f'<p class="note">Times: {e(data["timing_note"])} Fixture setup in this run: '
        f"{data['setup_s']:.1f} s.</p>",
    ]
    for module, checks in modules.items():
        counts: dict[str, int] = defaultdict(int)
        for c in checks:
            counts[c["grade"]] += 1
        bad = any(c["grade"] in ("FAILED", "ERROR") for c in checks)
        summary = ", ".join(f"{n} {g}" for g, n in counts.items())
        rows = "".join(
            f'<tr><td class="g g-{c["grade"].replace(" ", "-")}">{e(c["grade"])}</td>'
            f'<td class="mono">{e(c["id"])}</td>'
            f"<td>{' '.join(rule_link(r) for r in c['rules'])}</td>"
            f"<td>{c['duration_s']:.2f} s</td></tr>"
            for c in checks
        )
        parts.append(
            f'<details class="mod"{" open" if bad else ""}><summary>{e(module)} '
            f'<span class="t">{len(checks)} checks: {e(summary)}</span></summary>'
            f"<table><tr><th>grade</th><th>check</th><th>rules</th><th>time</th></tr>"
            f"{rows}</table></details>"
        )
    return "".join(parts)


def _glossary(data: dict[str, Any]) -> str:
    used: dict[str, list[str]] = defaultdict(list)
    for c in data["checks"]:
        for r in c["rules"]:
            used[r].append(c["id"].split("[", 1)[0])
    rows = "".join(
        f'<tr id="rule-{e(rule)}"><td>§{e(rule)}</td><td>{e(text)}'
        f'<div class="t mono">{e(doc_anchor(rule))}</div></td>'
        f"<td>{e(NON_STRICT_WHEN.get(rule, 'FAILED when broken'))}</td>"
        f'<td class="mono">{e(", ".join(dict.fromkeys(used.get(rule, []))))}</td></tr>'
        for rule, text in RULES.items()
    )
    return (
        '<h2 id="rules">Rules</h2><p class="note">What each rule asks, how this suite grades '
        "it, and which checks enforce it. Each is explained, with what the public "
        "documentation says and why it is graded so, in the section of the harness's "
        "docs/protocol.md named under it.</p>"
        '<table class="gl"><tr><th>rule</th><th>meaning</th><th>graded</th>'
        f"<th>checks in this run</th></tr>{rows}</table>"
    )


def _failed_rules(data: dict[str, Any]) -> str:
    """The banner's second line: each failed rule (linked) with how many checks it failed."""
    per_rule: dict[str, int] = defaultdict(int)
    for c in data["checks"]:
        if c["grade"] == "FAILED":
            for rule in dict.fromkeys(f["rule"] for f in c["failing"]):
                per_rule[rule] += 1
    if not per_rule:
        return ""
    order = list(RULES)
    items = sorted(per_rule.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99)
    links = ", ".join(
        f'<a href="#rule-{e(r)}">§{e(r)}</a> ({n} check{"s" if n > 1 else ""})' for r, n in items
    )
    return f'<div class="r">failed rules: {links}</div>'


def render(data: dict[str, Any]) -> str:
    verdict = data["verdict"]
    counts: dict[str, int] = defaultdict(int)
    for c in data["checks"]:
        counts[c["grade"]] += 1
    count_text = " · ".join(f"{counts[g]} {g}" for g in GRADES if counts[g]) or "no check ran"
    if data.get("not_run"):
        count_text += f" · {data['not_run']} not run"
    error = f'<div class="e">{e(data["error"])}</div>' if data.get("error") else ""
    mode = (
        "strict"
        if data["strict"]
        else "lenient (NON-STRICT results pass; --asrx-strict fails them)"
    )
    known = (
        f"<tr><td>known deviations</td><td><code>{e(data['known_file'])}</code></td></tr>"
        if data.get("known_file")
        else ""
    )
    meta = (
        '<table class="meta">'
        f"<tr><td>target</td><td><code>{e(data['target'])}</code></td></tr>"
        f"<tr><td>suite</td><td>asrx-harness {e(data['suite_version'])}</td></tr>"
        f"<tr><td>started</td><td>{e(data['started'].replace('T', ' '))}</td></tr>"
        f"<tr><td>duration</td><td>{data['duration_s']:.1f} s</td></tr>"
        f"<tr><td>grading</td><td>{e(mode)}</td></tr>{known}</table>"
    )
    sections = [
        _errors(data),
        _by_rule(data, "FAILED", "failing", "", "Failures, by rule", "failures"),
        _by_rule(data, "KNOWN", "known", "k", "Known deviations, by rule", "known"),
        _deviations(data),
        _by_rule(data, "NON-STRICT", "non_strict", "n", "NON-STRICT, by rule", "non-strict"),
        _unjudged(data),
        _all_checks(data),
        _glossary(data),
    ]
    titles = [
        ("errors", "Could not test"),
        ("failures", "Failures"),
        ("known", "Known"),
        ("non-strict", "NON-STRICT"),
        ("skipped", "Not judged"),
        ("checks", "All checks"),
        ("rules", "Rules"),
    ]
    body = "".join(sections)
    nav = "".join(f'<a href="#{a}">{t}</a>' for a, t in titles if f'id="{a}"' in body)
    css_verdict = verdict.replace(" ", "-")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{e(data.get('title', 'asrx conformance'))}: {e(verdict)}: "
        f"{e(data['target'])}</title>"
        f"<style>{_CSS}</style></head><body><main>"
        f'<div class="banner b-{css_verdict}"><div class="v">{e(verdict)}</div>'
        f'<div class="c">{e(count_text)}</div>{_failed_rules(data)}{error}</div>'
        f"{meta}<nav>{nav}</nav>{body}"
        "</main></body></html>\n"
    )
