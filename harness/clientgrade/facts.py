"""What one scenario run shows about the client, derived from the server's records and the
process's end: the measurements the rules grade (``grading.py``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness.clientgrade.audio import GradeAudio
from harness.clientgrade.runner import ScenarioRun
from harness.protocol.audio import BYTES_PER_MS, BYTES_PER_SECOND
from harness.protocol.escape import printable
from harness.server.clientlog import HandshakeSeen, SessionSeen

#: Terminal escape sequences (CSI, OSC, two-character ESC) a client may print around text.
_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")
#: Lines of the client's stderr quoted in a finding.
STDERR_LINES = 6


def visible_text(output: str) -> str:
    """What a reader of the client's output sees, as one line: escape sequences and control
    characters (``\\r`` rewrites included) become spaces, runs of spaces one space."""
    text = _CONTROLS.sub(" ", _ESCAPES.sub(" ", output))
    return " ".join(text.split())


def find_in_order(output: str, texts: list[str]) -> int | None:
    """Index of the first of ``texts`` not found, as whole words and in order, in the
    visible ``output``; None when all are found."""
    visible = visible_text(output)
    pos = 0
    for i, text in enumerate(texts):
        words = " ".join(text.split())
        if not words:
            continue
        m = re.compile(rf"(?<!\S){re.escape(words)}(?!\S)").search(visible, pos)
        if m is None:
            return i
        pos = m.end()
    return None


@dataclass(frozen=True)
class Gap:
    """A pause between two audio frames beyond the first frame's own duration."""

    after_s: float  # audio position where the pause happened
    excess_ms: float


class Facts:
    """The measurements of one run of one scenario."""

    def __init__(self, run: ScenarioRun, audio: GradeAudio) -> None:
        self.run = run
        self.audio = audio
        self.process = run.process
        sessions = run.records.sessions
        #: The session graded: the client's first (later ones are context).
        self.session: SessionSeen | None = sessions[0] if sessions else None
        self.extra_sessions = max(0, len(sessions) - 1)
        self.attempts: list[HandshakeSeen] = run.records.attempts
        self.attempts_not_kept = run.records.handshakes_not_kept

    # -- the process ----------------------------------------------------------------------

    @property
    def killed(self) -> bool:
        return self.process is not None and self.process.killed

    @property
    def exit_code(self) -> int | None:
        return self.process.exit_code if self.process else None

    def stderr_tail(self) -> str:
        """The last lines of the client's stderr, redacted and escaped, or ''."""
        if self.process is None:
            return ""
        lines = [ln for ln in self.process.stderr_tail.splitlines() if ln.strip()]
        return printable(self.run.redact("\n".join(lines[-STDERR_LINES:])))

    def ended(self) -> str:
        """How the process ended, in words."""
        p = self.process
        if p is None:
            return "did not run"
        if p.killed:
            return f"still running after {p.bound_s:.1f} s: killed"
        return f"exited {p.exit_code} after {p.seconds:.1f} s"

    def since_start(self, at: float) -> str:
        start = self.process.started if self.process else at
        return f"{at - start:.2f} s"

    # -- the session ----------------------------------------------------------------------

    @property
    def frames(self) -> list[list[float]]:
        return self.session.frames if self.session else []

    @property
    def sent_all_audio(self) -> bool:
        return self.session is not None and self.session.audio_bytes >= self.audio.pcm_bytes

    @property
    def end_of_stream_sent(self) -> bool:
        return self.session is not None and self.session.end_of_stream_at is not None

    def client_left_at(self) -> float | None:
        """When the client ended the session itself (its close frame first, or its TCP
        connection gone with no close from either side); None when the server closed first
        or the session is still open."""
        s = self.session
        if s is None:
            return None
        if s.client_close_at is not None and s.client_closed_first:
            return s.client_close_at
        if s.client_close_at is None and s.server_close_code is None and s.ended_at:
            return s.ended_at
        return None

    def how_left(self) -> str:
        s = self.session
        assert s is not None
        if s.client_close_at is not None:
            return f"closed with {s.client_close_code}"
        return "dropped the connection (no close frame)"

    def speed(self) -> float | None:
        """Audio sent per second of wall time, as a multiple of real time: the audio before
        the last frame over the time from the first frame to the last (None below 2 frames)."""
        frames = self.frames
        if len(frames) < 2 or self.session is None:
            return None
        kept_bytes = sum(int(size) for _, size in frames)
        position = (kept_bytes - frames[-1][1]) / BYTES_PER_SECOND
        span = frames[-1][0] - frames[0][0]
        return float("inf") if span <= 0 else position / span

    def gaps(self, tolerance_ms: float) -> list[Gap]:
        """Pauses between frames longer than the earlier frame's duration + ``tolerance_ms``."""
        out = []
        position = 0
        frames = self.frames
        for (at, size), (next_at, _) in zip(frames, frames[1:], strict=False):
            position += int(size)
            excess = (next_at - at) * 1000 - size / BYTES_PER_MS
            if excess > tolerance_ms:
                out.append(Gap(position / BYTES_PER_SECOND, excess))
        return out
