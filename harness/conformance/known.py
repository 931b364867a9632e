"""Known deviations: the rules or checks a service departs from on purpose (``--asrx-known``).

A team that ships a service which deviates on purpose keeps a TOML file beside its CI
recipe::

    [[deviation]]
    rule = "3.state"                  # a rule id (docs/protocol.md), and/or
    check = "test_message_schema"     # a check: every case, or one: "test_x[case]"
    reason = "the confirmation carries no state; our clients never read it"
    expires = 2025-06-30              # optional: from the next day on it fails again

A failing finding an entry covers is graded KNOWN (the check is reported as an expected
failure and does not fail the run); one only an expired entry covers fails, saying so; an
entry that covered nothing in a run that exercised it is reported as fixed, so the file
can be cleaned. Entries are checked when the file is read: one problem, one line.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from harness.conformance.capped import read_capped
from harness.errors import UsageError
from harness.protocol.escape import printable
from harness.protocol.rules import RULES

#: Bytes of known-deviations file read at most: the file is a short hand-written list.
MAX_FILE_BYTES = 1 << 20
_FIELDS = {"rule", "check", "reason", "expires"}


@dataclass(frozen=True)
class Deviation:
    """One entry of the file: a rule, a check, or a rule within a check."""

    index: int  # 1-based position in the file, to name it in messages
    reason: str
    rule: str | None = None
    check: str | None = None
    expires: date | None = None

    @property
    def label(self) -> str:
        parts = [f"§{self.rule}" if self.rule else "", self.check or ""]
        return " in ".join(p for p in parts if p)

    def covers(self, rule: str, check: str) -> bool:
        """Whether a finding of ``rule`` in the check ``check`` (``name[case]``) is covered."""
        if self.rule is not None and self.rule != rule:
            return False
        return self.check is None or self.check in (check, check.split("[", 1)[0])

    def aims_at(self, rules: tuple[str, ...], check: str) -> bool:
        """Whether a check with these rules could show this deviation at all."""
        if self.check is not None and self.check not in (check, check.split("[", 1)[0]):
            return False
        return self.rule is None or self.rule in rules

    def expired(self, today: date) -> bool:
        return self.expires is not None and today > self.expires


@dataclass(frozen=True)
class KnownDeviations:
    path: Path
    entries: tuple[Deviation, ...]

    def match(self, rule: str, check: str, today: date) -> Deviation | None:
        """The entry covering a finding: an unexpired one if any, else an expired one."""
        covering = [d for d in self.entries if d.covers(rule, check)]
        live = [d for d in covering if not d.expired(today)]
        return (live or covering)[0] if covering else None


def load_known(path: Path) -> KnownDeviations:
    """Read and check the file; ``UsageError`` with one line naming the problem."""
    where = str(path)
    raw = read_capped(path, MAX_FILE_BYTES, f"--asrx-known {where}")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"--asrx-known {where}: not valid TOML: {exc}") from None
    extra = sorted(set(data) - {"deviation"})
    if extra:
        raise UsageError(f"--asrx-known {where}: unknown table(s) {', '.join(extra)}")
    items = data.get("deviation", [])
    if not isinstance(items, list):
        raise UsageError(f"--asrx-known {where}: 'deviation' must be an array of tables")
    entries = tuple(_entry(item, i, where) for i, item in enumerate(items, 1))
    return KnownDeviations(path, entries)


def _entry(item: object, index: int, where: str) -> Deviation:
    at = f"--asrx-known {where}: deviation {index}"
    if not isinstance(item, dict):
        raise UsageError(f"{at}: must be a table")
    unknown = sorted(set(item) - _FIELDS)
    if unknown:
        raise UsageError(f"{at}: unknown field(s) {', '.join(unknown)}")
    rule, check, reason = item.get("rule"), item.get("check"), item.get("reason")
    if rule is None and check is None:
        raise UsageError(f"{at}: needs a 'rule' or a 'check'")
    if rule is not None and (not isinstance(rule, str) or rule not in RULES):
        raise UsageError(f"{at}: unknown rule {rule!r} (rule ids: docs/protocol.md)")
    if check is not None and (not isinstance(check, str) or not check.startswith("test_")):
        raise UsageError(f"{at}: 'check' must name a check, such as 'test_message_schema'")
    if not isinstance(reason, str) or not reason.strip():
        raise UsageError(f"{at}: needs a 'reason'")
    return Deviation(index, printable(reason.strip()), rule, check, _date(item.get("expires"), at))


def _date(value: object, at: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise UsageError(f"{at}: 'expires' must be a date such as 2025-06-30")
