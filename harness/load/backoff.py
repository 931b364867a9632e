"""How long a user waits after a session that never opened, before it tries again.

A dead server is not hammered in a tight loop: the wait's ceiling doubles from
``REFUSAL_BACKOFF_S`` up to ``REFUSAL_BACKOFF_MAX_S`` while refusals continue. Each wait is
drawn between half the ceiling and the ceiling ("equal jitter"), so users refused at the
same moment spread out instead of retrying in lockstep.
"""

from __future__ import annotations

import random

REFUSAL_BACKOFF_S = 0.05
REFUSAL_BACKOFF_MAX_S = 2.0


def next_backoff(ceiling: float, rng: random.Random | None = None) -> tuple[float, float]:
    """(the next ceiling, the seconds to wait now) after a refusal; ``ceiling`` is the last
    ceiling (0 after a session that opened)."""
    ceiling = min(REFUSAL_BACKOFF_MAX_S, max(REFUSAL_BACKOFF_S, 2 * ceiling))
    draw = (rng or random).uniform(ceiling / 2, ceiling)
    return ceiling, draw
