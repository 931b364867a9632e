"""Reading a small file the user names (a known-deviations file, a run's result) without
ever reading more than it could reasonably hold."""

from __future__ import annotations

from pathlib import Path

from harness.errors import UsageError


def read_capped(path: Path, limit: int, label: str) -> bytes:
    """The bytes of ``path``; ``UsageError`` (one line starting with ``label``) when it
    cannot be read or holds more than ``limit`` bytes."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(limit + 1)
    except OSError as exc:
        raise UsageError(f"{label}: {exc.strerror or exc}") from None
    if len(raw) > limit:
        raise UsageError(f"{label}: larger than {limit} bytes")
    return raw
