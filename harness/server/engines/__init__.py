"""Recognition engines. ``make_engine(name, ...)`` returns one; both speak ``base.Engine``."""

from __future__ import annotations

from harness.server.engines.base import Decoded, Engine, EngineError, Recognizer

__all__ = ["Decoded", "Engine", "EngineError", "Recognizer", "make_engine"]


def make_engine(name: str, *, workers: int) -> Engine:
    if name == "synthetic":
        from harness.server.engines.synthetic import SyntheticEngine

        return SyntheticEngine()
    if name == "pocketsphinx":
        from harness.server.engines.sphinx import PocketsphinxEngine

        return PocketsphinxEngine(workers=workers)
    raise ValueError(f"unknown engine {name!r}")
