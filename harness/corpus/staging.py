"""Build a corpus folder all at once: write into a hidden sibling folder, rename at the end.

A failed or interrupted import or synthesis then leaves nothing half-written where the
corpus should be: the staging folder is removed and the target is untouched. Interrupted
means Ctrl-C or SIGTERM (what ``kill``, a CI runner's timeout or ``docker stop`` send):
while a folder is staged, SIGTERM raises ``Terminated`` (a ``KeyboardInterrupt``), so the
same clean-up runs.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from harness.errors import UsageError


def check_target(out: Path, *, force: bool) -> None:
    """Refuse to overwrite an existing non-empty folder unless ``force``."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise UsageError(f"{out}: folder exists and is not empty (use --force to replace it)")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived while a folder was staged (the CLI reports it as interrupted)."""


class _SigtermGuard:
    """Turns SIGTERM into ``Terminated``, or holds it while the folder is being renamed."""

    def __init__(self) -> None:
        self.hold = False
        self.pending = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.hold:
            self.pending = True
            return
        raise Terminated(f"signal {signum}")


@contextmanager
def _sigterm_interrupts() -> Iterator[_SigtermGuard]:
    """While inside, SIGTERM raises ``Terminated`` (main thread only: where signals land)."""
    guard = _SigtermGuard()
    if threading.current_thread() is not threading.main_thread():
        yield guard
        return
    previous = signal.signal(signal.SIGTERM, guard)
    try:
        yield guard
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def staged_folder(out: Path, *, force: bool = False) -> Iterator[Path]:
    """Yield an empty folder next to ``out``; on success it replaces ``out``, else it goes."""
    check_target(out, force=force)
    out.parent.mkdir(parents=True, exist_ok=True)
    with _sigterm_interrupts() as guard:
        staging: Path | None = None
        try:
            staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
            staging.chmod(0o777 & ~_umask())  # mkdtemp makes it private; a corpus is not
            yield staging
        except BaseException:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
            raise
        # The renames run whole: a SIGTERM meanwhile is acted on once they are done.
        guard.hold = True
        _replace(out, staging)
        if guard.pending:
            raise Terminated("SIGTERM (after the corpus was written)")


def _replace(out: Path, staging: Path) -> None:
    if out.exists():
        # Move the old folder aside rather than delete it first: a crash between the two
        # renames leaves it recoverable.
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        out.rename(old / out.name)
        staging.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(out)
