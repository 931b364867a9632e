"""API keys: where they come from and how they are checked.

Keys come from ``--apikey`` (repeatable), the ``ASRX_APIKEYS`` environment variable (a comma
list; what ``EmbeddedServer`` uses so keys never appear in ``ps``) and ``--apikey-file``
(one key per line, ``#`` comments). They are compared in constant time and never logged.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Iterable
from pathlib import Path

from harness.errors import UsageError

ENV_APIKEYS = "ASRX_APIKEYS"


def load_keys(
    cli_keys: Iterable[str] = (), key_file: str | None = None, env: dict[str, str] | None = None
) -> tuple[str, ...]:
    env = os.environ if env is None else env  # type: ignore[assignment]
    keys = [k.strip() for k in cli_keys]
    keys += [k.strip() for k in env.get(ENV_APIKEYS, "").split(",")]  # type: ignore[union-attr]
    if key_file:
        try:
            text = Path(key_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read apikey file {key_file}: {exc.strerror or exc}") from None
        keys += [line.strip() for line in text.splitlines() if not line.lstrip().startswith("#")]
    # Order kept, duplicates and empty keys dropped: an empty key must never authenticate.
    return tuple(dict.fromkeys(k for k in keys if k))


class KeyRing:
    """The accepted keys, checked without leaking which (or how much of one) matched."""

    def __init__(self, keys: Iterable[str]) -> None:
        self._keys = tuple(k.encode() for k in keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:  # never show the keys, even in a traceback
        return f"KeyRing(<{len(self._keys)} keys>)"

    def check(self, presented: str | None) -> bool:
        if not presented:
            return False
        candidate = presented.encode("utf-8", "surrogateescape")
        ok = False
        for key in self._keys:  # no short-circuit: time does not depend on which key matched
            ok |= hmac.compare_digest(candidate, key)
        return ok
