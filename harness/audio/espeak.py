"""eSpeak NG through its C library: the samples it speaks and where each word lies in them.

The ``espeak-ng`` command writes the same samples (the library is what it runs) but keeps
the synthesizer's events to itself; ``speak_lib.h``'s callback API hands them over: a
word event as each word begins and a phoneme event at the first sample of each phoneme.
A word spans from its first phoneme to the end of its last one (where the next phoneme,
pause or word begins), in samples of the synthesizer's own rate: exact, as far as the
synthesizer itself knows. Where eSpeak reads two words as one (``on the``), their
phonemes are shared out by how many each word has alone, or left without a span. Loaded
with ``ctypes``: no maintained Python binding exposes these events.

The library keeps state from one text to the next (a sentence spoken after another voice's
comes out a few samples different) and cannot be restarted in the same process, so
``speak`` runs each text in a fresh process, as one ``espeak-ng`` command per text would:
the same text always gives the same samples.
"""

from __future__ import annotations

import bisect
import ctypes
import ctypes.util
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from harness.errors import UsageError

# speak_lib.h
_EVENT_LIST_TERMINATED, _EVENT_WORD, _EVENT_END, _EVENT_PHONEME = 0, 1, 5, 7
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_INITIALIZE_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_ENDPAUSE = 0x1000
_PARAM_RATE = 1
#: eSpeak's pause "phonemes" are named with a leading underscore (``_``, ``_:``, ``_!``).
_PAUSE_PREFIX = b"_"


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_char * 8),
    ]


_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


@dataclass(frozen=True)
class Speech:
    """What eSpeak said: int16 samples at ``rate`` and each word's ``(start, end)`` sample
    (None: a word whose span eSpeak does not tell apart from its neighbour's)."""

    samples: np.ndarray
    rate: int
    words: list[tuple[int, int] | None]


#: Names tried when ``ctypes.util.find_library`` finds nothing (it needs ldconfig or gcc).
LIBRARY_NAMES = ("libespeak-ng.so.1", "libespeak-ng.dylib")


#: Environment variable naming the library file to load instead of searching for it.
LIBRARY_ENV = "ASRX_ESPEAK_LIBRARY"


def load_library() -> ctypes.CDLL:
    """The eSpeak NG shared library, or ``UsageError`` saying how to install it."""
    if chosen := os.environ.get(LIBRARY_ENV):
        names = [chosen]
    else:
        found = ctypes.util.find_library("espeak-ng")
        names = ([found] if found else []) + list(LIBRARY_NAMES)
    for name in names:
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    raise UsageError(
        "espeak-ng is not installed (Debian/Ubuntu: apt-get install espeak-ng; "
        "macOS: brew install espeak-ng); or import recorded speech with `asrx corpus import`"
    )


class Espeak:
    """The library, initialized once (it keeps global state: one instance per process)."""

    _instance: Espeak | None = None

    def __init__(self) -> None:
        self._lib = load_library()
        self._lib.espeak_Info.restype = ctypes.c_char_p
        options = _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_DONT_EXIT
        self.rate = int(self._lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None, options))
        if self.rate <= 0:
            raise UsageError("eSpeak NG did not start (is its data installed?)")
        self._chunks: list[np.ndarray] = []
        self._events: list[Event] = []
        # Kept on the instance: the library calls it for as long as the process lives.
        self._callback = _CALLBACK(self._collect)
        self._lib.espeak_SetSynthCallback(self._callback)

    @classmethod
    def get(cls) -> Espeak:
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def version(self) -> str:
        info = self._lib.espeak_Info(None)
        return info.decode("utf-8", "replace") if info else "unknown version"

    def _collect(
        self, wav: ctypes._Pointer[ctypes.c_short], n: int, ev: ctypes._Pointer[_Event]
    ) -> int:
        if n > 0 and wav:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        i = 0
        while ev[i].type != _EVENT_LIST_TERMINATED:
            e = ev[i]
            name = bytes(e.id).split(b"\0", 1)[0]
            self._events.append(Event(e.type, e.text_position, e.sample, name))
            i += 1
        return 0

    def speak_here(self, text: str, voice: str, wpm: int) -> Speech:
        """``text`` spoken in this process (its state carries over to the next text)."""
        if self._lib.espeak_SetVoiceByName(voice.encode("ascii")) != 0:
            raise UsageError(f"eSpeak NG has no voice {voice!r}")
        self._lib.espeak_SetParameter(_PARAM_RATE, wpm, 0)
        self._chunks, self._events = [], []
        data = text.encode("utf-8")
        flags = _CHARS_UTF8 | _ENDPAUSE
        status = self._lib.espeak_Synth(data, len(data) + 1, 0, 0, 0, flags, None, None)
        self._lib.espeak_Synchronize()
        if status != 0:
            raise UsageError(f"eSpeak NG failed on {text!r} (status {status})")
        samples = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        tokens = token_starts(text)
        groups = word_groups(self._events, tokens, len(samples))
        return Speech(samples, self.rate, split_groups(groups, text, self.phoneme_count))

    def phoneme_count(self, word: str) -> int:
        """How many phonemes eSpeak makes of ``word`` said alone."""
        self._lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        pointer = ctypes.pointer(ctypes.c_char_p(word.encode("utf-8")))
        out = self._lib.espeak_TextToPhonemes(pointer, _CHARS_UTF8, ord("|") << 8) or b""
        return len([p for p in out.split(b"|") if p.strip()])


@dataclass(frozen=True)
class Event:
    kind: int
    #: 1-based code point index of the word in the text (word events).
    text_position: int
    sample: int
    name: bytes


@dataclass
class _Group:
    """The text words one word event of eSpeak covers, and the sounding phonemes it said."""

    first: int
    last: int
    phonemes: list[tuple[int, int]]  # (start sample, end sample)


def token_starts(text: str) -> list[int]:
    """The 1-based code point index where each whitespace-separated word of ``text`` starts."""
    starts = []
    for i, ch in enumerate(text):
        if not ch.isspace() and (i == 0 or text[i - 1].isspace()):
            starts.append(i + 1)
    return starts


def word_groups(events: list[Event], tokens: list[int], n_samples: int) -> list[_Group]:
    """Each word event's words and phonemes. eSpeak reads some word pairs as one (``on the``
    from its dictionary): that event covers every word up to the next event's."""
    groups: list[_Group] = []
    marks: list[tuple[int, bool]] = []  # (sample, is a pause) of every phoneme, in order
    owners: list[int] = []  # the group each phoneme belongs to
    end_sample = n_samples
    for ev in events:
        if ev.kind == _EVENT_WORD:
            token = max(0, bisect.bisect_right(tokens, ev.text_position) - 1)
            if groups and token <= groups[-1].last:
                continue  # one word read as several: still that word
            groups.append(_Group(token, token, []))
        elif ev.kind == _EVENT_PHONEME and groups:
            marks.append((ev.sample, ev.name.startswith(_PAUSE_PREFIX)))
            owners.append(len(groups) - 1)
        elif ev.kind == _EVENT_END:
            end_sample = min(end_sample, ev.sample)
    for i, group in enumerate(groups):
        group.last = groups[i + 1].first - 1 if i + 1 < len(groups) else len(tokens) - 1
    for i, ((sample, pause), owner) in enumerate(zip(marks, owners, strict=True)):
        if not pause:
            until = marks[i + 1][0] if i + 1 < len(marks) else end_sample
            groups[owner].phonemes.append((sample, until))
    return groups


def split_groups(
    groups: list[_Group], text: str, phoneme_count: Callable[[str], int]
) -> list[tuple[int, int] | None]:
    """Each word's ``(start, end)`` sample, or None where it cannot be told exactly.

    A group of several words is split by how many phonemes each word has said alone; when
    those do not add up to what was said, its words get no span rather than a guess.
    """
    words = text.split()
    out: list[tuple[int, int] | None] = [None] * len(words)
    for group in groups:
        count = group.last - group.first + 1
        sizes = (
            [len(group.phonemes)]
            if count == 1
            else [phoneme_count(w) for w in words[group.first : group.last + 1]]
        )
        if sum(sizes) != len(group.phonemes) or 0 in sizes:
            continue
        at = 0
        for k, size in enumerate(sizes):
            mine = group.phonemes[at : at + size]
            out[group.first + k] = (mine[0][0], mine[-1][1])
            at += size
    return out


#: Longest a fresh process may take to speak one text.
SPEAK_TIMEOUT_S = 30.0


def speak(text: str, voice: str, wpm: int) -> Speech:
    """``text`` spoken by ``voice`` at ``wpm`` words a minute in a fresh process: the same
    samples ``espeak-ng -v VOICE -s WPM -w FILE`` writes, and its word spans."""
    try:
        proc = subprocess.run(
            [sys.executable, "-m", __name__, voice, str(wpm)],
            input=text.encode("utf-8"),
            capture_output=True,
            timeout=SPEAK_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise UsageError(f"eSpeak NG took over {SPEAK_TIMEOUT_S:g} s on {text!r}") from None
    if proc.returncode != 0:
        reason = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise UsageError(reason[-1] if reason else f"eSpeak NG failed on {text!r}")
    head, _, body = proc.stdout.partition(b"\n")
    meta = json.loads(head)
    samples = np.frombuffer(body, dtype="<i2").astype(np.int16)
    spans = [None if w is None else (int(w[0]), int(w[1])) for w in meta["words"]]
    return Speech(samples, int(meta["rate"]), spans)


def version() -> str:
    """The library's version, asked in a fresh process like ``speak``."""
    proc = subprocess.run(
        [sys.executable, "-m", __name__, "--version"], capture_output=True, timeout=SPEAK_TIMEOUT_S
    )
    if proc.returncode != 0:
        reason = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise UsageError(reason[-1] if reason else "eSpeak NG did not start")
    return proc.stdout.decode().strip()


def _main(argv: list[str]) -> int:
    """``python -m harness.audio.espeak VOICE WPM < text``: a JSON line, then the samples."""
    try:
        engine = Espeak.get()
        if argv == ["--version"]:
            print(engine.version())
            return 0
        voice, wpm = argv[0], int(argv[1])
        speech = engine.speak_here(sys.stdin.buffer.read().decode("utf-8"), voice, wpm)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return 2
    out = sys.stdout.buffer
    out.write(json.dumps({"rate": speech.rate, "words": speech.words}).encode() + b"\n")
    out.write(speech.samples.astype("<i2").tobytes())
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
