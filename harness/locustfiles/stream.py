"""Replay corpus utterances over asrx at real time and measure the protocol's latencies
(docs/protocol.md#latencies); judge the SLO gate and write the reports when the run ends.

    asrx load --headless -u 4 -r 2 -t 30s                              # embedded server
    ASRX_APIKEY=... asrx load --headless -u 20 -t 2m --host wss://asr.example/asrx

The users and their ``--asrx-*`` options live in ``harness.load.user``; the SLO gate, the
reports and the web UI's asrx tab (``harness.load.gate``) install on import.
"""

import harness.load.gate  # noqa: F401  (SLO gate, reports, web UI tab, exit code)
from harness.load.user import ReplayUser

__all__ = ["ReplayUser"]
