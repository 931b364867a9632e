"""Keeping the apikey out of everything the harness writes: one home for the one rule.

A key can reach an output in four ways, and each is handled where it stands:

- a **header**: websockets logs every handshake header at DEBUG (``> apikey: VALUE``); a
  header's value is masked by the header's *name* (``Redactor.headers``, and the log filter);
- a **URL**: ``wss://host/asrx?apikey=KEY``; a query value is masked when its name says
  secret or its value is a key, and so is a password in the URL's user info (``Redactor.url``);
- an **option value**: ``--asrx-apikey``; masked when the option's name says secret
  (key, token, secret, password, auth) or its value is a key (``Redactor.options``);
- **free text**: an exception or log message quoting the key; the key is replaced only
  where it stands as a whole token (``Redactor.text``), so the text around it is never
  rewritten: with a one-letter key ``s``, ``wss://127.0.0.1:1/asrx`` stays as it is.

``RedactingFilter`` applies the same to log records at every level (message, arguments and
formatted exception); ``install_log_filter`` puts one on every handler that could print a
record. The reference server's JSON log lines, the Locust run and the conformance suite all
use this module.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

#: What stands where a key was.
REDACTED = "***"
#: An option, setting or query parameter whose name holds one of these holds a secret.
SECRET_WORDS = ("key", "token", "secret", "password", "passwd", "auth", "credential")
#: Headers whose value is a credential whatever the dialect's key header is called.
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})

# A key found inside a longer token is part of another word, not the key: a token is a run
# of word characters (any script) and "-", and ".", "~", "+", "'" between two such
# characters (so "check's" is one word, while a key quoted as 'KEY' is still found).
_WORD = r"\w\-"
_BEFORE = rf"(?<![{_WORD}])(?<![{_WORD}][.~+'])"
_AFTER = rf"(?![{_WORD}])(?![.~+'][{_WORD}])"
#: A URL inside free text: a scheme, "://" and everything up to white space or a quote.
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s\"'<>]+")


def is_secret_name(name: str) -> bool:
    """True when an option, setting or parameter called ``name`` holds a secret."""
    lowered = name.lower()
    return any(word in lowered for word in SECRET_WORDS)


class Redactor:
    """Removes a set of keys from text, URLs, headers, options and nested values.

    ``secrets`` are the keys (empty or None ones are ignored); ``key_headers`` the header
    names that carry a key (the dialect's, ``apikey`` by default). Keys may be added later
    (``add``): an embedded server's key is made when the run starts.
    """

    def __init__(
        self, secrets: Iterable[str | None] = (), key_headers: Iterable[str] = ("apikey",)
    ) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.key_headers = frozenset(h.lower() for h in key_headers)
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        """Redact ``secret`` from now on (its percent-encoded form too)."""
        if not secret or secret in self._secrets:
            return
        self._secrets.add(secret)
        self._secrets.add(quote(secret, safe=""))
        # Longest first, so that a key containing another key is replaced whole.
        alternatives = "|".join(re.escape(s) for s in sorted(self._secrets, key=len, reverse=True))
        self._pattern = re.compile(f"{_BEFORE}(?:{alternatives}){_AFTER}")

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def is_secret(self, value: str) -> bool:
        return value in self._secrets

    def text(self, text: str) -> str:
        """``text`` with every whole-token occurrence of a key replaced by ``REDACTED``."""
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(REDACTED, text)

    def url(self, url: str) -> str:
        """``url`` with a user-info password and secret query values masked; the rest as is."""
        try:
            parts = urlsplit(url)
        except ValueError:
            return self.text(url)
        netloc = parts.netloc
        if parts.password:
            userinfo, _, hostport = netloc.rpartition("@")
            user = userinfo.partition(":")[0]
            netloc = f"{user}:{REDACTED}@{hostport}"
        query = "&".join(self._query_item(item) for item in parts.query.split("&"))
        rebuilt = urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
        return self.text(rebuilt)

    def _query_item(self, item: str) -> str:
        name, eq, value = item.partition("=")
        if eq and value and (is_secret_name(unquote(name)) or self.is_secret(unquote(value))):
            return f"{name}={REDACTED}"
        return item

    def string(self, value: str) -> str:
        """A value of unknown shape: each URL in it as a URL, the rest as free text.

        Only the URLs themselves go through ``url`` (``urlsplit`` would drop the tabs and
        newlines of the text around them)."""
        if "://" in value:
            value = _URL_IN_TEXT.sub(lambda m: self.url(m.group()), value)
        return self.text(value)

    def is_secret_header(self, name: str) -> bool:
        lowered = name.lower()
        return lowered in self.key_headers or lowered in CREDENTIAL_HEADERS

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """``headers`` with every credential header's value masked."""
        return {
            name: REDACTED if self.is_secret_header(name) else self.text(value)
            for name, value in headers.items()
        }

    def options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """Options or settings by name: secret-named ones masked, every other value cleaned."""
        out: dict[str, Any] = {}
        for name, value in options.items():
            if value and is_secret_name(str(name)) and not isinstance(value, bool | int | float):
                out[name] = REDACTED
            else:
                out[name] = self.value(value)
        return out

    def value(self, node: Any) -> Any:
        """A JSON-like value with the keys removed from every string in it (never from a
        mapping's own keys, which are the structure)."""
        if isinstance(node, str):
            return REDACTED if self.is_secret(node) else self.string(node)
        if isinstance(node, Mapping):
            return {k: self.value(v) for k, v in node.items()}
        if isinstance(node, list | tuple):
            return [self.value(v) for v in node]
        return node


def redact(text: str, *secrets: str | None) -> str:
    """``text`` without any of ``secrets`` (whole tokens only; see ``Redactor.text``)."""
    return Redactor(secrets).text(text)


class RedactingFilter(logging.Filter):
    """Removes the keys from every log record it sees, at any level.

    A header logged as ``("%s: %s", name, value)`` (websockets' handshake lines) has its value
    masked by name; then the formatted message and exception text lose every key. The
    record is changed in place, so every handler after this filter prints the clean text.
    """

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        r = self.redactor
        args = record.args
        if (
            isinstance(args, tuple)
            and len(args) == 2
            and isinstance(args[0], str)
            and r.is_secret_header(args[0])
        ):
            record.args = (args[0], REDACTED)
        if not r:
            return True
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed call: show its parts, cleaned
            message = f"{record.msg} {record.args}"
        clean = r.text(message)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = r.text(record.exc_text)
        if record.stack_info:
            record.stack_info = r.text(record.stack_info)
        return True


def install_log_filter(redactor: Redactor, logger_names: Iterable[str] = ()) -> RedactingFilter:
    """Put one ``RedactingFilter`` on every handler of the root logger and of the named
    loggers (those that do not propagate, such as Locust's), once per handler.

    A filter on a handler sees every record that handler prints, whichever logger made it;
    a filter on a logger would miss the records of its children (``websockets.client``).
    """
    flt = RedactingFilter(redactor)
    loggers = [logging.getLogger(), *(logging.getLogger(n) for n in logger_names)]
    for logger in loggers:
        for handler in logger.handlers:
            if not any(
                isinstance(f, RedactingFilter) and f.redactor is redactor for f in handler.filters
            ):
                handler.addFilter(flt)
    return flt
