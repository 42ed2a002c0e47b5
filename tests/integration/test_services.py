"""Every service against the real engine, and their translated errors."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import av
import pytest
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.vigil.const import DOMAIN
from tests.support.engine import EngineProcess


def closed_event(engine: EngineProcess) -> dict:
    return next(e for e in engine.all_events() if e["end_time"] and e["has_clip"])


async def test_event_services(hass: HomeAssistant, engine: EngineProcess,
                              loaded_entry: MockConfigEntry) -> None:
    ev = closed_event(engine)
    await hass.services.async_call(DOMAIN, "acknowledge_event", {"event_id": ev["id"]},
                                   blocking=True)
    assert engine.json(f"/api/events/{ev['id']}")["acknowledged"] is True
    await hass.services.async_call(DOMAIN, "protect_event", {"event_id": ev["id"]},
                                   blocking=True)
    assert engine.json(f"/api/events/{ev['id']}")["protected"] is True
    await hass.services.async_call(DOMAIN, "protect_event",
                                   {"event_id": ev["id"], "protected": False}, blocking=True)
    assert engine.json(f"/api/events/{ev['id']}")["protected"] is False
    await hass.services.async_call(DOMAIN, "rescore_event", {"event_id": ev["id"]},
                                   blocking=True)
    assert engine.json(f"/api/events/{ev['id']}")["risk"]["status"] == "final"
    await hass.services.async_call(DOMAIN, "set_mode", {"mode": "night"}, blocking=True)
    assert engine.json("/api/mode")["mode"] == "night"
    assert hass.states.get("alarm_control_panel.vigil_arm_mode").state == "armed_night"
    await hass.services.async_call(DOMAIN, "set_mode", {"mode": "home"}, blocking=True)
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(DOMAIN, "acknowledge_event",
                                       {"event_id": "1790000000000-ffffff"}, blocking=True)
    assert err.value.translation_key == "engine_refused"
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(DOMAIN, "set_mode", {"mode": "night",
                                                            "config_entry_id": "nope"},
                                       blocking=True)
    assert err.value.translation_key == "unknown_engine"


async def test_search_and_analyze_return_data(hass: HomeAssistant, engine: EngineProcess,
                                              loaded_entry: MockConfigEntry) -> None:
    found = await hass.services.async_call(DOMAIN, "search_events",
                                           {"query": "person on the plaza", "limit": 5},
                                           blocking=True, return_response=True)
    assert found["events"] and all(e["camera"] == "plaza" for e in found["events"])
    assert found["events"][0]["risk_level"] in ("low", "medium", "high", "critical")
    none = await hass.services.async_call(DOMAIN, "search_events", {"query": "zebra"},
                                          blocking=True, return_response=True)
    assert none["events"] == []
    seen = await hass.services.async_call(DOMAIN, "analyze_now", {"camera": "plaza"},
                                          blocking=True, return_response=True)
    assert seen["camera"] == "plaza" and seen["objects"]
    assert any(o["label"] == "person" for o in seen["objects"])
    assert seen["risk"]["risk_level"] in ("low", "medium", "high", "critical")
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(DOMAIN, "analyze_now", {"camera": "garage"},
                                       blocking=True, return_response=True)
    assert err.value.translation_key == "unknown_camera"


async def _export_recording(hass: HomeAssistant, start: datetime, end: datetime) -> Any:
    return await hass.services.async_call(
        DOMAIN, "export_recording", {"camera": "plaza", "start": start, "end": end},
        blocking=True, return_response=True)


async def test_export_recording_with_a_clear_error_for_spans_without_footage(
        hass: HomeAssistant, engine: EngineProcess, loaded_entry: MockConfigEntry,
        tmp_path: Path) -> None:
    hass.config.media_dirs = {"local": str(tmp_path / "media")}
    first = engine.json("/api/cameras/plaza/recordings")["segments"][0]
    start = dt_util.utc_from_timestamp(first["start_time"] + 1)
    result = await _export_recording(hass, start, start + timedelta(seconds=6))
    path = Path(result["path"])
    assert path.parent == tmp_path / "media" / "vigil"
    assert result["media_content_id"].endswith(path.name)
    with av.open(str(path)) as c:
        assert 5 <= c.duration / 1e6 <= 8  # the span asked for, from its keyframe
        assert sum(1 for _ in c.decode(video=0)) >= 40
    # A span from before the engine ever recorded: no file, an error that says why.
    long_ago = start - timedelta(days=3)
    with pytest.raises(ServiceValidationError) as err:
        await _export_recording(hass, long_ago, long_ago + timedelta(minutes=5))
    assert err.value.translation_key == "no_footage"
    assert "plaza" in str(err.value) and "no recorded footage" in str(err.value)
    with pytest.raises(ServiceValidationError) as err:
        await _export_recording(hass, start, start)
    assert err.value.translation_key == "bad_span"


async def test_export_clip_into_the_media_folder(hass: HomeAssistant, engine: EngineProcess,
                                                 loaded_entry: MockConfigEntry,
                                                 tmp_path: Path) -> None:
    hass.config.media_dirs = {"local": str(tmp_path / "media")}
    segs = engine.json("/api/cameras/plaza/recordings")["segments"]
    start = dt_util.utc_from_timestamp(segs[0]["start_time"] + 1)
    result = await hass.services.async_call(
        DOMAIN, "export_clip", {"camera": "plaza", "start": start,
                                "end": start + timedelta(seconds=5)},
        blocking=True, return_response=True)
    path = Path(result["path"])
    size = (await hass.async_add_executor_job(path.stat)).st_size
    assert path.parent == tmp_path / "media" / "vigil" and size == result["size"]
    with av.open(str(path)) as c:
        assert 4 <= c.duration / 1e6 <= 7
        assert sum(1 for _ in c.decode(video=0)) >= 30
    with pytest.raises(ServiceValidationError):
        await hass.services.async_call(
            DOMAIN, "export_clip", {"camera": "plaza", "start": start,
                                    "end": start + timedelta(hours=3)},
            blocking=True, return_response=True)
