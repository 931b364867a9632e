"""docs/protocol.md §1: no working session without the right key in the ``apikey`` header.

Graded like Autobahn: HTTP 401/403 is OK; 101 then a close with 1008 or 4000-4999 within
the reject-close wait (2 s) and before any transcript is NON-STRICT; a transcript, or a
session left open, FAILED.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from urllib.parse import urlencode

import pytest

from harness.client.target import Target
from harness.conformance.grading import Grader
from harness.conformance.probes import unauthenticated_findings
from harness.conformance.suite import Suite

#: How each bad handshake is made from the valid target. Ids never hold the key.
VARIANTS = ("missing", "empty", "wrong", "other-header", "query-string")


def bad_target(target: Target, variant: str) -> Target:
    header = target.dialect.key_header
    if variant == "missing":
        return replace(target, apikey=None)
    if variant == "empty":
        return replace(target, apikey="")
    if variant == "wrong":
        return replace(target, apikey="asrx-wrong-" + secrets.token_hex(8))
    if variant == "other-header":
        other = "X-Api-Key" if header.lower() != "x-api-key" else "Authorization"
        return replace(target, dialect=replace(target.dialect, key_header=other))
    if variant == "query-string":
        sep = "&" if "?" in target.url else "?"
        query = urlencode({header: target.apikey or ""})
        return replace(target, url=f"{target.url}{sep}{query}", apikey=None)
    raise ValueError(variant)


@pytest.mark.asrx_rule("1.auth", "1.auth-strict", "1.auth-close")
@pytest.mark.parametrize("variant", VARIANTS)
def test_bad_apikey_gets_no_session(asrx: Suite, asrx_grade: Grader, variant: str) -> None:
    speech = asrx.speech()
    findings = asrx.run(unauthenticated_findings(bad_target(asrx.target, variant), speech.pcm()))
    asrx_grade.check(findings, context=f"apikey {variant}")
