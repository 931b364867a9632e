"""The checkout's entry point for ``locust -f locustfiles/capacity.py``: the packaged
step ramp ``asrx load --capacity`` runs (``harness/locustfiles/capacity.py``)."""

from harness.locustfiles.capacity import ReplayUser, StepRampShape

__all__ = ["ReplayUser", "StepRampShape"]
