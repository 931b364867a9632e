"""The report at a glance: the HTML's structure on a large synthetic run, and real per-check
durations from a real one."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from harness.conformance.report import CHECKS_SHOWN, render
from harness.protocol.rules import RULES, doc_anchor
from harness.server.embedded import EmbeddedServer
from tests.conformance.suiterun import run_with_artefacts

KEY = "report-key-8e8e8e"


def _check(i: int, grade: str, module: str, rule: str, findings: int = 0) -> dict[str, Any]:
    seen = [
        {"rule": rule, "expected": "a string 'state'", "seen": f'{{"text": "{n}"}}'}
        for n in range(findings)
    ]
    return {
        "id": f"test_{module}[case-{i}]",
        "module": module,
        "grade": grade,
        "rules": [rule],
        "context": "",
        "message": "",
        "failing": seen if grade == "FAILED" else [],
        "non_strict": [],
        "known": [],
        "also_seen": [{"rule": "4.close-1000", "expected": "1000", "seen": "1011"}],
        "duration_s": 0.25,
        "own_s": 0.05,
        "shared_s": 0.2,
    }


def _run(checks: list[dict[str, Any]], verdict: str) -> dict[str, Any]:
    return {
        "verdict": verdict,
        "target": "wss://asr.example.com/asrx",
        "suite_version": "1.2.3",
        "started": "2025-01-02T03:04:05+00:00",
        "duration_s": 61.0,
        "strict": False,
        "checks": checks,
        "error": "",
        "not_run": 0,
        "setup_s": 1.5,
        "known_file": "",
        "deviations": [],
        "timing_note": "note",
        "format": "asrx-conformance/1",
    }


def test_a_large_failing_run_reads_at_a_glance() -> None:
    ok = [_check(i, "OK", f"mod{i % 6}", "3.json") for i in range(70)]
    failing = [_check(i, "FAILED", "schema", "3.state", findings=9) for i in range(30)]
    page = render(_run(ok + failing, "FAIL"))
    assert '<div class="banner b-FAIL"><div class="v">FAIL</div>' in page
    assert "30 FAILED · 70 OK" in page and "(30 checks)" in page
    for text in ("wss://asr.example.com/asrx", "1.2.3", "2025-01-02 03:04:05", "61.0 s"):
        assert text in page, text
    # Failures first: the failures section comes before the list of all checks.
    assert page.index('id="failures"') < page.index('id="checks"') < page.index('id="rules"')
    # Only a few failing checks, and a few 'seen' lines each, before a disclosure.
    group = page[page.index('id="failures"') : page.index('id="checks"')]
    visible = group.split("<details><summary>27 more check(s)")[0]
    assert visible.count('<td class="ck">') == CHECKS_SHOWN
    # Passing modules collapsed, the failing one open.
    assert page.count('<details class="mod">') == 6
    assert page.count('<details class="mod" open>') == 1
    assert "<script" not in page and "http://" not in page and "https://" not in page


def test_every_link_is_in_page_and_every_rule_explained() -> None:
    page = render(_run([_check(1, "FAILED", "m", "3.state", findings=1)], "FAIL"))
    ids = set(re.findall(r'id="([^"]+)"', page))
    links = set(re.findall(r'href="#([^"]+)"', page))
    assert links and links <= ids, sorted(links - ids)
    for rule in RULES:
        assert f'id="rule-{rule}"' in page and doc_anchor(rule) in page, rule


def test_error_banner_names_the_cause() -> None:
    data = _run([], "ERROR")
    data.update(error="asrx: cannot test ws://x/asrx: connection refused", not_run=59)
    page = render(data)
    assert '<div class="v">ERROR</div>' in page and "connection refused" in page
    assert "59 not run" in page


def test_durations_split_shared_runs_among_their_readers(tmp_path: Path) -> None:
    """The corpus run is made by the first schema check and read by every schema and
    sentence check: its time is spread over them, not charged to the first."""
    with EmbeddedServer(engine="synthetic", apikeys=(KEY,)) as server:
        out = run_with_artefacts(
            tmp_path,
            "--asrx-url",
            server.url,
            "-k",
            "test_message_schema[en or test_sentence_count",
            env={"ASRX_APIKEY": KEY},
        )
    assert out.proc.returncode == 0, out.console[-2000:]
    checks = out.result["checks"]
    durations = [c["duration_s"] for c in checks]
    total = sum(durations)
    assert len(checks) == 20 and total > 2.0, durations
    assert max(durations) < 0.3 * total, durations
    assert all(c["shared_s"] > 0 for c in checks)
    assert total <= out.result["duration_s"]
