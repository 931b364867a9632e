"""Run statistics made by hand, for the verdict and report tests."""

from __future__ import annotations

from harness.load.stats import RunStats


def make_stats(
    *,
    first_partial: tuple[float, ...] = (100, 120, 150, 200),
    sentence: tuple[float, ...] = (300, 350, 400),
    close: tuple[float, ...] = (20, 25),
    lateness: tuple[float, ...] = (0.1, 0.2, 0.5, 1.0),
    ok: int = 4,
    failures: dict[str, int] | None = None,
) -> RunStats:
    stats = RunStats()
    stats.record(
        {
            "first_partial": first_partial,
            "sentence": sentence,
            "close": close,
            "send_lateness": lateness,
        }
    )
    for kind, n in (failures or {}).items():
        for i in range(n):
            stats.record_failure(kind, f"{kind} number {i}")
    stats.sessions = ok + sum((failures or {}).values())
    stats.sessions_ok = ok
    stats.record_accuracy("u1", "en", "wer", "hello world", "hello word", 1, 2)
    stats.record_accuracy("u2", "th", "cer", "abc", "abc", 0, 3)
    return stats
