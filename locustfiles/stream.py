"""Replay corpus utterances over asrx at real time and measure PROTOCOL.md §5 latencies.

    locust -f locustfiles/stream.py --headless -u 4 -r 2 -t 30s           # embedded server
    ASRX_APIKEY=... locust -f locustfiles/stream.py --host wss://asr.example/asrx

The user class and its ``--asrx-*`` options live in ``harness.load.user``; the SLO gate
and the HTML report register their own end-of-run listeners when imported.
"""

from harness.load.user import AsrxUser

try:  # the SLO gate and the report (issue 6, built alongside): register their listeners
    import harness.load.report  # noqa: F401
    import harness.load.slo  # noqa: F401
except ImportError:
    pass

__all__ = ["AsrxUser"]
