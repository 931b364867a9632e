"""Findings -> a graded check, Autobahn style: OK, NON-STRICT or FAILED.

A check collects ``Finding``s (rule, expected, seen) and hands them to ``Grader.check``.
Findings marked ``strict_only`` fail the check only under ``--asrx-strict``; otherwise
they are recorded on the test (``asrx-non-strict`` user property, shown in the JUnit XML
and the HTML report) and the check passes as NON-STRICT.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pytest

from harness.client.target import redact
from harness.protocol.events import Finding

#: user_properties keys the report and the JUnit XML carry.
PROP_RULE = "asrx-rule"
PROP_NON_STRICT = "asrx-non-strict"
#: Most findings shown in one failure message (the rest are counted).
MAX_SHOWN = 12


def format_findings(findings: list[Finding], context: str = "") -> str:
    head = f"{len(findings)} finding(s)" + (f" ({context})" if context else "")
    lines = [head] + [f"- {f}" for f in findings[:MAX_SHOWN]]
    if len(findings) > MAX_SHOWN:
        lines.append(f"- ... and {len(findings) - MAX_SHOWN} more")
    return "\n".join(lines)


@dataclass
class Grader:
    node: pytest.Item
    strict: bool
    apikey: str | None

    def check(self, findings: Iterable[Finding], context: str = "") -> None:
        """Fail the test with every failing finding; record NON-STRICT ones."""
        found = list(dict.fromkeys(findings))  # a finding seen twice is reported once
        failing = [f for f in found if self.strict or not f.strict_only]
        lenient = [f for f in found if f not in failing]
        for f in lenient:
            self.node.user_properties.append((PROP_NON_STRICT, redact(str(f), self.apikey)))
        if failing:
            pytest.fail(redact(format_findings(failing, context), self.apikey), pytrace=False)
