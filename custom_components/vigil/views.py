"""Authenticated media through Home Assistant: the browser never sees the engine token.

Clips and snapshots are proxied from the engine with HTTP Range passed through,
so video seeking works. Media-source URLs are signed by HA, which lets a
<video> element play them without an Authorization header.
"""

from __future__ import annotations

import re
from http import HTTPStatus

import aiohttp
from aiohttp import web
from homeassistant.components.http import HomeAssistantView
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, callback

from .const import DOMAIN

NAME_RE = re.compile(r"^(?P<id>\d{10,16}-[0-9a-f]{6})\.(?P<ext>mp4|jpg)$")
EXPORT_RE = re.compile(r"^(?P<camera>[a-z0-9_]+)-(?P<start>\d+(?:\.\d+)?)-(?P<end>\d+(?:\.\d+)?)"
                       r"\.mp4$")
PASS_HEADERS = ("Content-Type", "Content-Length", "Content-Range", "Accept-Ranges",
                "Last-Modified", "ETag")


@callback
def async_setup_views(hass: HomeAssistant) -> None:
    hass.http.register_view(VigilMediaView(hass))


def media_path(entry_id: str, kind: str, name: str) -> str:
    return f"/api/vigil/{entry_id}/{kind}/{name}"


class VigilMediaView(HomeAssistantView):
    url = "/api/vigil/{entry_id}/{kind}/{name}"
    name = "api:vigil:media"
    requires_auth = True

    def __init__(self, hass: HomeAssistant) -> None:
        self.hass = hass

    async def get(self, request: web.Request, entry_id: str, kind: str,
                  name: str) -> web.StreamResponse:
        entry = self.hass.config_entries.async_get_entry(entry_id)
        if entry is None or entry.domain != DOMAIN or entry.state is not ConfigEntryState.LOADED:
            return web.Response(status=HTTPStatus.NOT_FOUND)
        params: dict[str, str] = {}
        if kind in ("clip", "snapshot"):
            match = NAME_RE.match(name)
            if not match or match["ext"] != ("mp4" if kind == "clip" else "jpg"):
                return web.Response(status=HTTPStatus.NOT_FOUND)
            path = f"api/events/{match['id']}/{'clip.mp4' if kind == 'clip' else 'snapshot.jpg'}"
        elif kind == "export":
            match = EXPORT_RE.match(name)
            if not match:
                return web.Response(status=HTTPStatus.NOT_FOUND)
            path = f"api/cameras/{match['camera']}/clip.mp4"
            params = {"start": match["start"], "end": match["end"]}
        else:
            return web.Response(status=HTTPStatus.NOT_FOUND)
        client = entry.runtime_data.client
        headers = client.auth_headers()
        if "Range" in request.headers:
            headers["Range"] = request.headers["Range"]
        try:
            upstream = await client.session.get(f"{client.base_url}/{path}", params=params,
                                                headers=headers,
                                                timeout=aiohttp.ClientTimeout(total=300))
        except (aiohttp.ClientError, TimeoutError):
            return web.Response(status=HTTPStatus.BAD_GATEWAY)
        async with upstream:
            if upstream.status >= 400:
                return web.Response(status=upstream.status if upstream.status == 404
                                    else HTTPStatus.BAD_GATEWAY)
            resp = web.StreamResponse(status=upstream.status, headers={
                k: upstream.headers[k] for k in PASS_HEADERS if k in upstream.headers})
            await resp.prepare(request)
            async for chunk in upstream.content.iter_chunked(64 * 1024):
                await resp.write(chunk)
            await resp.write_eof()
            return resp
