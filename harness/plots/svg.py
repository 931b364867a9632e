"""Small pieces of SVG text shared by the pictures: safe text, numbers, one element.

Text from a server or a manifest reaches SVG through ``svg_text``: control characters,
bidi overrides and lone surrogates shown visibly (``harness.protocol.escape.printable``,
so the picture says what the terminal says), the two noncharacters XML 1.0 forbids
likewise, and ``& < > " '`` as entities, so it can never end an element or an attribute.
"""

from __future__ import annotations

import re
from html import escape

from harness.protocol.escape import printable

#: Characters XML 1.0 does not allow even as references, beyond what ``printable`` shows.
_NOT_XML = re.compile("[\ufffe\uffff]")
#: Generic families only: a picture must not fetch or need a font.
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"


def svg_text(text: str, limit: int | None = None) -> str:
    """``text`` safe as SVG character data or attribute value, cut to ``limit`` characters."""
    shown = printable(text)
    if limit is not None and len(shown) > limit:
        shown = shown[: max(1, limit - 1)] + "\u2026"
    return escape(_NOT_XML.sub(lambda m: f"\\u{ord(m.group()):04x}", shown), quote=True)


def num(v: float) -> str:
    """A coordinate: one decimal is finer than a pixel."""
    return f"{v:.1f}"


def element(tag: str, body: str = "", /, **attrs: object) -> str:
    """``<tag a="v" ...>body</tag>``; attribute names take ``-`` for ``_``; values are ours
    (numbers, colours), never server text, which goes in ``body`` through ``svg_text``."""
    parts = []
    for name, value in attrs.items():
        if value is None:
            continue
        shown = num(value) if isinstance(value, float) else str(value)
        parts.append(f' {name.rstrip("_").replace("_", "-")}="{shown}"')
    head = f"<{tag}{''.join(parts)}"
    return f"{head}>{body}</{tag}>" if body else f"{head}/>"


def line(x1: float, y1: float, x2: float, y2: float, stroke: str, **attrs: object) -> str:
    return element("line", x1=x1, y1=y1, x2=x2, y2=y2, stroke=stroke, **attrs)


def label(text: str, x: float, y: float, **attrs: object) -> str:
    """A ``<text>`` of ``text``, which must already be safe (``svg_text``, or ours)."""
    return element("text", text, x=x, y=y, **attrs)
