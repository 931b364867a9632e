"""``StreamResult``: a finished session, how it ended, and the latencies it may give.

Every adapter returns one (``Wire.result``), so the CLI, the suite and the Locust user read
the same fields: ``end`` (a ``SessionEnd``), ``error`` (the one-line error of an end the
findings do not tell), ``findings`` (every rule broken: per message, by the close, by the
end) and ``completed``. Only a completed session feeds latency distributions
(docs/protocol.md §5): ``latency_samples`` is empty for any other.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.errors import TargetError
from harness.protocol.ending import SessionEnd, end_findings, late_final_findings
from harness.protocol.events import Finding
from harness.protocol.metrics import SessionMetrics
from harness.protocol.session import ClientSession
from harness.protocol.words import WordLatencies

#: The §5 latencies of one session, by the name a load run reports them under.
LATENCY_NAMES = ("connect", "first_partial", "sentence", "close", "word_upl", "word_final")


@dataclass(frozen=True)
class StreamResult:
    session: ClientSession
    end: SessionEnd
    #: What went wrong after the session opened, in one line; None for a completed session
    #: and for ends its findings explain (a bad close code, an oversize or undecodable frame).
    error: TargetError | None = None
    #: True when the client stopped sending early (Ctrl-C or a stop request).
    interrupted: bool = False

    @property
    def completed(self) -> bool:
        """Confirmed, then closed with 1000, with every message kept: a whole session."""
        return self.end is SessionEnd.COMPLETED and not self.session.timeline.messages_not_kept

    @property
    def findings(self) -> list[Finding]:
        """Every rule the server broke in this session: its messages' and close's
        (``session.findings``), then the closing sequence's (``closing_findings``)."""
        return self.session.findings + self.closing_findings

    @property
    def closing_findings(self) -> list[Finding]:
        """The rules the session's end broke (``ending.end_findings``), and a final text
        that came after the confirmation."""
        return end_findings(self.end, self.error) + late_final_findings(self.session)


def latency_samples(
    result: StreamResult, metrics: SessionMetrics, words: WordLatencies | None = None
) -> dict[str, list[float]]:
    """The session's §5 latencies (ms) by ``LATENCY_NAMES``; empty unless it completed.

    ``metrics`` is ``session_metrics(result.session.timeline, segments)``; ``words`` its
    ``word_latencies`` (None: not computed, no word latency). A dropped, failed or
    timed-out session is a failure of its kind, never a source of fast samples.
    """
    if not result.completed:
        return {}
    m = metrics
    values: dict[str, list[float | None]] = {
        "connect": [m.connect_ms],
        "first_partial": list(m.first_partial_ms),
        "sentence": list(m.sentence_ms),
        "close": [m.close_ms],
        "word_upl": list(words.upl_ms) if words is not None else [],
        "word_final": list(words.finalization_ms) if words is not None else [],
    }
    return {name: [v for v in values[name] if v is not None] for name in LATENCY_NAMES}
