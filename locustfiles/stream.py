"""The checkout's entry point for ``locust -f locustfiles/stream.py``: the packaged
locustfile ``asrx load`` runs (``harness/locustfiles/stream.py``), so both are one user,
one SLO gate and one report."""

from harness.locustfiles.stream import ReplayUser

__all__ = ["ReplayUser"]
