"""Refused users back off exponentially, and not in lockstep."""

from __future__ import annotations

import random
from collections import Counter

from harness.load.backoff import REFUSAL_BACKOFF_MAX_S, REFUSAL_BACKOFF_S, next_backoff


def test_the_ceiling_doubles_up_to_the_maximum_and_restarts_after_a_session() -> None:
    ceilings, ceiling = [], 0.0
    for _ in range(10):
        ceiling, wait = next_backoff(ceiling)
        assert ceiling / 2 <= wait <= ceiling
        ceilings.append(ceiling)
    assert ceilings[:3] == [REFUSAL_BACKOFF_S, 2 * REFUSAL_BACKOFF_S, 4 * REFUSAL_BACKOFF_S]
    assert ceilings[-1] == REFUSAL_BACKOFF_MAX_S
    assert next_backoff(0.0)[0] == REFUSAL_BACKOFF_S


def test_users_refused_together_retry_apart() -> None:
    """Fifty users refused at the same moment, each on its own schedule: after five
    refusals their retries are spread over a window, not stacked on one instant."""
    rng = random.Random(7)
    retry_at = []
    for _ in range(50):
        at, ceiling = 0.0, 0.0
        for _ in range(5):
            ceiling, wait = next_backoff(ceiling, rng)
            at += wait
        retry_at.append(at)
    assert max(retry_at) - min(retry_at) > 0.2, (min(retry_at), max(retry_at))
    per_10_ms = Counter(int(t * 100) for t in retry_at)
    assert max(per_10_ms.values()) <= 5, per_10_ms.most_common(3)
