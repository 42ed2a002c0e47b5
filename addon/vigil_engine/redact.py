"""Keep secrets (camera passwords, the API token) out of every text that leaves the engine.

Two layers: patterns that hide credentials in any URL (``scheme://user:pass@host`` and
``?user=..&password=..``), and the literal secrets the configuration holds, so a password
that FFmpeg quotes decoded or on its own is hidden too. Error texts are scrubbed where
they are made (capture); the log formatter scrubs every line as a last line of defence.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import parse_qsl, quote, unquote, urlsplit

MASK = "***"
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@?#]*@")
_QUERY_KEYS = ("user", "username", "usr", "login", "pass", "password", "passwd", "pwd", "psw",
               "token", "auth", "key", "apikey", "api_key", "secret", "access_token")
_QUERY = re.compile(r"(?i)([?&;](?:" + "|".join(_QUERY_KEYS) + r")=)[^&;\s'\"#]*")
MIN_SECRET = 4  # shorter literals would mangle ordinary words and numbers

_lock = threading.Lock()
_known: set[str] = set()
_literal: re.Pattern[str] | None = None


def add_secret(secret: str | None) -> None:
    """Remember a secret (and its URL-encoded and decoded forms) to hide in any text."""
    global _literal
    if not secret:
        return
    forms = {secret, unquote(secret), quote(secret, safe="")}
    with _lock:
        new = {f for f in forms if len(f) >= MIN_SECRET} - _known
        if not new:
            return
        _known.update(new)
        _literal = re.compile("|".join(re.escape(s) for s in sorted(_known, key=len,
                                                                       reverse=True)))


def url_secrets(url: str) -> list[str]:
    """The credentials a stream URL carries: user info and secret-looking query values."""
    if "://" not in url:
        return []
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found = [parts.password or ""]
    found += [v for k, v in parse_qsl(parts.query, keep_blank_values=False)
              if k.lower() in _QUERY_KEYS and k.lower() not in ("user", "username", "usr",
                                                                 "login")]
    return [s for s in found if s]


def scrub(text: str) -> str:
    """``text`` with every credential hidden."""
    if not text:
        return text
    text = _USERINFO.sub(lambda m: m.group(1) + MASK + "@", text)
    text = _QUERY.sub(lambda m: m.group(1) + MASK, text)
    pattern = _literal
    if pattern is not None:
        text = pattern.sub(MASK, text)
    return text


class ScrubbingFormatter(logging.Formatter):
    """Formats as usual, then hides secrets in the whole line (tracebacks included)."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


def install_log_scrubber() -> None:
    """Put the scrubbing formatter on every handler of the root logger."""
    for handler in logging.getLogger().handlers:
        fmt = handler.formatter
        handler.setFormatter(ScrubbingFormatter(fmt._fmt if fmt else None,
                                                fmt.datefmt if fmt else None))
