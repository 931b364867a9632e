"""Replay corpus utterances over asrx at real time and measure PROTOCOL.md §5 latencies.

    locust -f locustfiles/stream.py --headless -u 4 -r 2 -t 30s           # embedded server
    ASRX_APIKEY=... locust -f locustfiles/stream.py --host wss://asr.example/asrx

The user class and its ``--asrx-*`` options live in ``harness.load.user``; the SLO gate
and the HTML report (``harness.load.gate``) register their end-of-run listeners on import.
"""

import harness.load.gate  # noqa: F401  (SLO options, reports, exit code)
from harness.load.user import AsrxUser

__all__ = ["AsrxUser"]
