"""Frigate's HTTP API, the few documented endpoints Vigil uses.

``/api/version``, ``/api/events/{id}/clip.mp4``, ``/api/events/{id}/snapshot.jpg``,
``/api/<camera>/latest.jpg`` and ``POST /api/events/{id}/description``. Failures
are split the way the bridge acts on them: *gone* (404: Frigate no longer has it,
stop asking) and *unavailable* (down, timeout, 5xx: ask again later).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from urllib.parse import quote

import aiohttp

_LOGGER = logging.getLogger(__name__)
CHUNK = 256 * 1024
MAX_IMAGE = 20 * 1024 * 1024


class FrigateGone(Exception):
    """Frigate answered 404: the clip or snapshot does not exist (any more)."""


class FrigateUnavailable(Exception):
    """Frigate could not be reached, timed out or failed (5xx): worth retrying."""


class FrigateHttp:
    def __init__(self, base_url: str, timeout: float) -> None:
        self.base = base_url.rstrip("/")
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self.reachable = False
        self.version: str | None = None
        self.last_ok: float | None = None
        self.last_error: str | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout, sock_connect=5))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _ok(self) -> None:
        self.reachable = True
        self.last_ok = time.time()
        self.last_error = None

    def _fail(self, what: str, err: BaseException | str) -> FrigateUnavailable:
        self.reachable = False
        self.last_error = f"{what}: {err}"
        return FrigateUnavailable(self.last_error)

    def _check(self, resp: aiohttp.ClientResponse, path: str) -> None:
        """404 means gone (Frigate answered), anything else but 200 means try later."""
        if resp.status == 404:
            self._ok()
            raise FrigateGone(path)
        if resp.status != 200:
            raise self._fail(path, f"HTTP {resp.status}")

    async def _get(self, path: str, *, limit: int) -> tuple[bytes, str]:
        try:
            async with self._get_session().get(self.base + path) as resp:
                self._check(resp, path)
                # To the end: read(n) returns what has arrived so far, which over a real
                # network (or from a busy Frigate) is the first piece of the picture.
                chunks: list[bytes] = []
                size = 0
                async for chunk in resp.content.iter_chunked(CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise self._fail(path, "answer too large")
                    chunks.append(chunk)
                self._ok()
                return b"".join(chunks), resp.headers.get("Content-Type", "")
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            raise self._fail(path, err or type(err).__name__) from None

    async def check_version(self) -> str | None:
        try:
            body, _ = await self._get("/api/version", limit=1024)
        except (FrigateGone, FrigateUnavailable):
            self.reachable = False
            return None
        self.version = body.decode(errors="replace").strip().strip('"')[:64] or None
        return self.version

    async def snapshot(self, frigate_id: str) -> bytes:
        body, _ = await self._get(f"/api/events/{quote(frigate_id, safe='')}/snapshot.jpg",
                                  limit=MAX_IMAGE)
        return body

    async def latest(self, camera: str, height: int | None = None) -> bytes:
        path = f"/api/{quote(camera, safe='')}/latest.jpg"
        if height:
            path += f"?h={int(height)}"
        body, _ = await self._get(path, limit=MAX_IMAGE)
        return body

    async def clip(self, frigate_id: str, dest: Path) -> int:
        """Stream the clip to ``dest`` (atomically: a .part file renamed when complete)."""
        path = f"/api/events/{quote(frigate_id, safe='')}/clip.mp4"
        part = dest.with_name(dest.name + ".part")
        dest.parent.mkdir(parents=True, exist_ok=True)
        size = 0
        try:
            async with self._get_session().get(self.base + path) as resp:
                self._check(resp, path)
                with open(part, "wb") as fh:  # noqa: ASYNC230 - small chunks, local disk
                    async for chunk in resp.content.iter_chunked(CHUNK):
                        fh.write(chunk)
                        size += len(chunk)
                    fh.flush()
                    os.fsync(fh.fileno())
            if size == 0:
                raise self._fail(path, "empty clip")
            os.replace(part, dest)
            self._ok()
            return size
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            raise self._fail(path, err or type(err).__name__) from None
        finally:
            part.unlink(missing_ok=True)

    async def describe(self, frigate_id: str, text: str) -> None:
        """Write Vigil's summary into Frigate's own event description."""
        path = f"/api/events/{quote(frigate_id, safe='')}/description"
        try:
            async with self._get_session().post(self.base + path,
                                                json={"description": text}) as resp:
                if resp.status == 404:
                    raise FrigateGone(path)
                if resp.status >= 300:
                    raise self._fail(path, f"HTTP {resp.status}")
                self._ok()
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            raise self._fail(path, err or type(err).__name__) from None
