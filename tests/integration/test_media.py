"""Media source: browse engines -> cameras -> days -> events, play a clip through HA."""

from __future__ import annotations

import io

import av
from homeassistant.components import media_source
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.vigil.const import DOMAIN
from tests.support.engine import EngineProcess


async def test_browse_and_play_a_clip(hass: HomeAssistant, engine: EngineProcess,
                                      loaded_entry: MockConfigEntry,
                                      hass_client: ClientSessionGenerator) -> None:
    assert await async_setup_component(hass, "media_source", {})
    root = await media_source.async_browse_media(hass, f"media-source://{DOMAIN}")
    assert [c.title for c in root.children] == [loaded_entry.title]
    engine_node = await media_source.async_browse_media(hass, root.children[0].media_content_id)
    assert [c.title for c in engine_node.children] == ["Recordings", "Plaza"]
    camera = await media_source.async_browse_media(hass, engine_node.children[1].media_content_id)
    assert camera.children and "events" in camera.children[0].title
    day = await media_source.async_browse_media(hass, camera.children[0].media_content_id)
    playable = [c for c in day.children if c.can_play]
    assert playable, "a day with events has playable clips"
    item = playable[-1]
    assert any(level in item.title for level in ("low", "medium", "high", "critical"))
    assert item.thumbnail and "authSig=" in item.thumbnail
    resolved = await media_source.async_resolve_media(hass, item.media_content_id, None)
    assert resolved.mime_type == "video/mp4" and "authSig=" in resolved.url
    client = await hass_client()
    resp = await client.get(resolved.url)
    assert resp.status == 200 and resp.headers["Content-Type"] == "video/mp4"
    body = await resp.read()
    with av.open(io.BytesIO(body)) as c:
        assert sum(1 for _ in c.decode(video=0)) > 10  # it plays
    part = await client.get(resolved.url, headers={"Range": "bytes=0-99"})
    assert part.status == 206 and await part.read() == body[:100]
    thumb = await client.get(item.thumbnail)
    assert thumb.status == 200 and (await thumb.read())[:2] == b"\xff\xd8"
    # The view refuses anything that is not an event clip or snapshot.
    bad = await client.get(f"/api/vigil/{loaded_entry.entry_id}/clip/..%2F..%2Ftoken.mp4")
    assert bad.status in (400, 404)


async def test_recordings_by_camera_day_and_hour_play(
        hass: HomeAssistant, engine: EngineProcess, loaded_entry: MockConfigEntry,
        hass_client: ClientSessionGenerator) -> None:
    """Recordings -> camera -> day -> hour, as Frigate's integration offers: footage with
    no event behind it is reachable, and the hour plays through a signed URL."""
    assert await async_setup_component(hass, "media_source", {})
    base = f"media-source://{DOMAIN}/{loaded_entry.entry_id}"
    engine_node = await media_source.async_browse_media(hass, base)
    recordings = await media_source.async_browse_media(
        hass, engine_node.children[0].media_content_id)
    assert recordings.title == "Recordings" and [c.title for c in recordings.children] == [
        "Plaza"]
    camera = await media_source.async_browse_media(hass, recordings.children[0].media_content_id)
    today = dt_util.utcnow().strftime("%Y-%m-%d")  # the engine's zone here is UTC
    assert camera.children and camera.children[0].title.startswith(today)
    assert "h recorded" in camera.children[0].title
    day = await media_source.async_browse_media(hass, camera.children[0].media_content_id)
    hours = [c for c in day.children if c.can_play]
    assert hours, "an hour with footage"
    hour = hours[-1]  # the hour recording is happening in
    segs = engine.json("/api/cameras/plaza/recordings")["segments"]
    hour_start = int(hour.media_content_id.rsplit("/", 1)[1])
    assert hour_start % 3600 == 0 and hour_start <= segs[-1]["start_time"] < hour_start + 3600
    resolved = await media_source.async_resolve_media(hass, hour.media_content_id, None)
    assert resolved.mime_type == "video/mp4" and "authSig=" in resolved.url
    client = await hass_client()
    resp = await client.get(resolved.url)
    assert resp.status == 200 and resp.headers["Content-Type"] == "video/mp4"
    with av.open(io.BytesIO(await resp.read())) as c:
        frames = sum(1 for _ in c.decode(video=0))
        duration = c.duration / 1e6
    recorded = sum(min(s["end_time"], hour_start + 3600) - max(s["start_time"], hour_start)
                   for s in segs if s["end_time"] > hour_start)
    assert duration >= min(recorded, 8) - 1.5  # the hour's footage, not a fragment
    assert frames >= 5 * min(duration, 8)
    empty_hour = f"{base}/rec:plaza/{today}/{hour_start - 7 * 86400}"
    try:
        await media_source.async_resolve_media(hass, empty_hour, None)
    except media_source.Unresolvable:
        pass
    else:
        raise AssertionError("an hour without footage should be unresolvable")


async def test_unknown_media_is_unresolvable(hass: HomeAssistant, engine: EngineProcess,
                                             loaded_entry: MockConfigEntry) -> None:
    assert await async_setup_component(hass, "media_source", {})
    for ident in (f"{loaded_entry.entry_id}/plaza/2020-01-01/1790000000000-ffffff",
                  "not-an-entry/plaza", f"{loaded_entry.entry_id}/plaza/1999-01-01"):
        try:
            if ident.count("/") == 3:
                await media_source.async_resolve_media(hass,
                                                       f"media-source://{DOMAIN}/{ident}", None)
            else:
                await media_source.async_browse_media(hass, f"media-source://{DOMAIN}/{ident}")
        except media_source.Unresolvable:
            continue
        raise AssertionError(f"{ident} should be unresolvable")
