"""The report's "over time" rows: every interval, what the run did since the previous one.

A sampler greenlet takes the merged ``RunStats`` every ``--asrx-sample-interval`` seconds
and subtracts the previous snapshot (``harness.load.window``: exact, bucket by bucket), so
each row holds that interval's users, sessions, failures and percentiles.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gevent

from harness.client.pacer import catch_up
from harness.load.stats import RunStats
from harness.load.window import snapshot, subtract

logger = logging.getLogger("asrx.gate")


@dataclass
class TimeSeries:
    rows: list[dict[str, Any]] = field(default_factory=list)
    t0: float = field(default_factory=time.monotonic)
    previous: RunStats | None = None
    sampler: gevent.Greenlet | None = None

    def restart(self) -> None:
        self.stop()
        self.rows.clear()
        self.previous = None
        self.t0 = time.monotonic()

    def sample(self, stats: RunStats, users: int | None) -> None:
        """Append the row of the interval since the previous sample."""
        now = snapshot(stats)
        window = subtract(now, self.previous) if self.previous is not None else now
        self.previous = now
        row: dict[str, Any] = {
            "t_s": round(time.monotonic() - self.t0, 3),
            "users": users,
            "sessions_ok": window.sessions_ok,
            "failures": window.failed,
        }
        for name, hist in window.histograms.items():
            catch_up()  # a sample takes milliseconds: frames due go out between metrics
            p50, p95, p99 = hist.percentiles((50, 95, 99))
            row[name] = {
                "count": hist.count,
                "p50": p50,
                "p95": p95,
                "p99": p99,
                # the interval's samples, for comparisons that resample by time
                "histogram": hist.encode(),
            }
        self.rows.append(row)

    def start(self, interval: float, take: Callable[[], None]) -> None:
        """Call ``take`` every ``interval`` seconds until ``stop``."""
        if self.sampler is not None and not self.sampler.dead:
            return

        def loop() -> None:
            while True:
                gevent.sleep(interval)
                try:
                    take()
                except Exception:  # a broken sample must not end the run
                    logger.exception("asrx: time-series sample failed")

        self.sampler = gevent.spawn(loop)

    def stop(self) -> None:
        if self.sampler is not None:
            self.sampler.kill(block=False)
            self.sampler = None
