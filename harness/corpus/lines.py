"""One manifest line to an ``Utterance``, or one ``ManifestError`` saying what is wrong.

Whatever the line holds (any JSON, numbers of thousands of digits, nesting thousands deep,
control characters, megabytes of text), the answer is an utterance or that error: never
another exception. Values quoted in an error are cut short and escaped (``reprlib``), so
a hostile manifest cannot flood or rewrite the terminal that shows the error.
"""

from __future__ import annotations

import json
import math
import re
import reprlib
import unicodedata
from collections.abc import Callable
from pathlib import Path

from harness.corpus.utterance import (
    OPTIONAL_FIELDS,
    REQUIRED_FIELDS,
    ManifestError,
    Segment,
    Utterance,
)
from harness.errors import UsageError
from harness.protocol.text import normalize
from harness.protocol.words import ReferenceWord

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
LANG_RE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
MAX_ID_CHARS = 200
#: A word may end this far past ``duration_ms`` (rounding of times to 4 decimals).
WORD_TOLERANCE_MS = 1.0

_SHOW = reprlib.Repr()
_SHOW.maxstring = 60
_SHOW.maxother = 60
_SHOW.maxlist = 4
_SHOW.maxdict = 4
_SHOW.maxlevel = 3

Bad = Callable[[str], ManifestError]


def show(value: object) -> str:
    """``value`` for an error message: short, escaped, never more than a line."""
    return _SHOW.repr(value)


def parse_line(text: str, *, root: Path, path: Path, line: int) -> Utterance:
    """One manifest line to an ``Utterance``; ``ManifestError`` says what is wrong with it."""

    def bad(detail: str) -> ManifestError:
        return ManifestError(path, line, detail)

    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise bad(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    except ValueError as exc:  # an integer of more digits than Python converts
        raise bad(f"not valid JSON ({str(exc).split(';')[0]})") from None
    except RecursionError:
        raise bad("not valid JSON (nested too deeply)") from None
    if not isinstance(obj, dict):
        raise bad(f"expected a JSON object, got {_json_type(obj)}")
    missing = [k for k in REQUIRED_FIELDS if k not in obj]
    if missing:
        raise bad(f"missing field{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    unknown = sorted(set(obj) - set(REQUIRED_FIELDS) - set(OPTIONAL_FIELDS))
    if unknown:
        names = ", ".join(show(k)[1:-1] for k in unknown[:5])
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise bad(f"unknown field{'s' if len(unknown) > 1 else ''} {names}{more}")

    uid = obj["id"]
    if not isinstance(uid, str) or len(uid) > MAX_ID_CHARS or not ID_RE.match(uid):
        raise bad(
            f"id must be at most {MAX_ID_CHARS} letters, digits, '.', '_' or '-', got {show(uid)}"
        )

    def bad_field(detail: str) -> ManifestError:
        return bad(f"{uid}: {detail}")

    for key in ("audio", "lang", "source"):
        if not isinstance(obj[key], str):
            raise bad_field(f"{key} must be a string, got {_json_type(obj[key])}")
    text_value = obj.get("text")
    if text_value is not None and not isinstance(text_value, str):
        raise bad_field(f"text must be a string or null, got {_json_type(text_value)}")
    if not LANG_RE.match(obj["lang"]):
        raise bad_field(f"lang must be a tag such as 'en' or 'th-TH', got {show(obj['lang'])}")
    for key, value in (("text", text_value), ("source", obj["source"])):
        if isinstance(value, str) and (where := _control_character(value)) is not None:
            raise bad_field(f"{key} holds a control character at position {where}")
    if not obj["source"].strip():
        raise bad_field("source is empty (say where the audio came from and its licence)")
    audio = resolve_audio(obj["audio"], root)
    if audio is None:
        raise bad_field(
            f"audio must be a relative path inside the corpus, got {show(obj['audio'])}"
        )

    duration = number(obj["duration_ms"])
    if duration is None or duration < 0:
        raise bad_field(f"duration_ms must be a number >= 0, got {show(obj['duration_ms'])}")
    segments = _parse_segments(obj["segments"], bad_field)
    sentences = obj.get("sentences", [])
    if not isinstance(sentences, list) or not all(isinstance(s, str) for s in sentences):
        raise bad_field("sentences must be a list of strings")
    if sentences and text_value is None:
        raise bad_field("sentences are given but text is not")
    if sentences and len(sentences) != len(segments):
        raise bad_field(f"{len(sentences)} sentences for {len(segments)} segments")
    words = _parse_words(obj.get("words", []), duration, bad_field)
    if words:
        _check_words_spell_text(words, text_value, obj["lang"], bad_field)
    return Utterance(
        id=uid,
        audio=audio,
        lang=obj["lang"],
        text=text_value,
        duration_ms=duration,
        segments=segments,
        source=obj["source"],
        sentences=tuple(sentences),
        words=words,
    )


def _json_type(value: object) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def number(value: object) -> float | None:
    """``value`` as a finite float, or None when it is not a JSON number that fits one."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        out = float(value)
    except OverflowError:  # an integer too large for a float
        return None
    return out if math.isfinite(out) else None


def _control_character(text: str) -> int | None:
    for i, ch in enumerate(text):
        if ch not in "\t\n\r" and unicodedata.category(ch) == "Cc":
            return i
    return None


def _parse_segments(raw: object, bad: Bad) -> tuple[Segment, ...]:
    if not isinstance(raw, list):
        raise bad("segments must be a list of [on_ms, off_ms] pairs")
    out: list[Segment] = []
    for i, pair in enumerate(raw):
        shaped = isinstance(pair, list) and len(pair) == 2
        on = number(pair[0]) if shaped else None
        off = number(pair[1]) if shaped else None
        if on is None or off is None:
            raise bad(f"segment {i} must be a pair of numbers [on_ms, off_ms], got {show(pair)}")
        if on < 0 or off <= on:
            raise bad(f"segment {i} [{on:g}, {off:g}] must have 0 <= on < off")
        if out and on < out[-1][1]:
            raise bad(f"segment {i} starts at {on:g} ms, before segment {i - 1} ends")
        out.append((on, off))
    return tuple(out)


def _parse_words(raw: object, duration: float, bad: Bad) -> tuple[ReferenceWord, ...]:
    if not isinstance(raw, list):
        raise bad("words must be a list of [word, start_ms, end_ms] triples")
    out: list[ReferenceWord] = []
    last_end = 0.0
    for i, item in enumerate(raw):
        if not (isinstance(item, list) and len(item) == 3 and isinstance(item[0], str)):
            raise bad(f"word {i} must be [word, start_ms, end_ms], got {show(item)}")
        word, start_raw, end_raw = item
        if not word or any(ch.isspace() for ch in word) or _control_character(word) is not None:
            raise bad(f"word {i} must be one word (no spaces), got {show(word)}")
        if start_raw is None and end_raw is None:
            out.append(ReferenceWord(word))  # an aligner could not place it
            continue
        start, end = number(start_raw), number(end_raw)
        if start is None or end is None:
            raise bad(
                f"word {i} {show(word)} needs two numbers or two nulls as times, "
                f"got {show(start_raw)}, {show(end_raw)}"
            )
        if start < 0 or end <= start:
            raise bad(f"word {i} {show(word)} [{start:g}, {end:g}] must have 0 <= start < end")
        if start < last_end:
            raise bad(f"word {i} {show(word)} starts at {start:g} ms, before word {i - 1} ends")
        if end > duration + WORD_TOLERANCE_MS:
            raise bad(f"word {i} {show(word)} ends at {end:g} ms, after duration_ms {duration:g}")
        last_end = end
        out.append(ReferenceWord(word, start, end))
    return tuple(out)


def _check_words_spell_text(
    words: tuple[ReferenceWord, ...], text: str | None, lang: str, bad: Bad
) -> None:
    if text is None:
        raise bad("words are given but text is not")
    spelled = normalize(" ".join(w.text for w in words), lang)
    wanted = normalize(text, lang)
    if spelled != wanted:
        at = next(
            (i for i, (a, b) in enumerate(zip(spelled, wanted, strict=False)) if a != b),
            min(len(spelled), len(wanted)),
        )
        raise bad(
            "the words do not spell the text (after normalization): they read "
            f"{show(spelled[max(0, at - 20) : at + 20])} where the text reads "
            f"{show(wanted[max(0, at - 20) : at + 20])}"
        )


def resolve_audio(rel: str, root: Path) -> Path | None:
    """``rel`` resolved inside ``root``, or None when it is absolute, escapes or is unusable."""
    if not rel or rel.startswith(("/", "\\")) or _control_character(rel) is not None:
        return None
    try:
        if Path(rel).is_absolute():
            return None
        resolved = (root / rel).resolve()
        inside = resolved.is_relative_to(root.resolve())
    except (OSError, ValueError, RuntimeError):  # too long a name, a symlink loop
        return None
    return resolved if inside else None


def check_lang(lang: str) -> str:
    """``lang`` if it is a language tag (``en``, ``th-TH``), else ``UsageError``."""
    if not LANG_RE.match(lang):
        raise UsageError(f"language must be a tag such as 'en' or 'th-TH', got {show(lang)}")
    return lang
