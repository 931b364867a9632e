"""docs/protocol.md §1: a valid key opens a session, over ws:// and over wss:// (verified)."""

from __future__ import annotations

import ssl

import pytest

from harness.client.raw import RawSession
from harness.client.target import Target
from harness.conformance.grading import Grader
from harness.conformance.suite import Suite
from harness.errors import TargetError
from harness.protocol.events import Finding


async def _open_and_leave(target: Target, rule: str) -> list[Finding]:
    try:
        raw = await RawSession.open(target)
    except TargetError as exc:
        return [Finding(rule, "HTTP 101 with a valid apikey", str(exc))]
    await raw.aclose()
    return []


@pytest.mark.asrx_rule("1.handshake")
def test_handshake_ws(asrx: Suite, asrx_grade: Grader) -> None:
    if asrx.target.secure:
        pytest.skip("the target URL is wss://: see test_handshake_wss")
    asrx_grade.check(asrx.run(_open_and_leave(asrx.target, "1.handshake")))


@pytest.mark.asrx_rule("1.tls")
def test_handshake_wss(asrx: Suite, asrx_tls_target: Target, asrx_grade: Grader) -> None:
    ctx = asrx_tls_target.ssl_context()
    # The check means nothing unless the client really verifies the certificate.
    assert ctx is not None and ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    asrx_grade.check(asrx.run(_open_and_leave(asrx_tls_target, "1.tls")))
