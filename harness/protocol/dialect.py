"""The asrx dialect: what docs/protocol.md leaves to a deployment, with its defaults.

A profile is a small TOML file overriding any of these fields::

    [dialect]
    path = "/asrx"
    key_header = "apikey"
    end_of_stream = '{"data": {"status": "CloseConnection"}}'
    confirmation_text = "Confirm Close Connection"
    new_sentence_state = "NewSentence"
    allowed_states = ["NewSentence", "Sentence"]   # omitted: any string (lenient)
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from harness.errors import UsageError

DEFAULT_END_OF_STREAM: dict[str, Any] = {"data": {"status": "CloseConnection"}}


@dataclass(frozen=True)
class Dialect:
    path: str = "/asrx"
    key_header: str = "apikey"
    #: The client's end-of-stream text frame, as the JSON object it serialises.
    end_of_stream: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_END_OF_STREAM))
    confirmation_text: str = "Confirm Close Connection"
    new_sentence_state: str = "NewSentence"
    #: ``None``: any string is a legal ``state`` (docs/protocol.md §3, lenient).
    allowed_states: frozenset[str] | None = None

    def end_of_stream_message(self) -> str:
        """The end-of-stream text frame to send."""
        return json.dumps(self.end_of_stream)

    def is_end_of_stream(self, obj: object) -> bool:
        """Whether a decoded client JSON message is this dialect's end-of-stream."""
        return obj == self.end_of_stream


DEFAULT_DIALECT = Dialect()


def load_profile(path: str | Path) -> Dialect:
    """Read a TOML profile; raise ``UsageError`` with one line on any problem."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read profile {p}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"profile {p} is not valid TOML: {exc}") from None
    table = data.get("dialect", data)
    if not isinstance(table, dict):
        raise UsageError(f"profile {p}: [dialect] must be a table")
    known = {f.name for f in fields(Dialect)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise UsageError(f"profile {p}: unknown dialect field(s): {', '.join(unknown)}")
    kwargs: dict[str, Any] = {}
    for name, value in table.items():
        if name == "end_of_stream":
            if isinstance(value, str):
                try:
                    value = json.loads(value)
                except json.JSONDecodeError as exc:
                    raise UsageError(f"profile {p}: end_of_stream is not JSON: {exc}") from None
            if not isinstance(value, dict):
                raise UsageError(f"profile {p}: end_of_stream must be a JSON object")
        elif name == "allowed_states":
            if not (isinstance(value, list) and all(isinstance(s, str) for s in value)):
                raise UsageError(f"profile {p}: allowed_states must be a list of strings")
            value = frozenset(value)
        elif not isinstance(value, str) or not value:
            raise UsageError(f"profile {p}: {name} must be a non-empty string")
        kwargs[name] = value
    if "path" in kwargs and not kwargs["path"].startswith("/"):
        raise UsageError(f"profile {p}: path must start with '/'")
    return Dialect(**kwargs)
