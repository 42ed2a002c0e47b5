"""Server-side sessions for the web UI's cookie.

The cookie holds a random id; the engine keeps only its SHA-256 with an expiry, in
``DATA/sessions.json`` (0600), so sessions survive restarts, expire, and end at logout.
Changing the API token ends every session (the file records which token made them).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import time
from pathlib import Path

_LOGGER = logging.getLogger(__name__)

SESSION_SECONDS = 7 * 86400
MAX_SESSIONS = 200  # oldest go first: a token holder cannot grow the file without bound


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()


class Sessions:
    def __init__(self, path: Path, token: str, lifetime: float = SESSION_SECONDS) -> None:
        self.path = path
        self.lifetime = lifetime
        self._token_id = _digest("vigil-sessions:" + token)
        self._sessions: dict[str, float] = {}  # sha256(id) -> expiry (epoch)
        self._load()

    def _load(self) -> None:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError):
            _LOGGER.warning("%s is unreadable; all web sessions end", self.path)
            return
        if not isinstance(raw, dict) or raw.get("token") != self._token_id:
            return  # another token made them: they end with it
        sessions = raw.get("sessions")
        if isinstance(sessions, dict):
            now = time.time()
            self._sessions = {k: float(v) for k, v in sessions.items()
                              if isinstance(k, str) and isinstance(v, int | float) and v > now}

    def _save(self) -> None:
        tmp = self.path.with_name(".sessions.json.tmp")
        data = json.dumps({"token": self._token_id, "sessions": self._sessions})
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(data)
        os.replace(tmp, self.path)

    def create(self) -> str:
        """A new session; returns the cookie value (never stored as such)."""
        now = time.time()
        self._sessions = {k: v for k, v in self._sessions.items() if v > now}
        while len(self._sessions) >= MAX_SESSIONS:
            self._sessions.pop(min(self._sessions, key=self._sessions.__getitem__))
        value = secrets.token_urlsafe(32)
        self._sessions[_digest(value)] = now + self.lifetime
        self._save()
        return value

    def valid(self, value: str | None) -> bool:
        if not value:
            return False
        expiry = self._sessions.get(_digest(value))
        return expiry is not None and expiry > time.time()

    def revoke(self, value: str | None) -> None:
        if value and self._sessions.pop(_digest(value), None) is not None:
            self._save()
