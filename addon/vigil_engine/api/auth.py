"""Bearer-token authentication shared by REST and (later) WebSocket."""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from ..redact import add_secret


def load_or_create_token(data_dir: Path, configured: str | None) -> str:
    """The configured token, else one generated once and kept in ``DATA/token`` (0600)."""
    if configured:
        add_secret(configured)
        return configured
    path = data_dir / "token"
    if path.is_file():
        token = path.read_text(encoding="utf-8").strip()
        if len(token) >= 16:
            add_secret(token)
            return token
    data_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    tmp = path.with_name(".token.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token + "\n")
    os.replace(tmp, path)
    add_secret(token)
    return token


def token_matches(expected: str, given: str | None) -> bool:
    """Constant-time comparison so response timing leaks nothing about the token."""
    if not given:
        return False
    try:  # a header with non-ASCII bytes is just a wrong token, never a 500
        return hmac.compare_digest(expected.encode(), given.encode("utf-8", "surrogateescape"))
    except UnicodeError:
        return False


def bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None
