"""Load testing with Locust: the asrx users, run statistics, the verdict and SLO gate, the
reports and the web UI tab (``harness.load.user`` and ``harness.load.gate`` install them)."""
