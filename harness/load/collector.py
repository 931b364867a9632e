"""Python's cyclic garbage collector set for a process that streams real-time audio.

With the default settings (a young-generation pass every 700 net allocations) a load worker
paused every few hundred milliseconds for 1 to 14 ms, and now and then 30 ms for a full
pass, delaying every frame due meanwhile: at 500 streams the collector alone made p99 send
lateness exceed 5 ms. Each pass walks every young object still alive, and a worker's young
objects are mostly its live sessions' (protocol state, timelines, messages), which live for
seconds, while the objects sessions drop free their memory at once by reference counting:
the net allocation count that triggers a pass is lowered by every such release, so passes
came when the young generation was already large, and each found next to no garbage.

So, when users start: everything alive then (modules, Locust, the corpus) is moved out of
the collector's sight (``gc.freeze``: it is never garbage), and a young pass waits for
``YOUNG_THRESHOLD`` net allocations. A session leaves almost no cyclic garbage (measured:
two objects, from the scorer), so passes become minutes apart, while a run that does make
cycles (errors, a misbehaving server) still triggers them by the same count: the garbage
waiting for a pass stays bounded by about ``YOUNG_THRESHOLD`` objects.
"""

from __future__ import annotations

import gc

#: Net allocations between two young-generation passes (Python's default is 700).
YOUNG_THRESHOLD = 50_000


def settle() -> None:
    """Collect once, freeze what is alive, and space out the passes (call as users start)."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
