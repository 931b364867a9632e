"""Every exit code the harness's commands use, in one place.

The commands share one meaning per number, so a CI script can read any of them the same
way (docs/ci.md). pytest's own codes (0 passed, 1 failed, 2 interrupted, 3 internal error,
4 usage error, 5 nothing collected) stand for the conformance suite.
"""

from __future__ import annotations

#: Success: the stream, the gate or the comparison passed.
OK = 0
#: The server under test failed us (``asrx stream``), or a load run failed: sessions failed
#: beyond the allowed error ratio, or none completed.
TARGET_FAILED = 1
#: The harness was misused: a bad option, file, corpus or SLO configuration.
USAGE = 2
#: A load run: at least one SLO threshold was breached.
SLO_BREACHED = 3
#: A load run: the harness itself was saturated (its send lateness exceeded the bound), so
#: its latencies are untrusted. Takes precedence over ``SLO_BREACHED``.
HARNESS_SATURATED = 4
#: ``asrx compare`` (and a load run with ``--asrx-baseline`` that passed its own checks): a
#: metric regressed beyond its tolerance against the baseline.
REGRESSED = 5
#: ``asrx compare``: the runs differ in corpus, target, users, duration... so their
#: latencies cannot be compared. Takes precedence over ``REGRESSED``.
NOT_COMPARABLE = 6
#: A bug in the harness itself, caught before it became a traceback (``asrx corpus check``
#: uses it so that 1 always means "the corpus has problems"). BSD sysexits' EX_SOFTWARE.
INTERNAL_ERROR = 70
#: Ctrl-C.
INTERRUPTED = 130
