"""What each client did, as the server saw it (``--record-clients FILE``), for grading
clients (``asrx grade-client``).

The server consults this module at named points and nowhere else:

- the handshake (``AsrxServer.process_response``): one ``HandshakeSeen`` per attempt with the
  answer given, the key header counted and checked but never stored;
- the connection (``AsrxConnection``): every message received (``recv``) and sent
  (``send``), the client's close frame as it arrives, and the end of the TCP connection.

Each refused handshake is one JSON line (``"kind": "handshake"``) when it is answered; each
session is one line (``"kind": "session"``) when its connection is gone. Times are
``time.monotonic()`` seconds: on Linux one clock for every process of the host, so a grader
in another process can set them against its own. Everything kept is bounded (``MAX_*``);
past a bound the rest is counted. The same dataclasses read the file back (``read_log``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl, urlsplit

from websockets.protocol import Protocol

from harness.protocol.dialect import Dialect
from harness.protocol.escape import printable

#: Audio frames whose arrival time and size are kept per session (~50 min of 32 ms frames).
MAX_FRAMES = 100_000
#: Client text frames kept per session, and server messages kept per session.
MAX_TEXTS = 200
MAX_SENT = 2_000
#: Refused handshakes written per server; past it they are only counted.
MAX_HANDSHAKES = 1_000
#: Characters kept of a client text frame, of a server message's text, of a User-Agent.
PREVIEW_CHARS = 200
#: Bytes of the audio stream's start kept (hex), to recognize a file header sent as audio.
HEAD_BYTES = 12

#: Kinds of client text frames.
TEXT_END_OF_STREAM = "end-of-stream"
TEXT_OTHER_JSON = "json"
TEXT_NOT_JSON = "not-json"
#: Kinds of server messages.
SENT_TRANSCRIPT = "transcript"
SENT_FINAL = "final"
SENT_CONFIRMATION = "confirmation"
SENT_OTHER = "other"


@dataclass
class HandshakeSeen:
    at: float
    path: str
    #: HTTP status of the answer: 101 for a session.
    status: int
    #: How many key headers the request had, whether any was empty, and whether the key was
    #: accepted (exactly one header holding a known key).
    key_headers: int
    key_empty: bool
    key_valid: bool
    #: A query parameter named like the key header (a key in the URL ends up in logs).
    key_in_query: bool
    user_agent: str


@dataclass
class TextSeen:
    at: float
    kind: str
    size: int
    preview: str


@dataclass
class SentSeen:
    at: float
    kind: str
    text: str


@dataclass
class SessionSeen:
    handshake: HandshakeSeen
    #: ``[arrival, size]`` of each binary frame (the first ``MAX_FRAMES``).
    frames: list[list[float]] = field(default_factory=list)
    frames_not_kept: int = 0
    audio_bytes: int = 0
    audio_sha256: str = ""
    audio_head: str = ""
    texts: list[TextSeen] = field(default_factory=list)
    texts_not_kept: int = 0
    #: Binary frames that arrived after the first end-of-stream message.
    audio_after_eos: int = 0
    sent: list[SentSeen] = field(default_factory=list)
    sent_not_kept: int = 0
    #: The client's close frame: when it arrived, its code and reason (None: none came).
    client_close_at: float | None = None
    client_close_code: int | None = None
    client_close_reason: str = ""
    #: Whether the client sent its close frame before the server sent one.
    client_closed_first: bool = False
    server_close_code: int | None = None
    #: When the TCP connection was gone.
    ended_at: float = 0.0

    @property
    def confirmed_at(self) -> float | None:
        return next((s.at for s in self.sent if s.kind == SENT_CONFIRMATION), None)

    @property
    def end_of_stream_at(self) -> float | None:
        return next((t.at for t in self.texts if t.kind == TEXT_END_OF_STREAM), None)

    @property
    def finals(self) -> list[str]:
        return [s.text for s in self.sent if s.kind == SENT_FINAL]


class SessionRecorder:
    """One session's observations, fed by its connection, written when it ends."""

    def __init__(self, log: ClientLog, handshake: HandshakeSeen) -> None:
        self._log = log
        self.seen = SessionSeen(handshake)
        self._sha = hashlib.sha256()
        self._head = b""
        self._eos = False

    def received(self, message: str | bytes, at: float) -> None:
        seen = self.seen
        if isinstance(message, bytes):
            seen.audio_bytes += len(message)
            self._sha.update(message)
            if len(self._head) < HEAD_BYTES:
                self._head += message[: HEAD_BYTES - len(self._head)]
            seen.audio_after_eos += self._eos
            if len(seen.frames) < MAX_FRAMES:
                seen.frames.append([at, len(message)])
            else:
                seen.frames_not_kept += 1
            return
        kind = self._log.text_kind(message)
        self._eos = self._eos or kind == TEXT_END_OF_STREAM
        if len(seen.texts) < MAX_TEXTS:
            seen.texts.append(TextSeen(at, kind, len(message), printable(message[:PREVIEW_CHARS])))
        else:
            seen.texts_not_kept += 1

    def sent(self, message: object, at: float) -> None:
        if len(self.seen.sent) >= MAX_SENT:
            self.seen.sent_not_kept += 1
            return
        kind, text = self._log.sent_kind(message)
        self.seen.sent.append(SentSeen(at, kind, text[:PREVIEW_CHARS]))

    def data_received(self, protocol: Protocol, at: float) -> None:
        """After each read: notes the client's close frame the moment it has arrived."""
        close = protocol.close_rcvd
        if close is not None and self.seen.client_close_at is None:
            self.seen.client_close_at = at
            self.seen.client_close_code = close.code
            self.seen.client_close_reason = printable(close.reason[:PREVIEW_CHARS])
            self.seen.client_closed_first = bool(protocol.close_rcvd_then_sent)

    def ended(self, protocol: Protocol, at: float) -> None:
        self.data_received(protocol, at)
        seen = self.seen
        seen.ended_at = at
        seen.server_close_code = protocol.close_sent.code if protocol.close_sent else None
        seen.audio_sha256 = self._sha.hexdigest()
        seen.audio_head = self._head.hex()
        self._log.write("session", asdict(seen))


class ClientLog:
    """The ``--record-clients`` file of one server."""

    def __init__(self, path: str | Path, dialect: Dialect) -> None:
        self._file: IO[str] | None = Path(path).open("w", encoding="utf-8")  # noqa: SIM115
        self.dialect = dialect
        self._handshakes_written = 0
        self._handshakes_not_kept = 0

    def handshake(self, seen: HandshakeSeen) -> SessionRecorder | None:
        """A handshake answered: its recorder when it opened a session (101)."""
        if seen.status == 101:
            return SessionRecorder(self, seen)
        if self._handshakes_written < MAX_HANDSHAKES:
            self._handshakes_written += 1
            self.write("handshake", asdict(seen))
        else:
            self._handshakes_not_kept += 1
        return None

    def text_kind(self, text: str) -> str:
        try:
            obj = json.loads(text)
        except (ValueError, RecursionError):
            return TEXT_NOT_JSON
        return TEXT_END_OF_STREAM if self.dialect.is_end_of_stream(obj) else TEXT_OTHER_JSON

    def sent_kind(self, message: object) -> tuple[str, str]:
        """What a server message is, and its text (the server's own messages: well formed
        unless a fault says otherwise, so anything odd is just ``other``)."""
        try:
            obj = json.loads(message) if isinstance(message, str) else None
        except (ValueError, RecursionError):
            obj = None
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            return SENT_OTHER, ""
        text = obj["text"]
        if text == self.dialect.confirmation_text:
            return SENT_CONFIRMATION, text
        return (SENT_FINAL if obj.get("final") is True else SENT_TRANSCRIPT), text

    def write(self, kind: str, record: dict[str, Any]) -> None:
        if self._file is not None:
            self._file.write(json.dumps({"kind": kind, **record}) + "\n")
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            if self._handshakes_not_kept:
                self.write("handshakes-not-kept", {"count": self._handshakes_not_kept})
            self._file.close()
            self._file = None


def handshake_seen(
    at: float,
    path: str,
    status: int,
    key_values: list[str],
    key_valid: bool,
    key_header: str,
    user_agent: str,
) -> HandshakeSeen:
    """A ``HandshakeSeen`` from a request's parts; the key's value is not kept."""
    query = {name.lower() for name, _ in parse_qsl(urlsplit(path).query, keep_blank_values=True)}
    return HandshakeSeen(
        at=at,
        path=printable(urlsplit(path).path[:PREVIEW_CHARS]),
        status=status,
        key_headers=len(key_values),
        key_empty=any(not v.strip() for v in key_values),
        key_valid=key_valid,
        key_in_query=key_header.lower() in query,
        user_agent=printable(user_agent[:PREVIEW_CHARS]),
    )


@dataclass
class ClientRecords:
    """A ``--record-clients`` file read back."""

    handshakes: list[HandshakeSeen]
    sessions: list[SessionSeen]
    handshakes_not_kept: int = 0
    #: Lines that could not be read (a server killed in the middle of writing one).
    unreadable: int = 0

    @property
    def attempts(self) -> list[HandshakeSeen]:
        """Every handshake, refused or not, in time order."""
        return sorted(self.handshakes + [s.handshake for s in self.sessions], key=lambda h: h.at)


def read_log(path: str | Path) -> ClientRecords:
    records = ClientRecords([], [])
    with Path(path).open(encoding="utf-8") as fh:
        for line in fh:
            try:
                obj = json.loads(line)
            except ValueError:
                records.unreadable += 1
                continue
            kind = obj.pop("kind", None)
            if kind == "handshake":
                records.handshakes.append(HandshakeSeen(**obj))
            elif kind == "session":
                obj["handshake"] = HandshakeSeen(**obj["handshake"])
                obj["texts"] = [TextSeen(**t) for t in obj["texts"]]
                obj["sent"] = [SentSeen(**s) for s in obj["sent"]]
                records.sessions.append(SessionSeen(**obj))
            elif kind == "handshakes-not-kept":
                records.handshakes_not_kept = int(obj["count"])
    records.sessions.sort(key=lambda s: s.handshake.at)
    return records
