"""Server text made safe to show: one set of unsafe characters, escaped visibly.

A server controls the text of its transcripts, close reasons and HTTP reason phrases. Shown
raw, an ESC sequence can retitle or rewrite the user's terminal, a NUL or a bidi override
can hide or reorder what a report says, and a lone surrogate (text decoded with
``surrogateescape``) makes a UTF-8 stream raise. Every output of server text goes through
``printable`` (terminal, findings, error lines) or ``safe_json`` (JSON lines): the
characters of ``UNSAFE`` never reach an output raw.

``printable`` leaves backslashes alone, so it is idempotent: escaping twice is escaping once.
"""

from __future__ import annotations

import json
import re

#: C0 controls, DEL and C1 controls; bidi marks, embeddings, overrides and isolates; the
#: line and paragraph separators; lone surrogates.
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _visible(m: re.Match[str]) -> str:
    ch = m.group()
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def _json_escape(m: re.Match[str]) -> str:
    return f"\\u{ord(m.group()):04x}"


def printable(text: str) -> str:
    """``text`` with every unsafe character in a visible form (``\\x1b``, ``\\u202e``, ``\\n``)."""
    return UNSAFE.sub(_visible, text)


def safe_json(obj: object) -> str:
    """``obj`` as one line of JSON with no unsafe character raw, and nothing lost.

    ``json.dumps`` already writes C0 controls as ``\\u00XX``; the rest of ``UNSAFE`` can only
    stand inside string literals of its output, where a ``\\uXXXX`` escape decodes back to
    the same character.
    """
    return UNSAFE.sub(_json_escape, json.dumps(obj, ensure_ascii=False))
