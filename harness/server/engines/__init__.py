"""Recognition engines. ``make_engine(name, ...)`` returns one; both speak ``base.Engine``.

``ENGINES`` is the one list of engine names: the server's ``--engine``, the suite's
``--asrx-engine`` and the Locust user's ``--asrx-engine`` all offer these.
"""

from __future__ import annotations

from harness.server.engines.base import Decoded, Engine, EngineError, Recognizer

__all__ = ["ENGINES", "Decoded", "Engine", "EngineError", "Recognizer", "make_engine"]

#: synthetic: placeholder words, no recognition (fast); pocketsphinx: real recognition.
ENGINES = ("synthetic", "pocketsphinx")


def make_engine(name: str, *, workers: int) -> Engine:
    if name == "synthetic":
        from harness.server.engines.synthetic import SyntheticEngine

        return SyntheticEngine()
    if name == "pocketsphinx":
        from harness.server.engines.sphinx import PocketsphinxEngine

        return PocketsphinxEngine(workers=workers)
    raise ValueError(f"unknown engine {name!r} (one of {', '.join(ENGINES)})")
