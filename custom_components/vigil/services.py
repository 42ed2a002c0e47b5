"""Services, registered once in async_setup and routed to the right engine."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import voluptuous as vol
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.util import dt as dt_util

from .client import CommandError, VigilError
from .const import ARM_MODES, DOMAIN
from .coordinator import VigilCoordinator

ATTR_CONFIG_ENTRY_ID = "config_entry_id"
ATTR_EVENT_ID = "event_id"
ATTR_CAMERA = "camera"

_ENGINE = {vol.Optional(ATTR_CONFIG_ENTRY_ID): cv.string}
SCHEMAS: dict[str, vol.Schema] = {
    "set_mode": vol.Schema({**_ENGINE, vol.Required("mode"): vol.In(ARM_MODES)}),
    "acknowledge_event": vol.Schema({**_ENGINE, vol.Required(ATTR_EVENT_ID): cv.string}),
    "protect_event": vol.Schema({**_ENGINE, vol.Required(ATTR_EVENT_ID): cv.string,
                                 vol.Optional("protected", default=True): cv.boolean}),
    "rescore_event": vol.Schema({**_ENGINE, vol.Required(ATTR_EVENT_ID): cv.string}),
    "export_clip": vol.Schema({**_ENGINE, vol.Required(ATTR_CAMERA): cv.string,
                               vol.Required("start"): cv.datetime,
                               vol.Required("end"): cv.datetime}),
    "export_recording": vol.Schema({**_ENGINE, vol.Required(ATTR_CAMERA): cv.string,
                                    vol.Required("start"): cv.datetime,
                                    vol.Required("end"): cv.datetime}),
    "search_events": vol.Schema({**_ENGINE, vol.Required("query"): cv.string,
                                 vol.Optional(ATTR_CAMERA): cv.string,
                                 vol.Optional("limit", default=20): vol.All(
                                     vol.Coerce(int), vol.Range(min=1, max=200))}),
    "analyze_now": vol.Schema({**_ENGINE, vol.Required(ATTR_CAMERA): cv.string}),
}


def _engines(hass: HomeAssistant) -> list[VigilCoordinator]:
    return [e.runtime_data for e in hass.config_entries.async_entries(DOMAIN)
            if e.state is ConfigEntryState.LOADED]


def _engine(hass: HomeAssistant, call: ServiceCall, camera: str | None = None
            ) -> VigilCoordinator:
    engines = _engines(hass)
    entry_id = call.data.get(ATTR_CONFIG_ENTRY_ID)
    if entry_id:
        found = [c for c in engines if c.config_entry.entry_id == entry_id]
        if not found:
            raise ServiceValidationError(translation_domain=DOMAIN,
                                         translation_key="unknown_engine",
                                         translation_placeholders={"entry_id": entry_id})
        engines = found
    if camera is not None:
        engines = [c for c in engines if camera in c.data.cameras]
        if not engines:
            raise ServiceValidationError(translation_domain=DOMAIN,
                                         translation_key="unknown_camera",
                                         translation_placeholders={"camera": camera})
    if not engines:
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="no_engine")
    if len(engines) > 1:
        raise ServiceValidationError(translation_domain=DOMAIN,
                                     translation_key="ambiguous_engine")
    return engines[0]


async def _command(coordinator: VigilCoordinator, kind: str, **fields: Any) -> Any:
    try:
        return await coordinator.client.command(kind, **fields)
    except CommandError as err:
        if err.code in ("unknown_event", "unknown_camera", "invalid_format", "no_recording",
                        "no_frame"):
            raise ServiceValidationError(translation_domain=DOMAIN,
                                         translation_key="engine_refused",
                                         translation_placeholders={"error": str(err)}) from err
        raise HomeAssistantError(translation_domain=DOMAIN, translation_key="engine_error",
                                 translation_placeholders={"error": str(err)}) from err
    except VigilError as err:
        raise HomeAssistantError(translation_domain=DOMAIN, translation_key="engine_error",
                                 translation_placeholders={"error": str(err)}) from err


async def _set_mode(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    coordinator = _engine(hass, call)
    await _command(coordinator, "mode/set", mode=call.data["mode"])
    coordinator.data.mode = call.data["mode"]
    coordinator.async_set_updated_data(coordinator.data)
    return None


async def _acknowledge(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    await _command(_engine(hass, call), "events/acknowledge", event_id=call.data[ATTR_EVENT_ID])
    return None


async def _protect(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    await _command(_engine(hass, call), "events/protect", event_id=call.data[ATTR_EVENT_ID],
                   protected=call.data["protected"])
    return None


async def _rescore(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    await _command(_engine(hass, call), "events/rescore", event_id=call.data[ATTR_EVENT_ID])
    return None


def _epoch(when: datetime) -> float:
    """A service datetime without a zone means Home Assistant's own time zone."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt_util.get_default_time_zone())
    return when.timestamp()


async def _export(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    camera = call.data[ATTR_CAMERA]
    coordinator = _engine(hass, call, camera)
    start, end = _epoch(call.data["start"]), _epoch(call.data["end"])
    if end <= start:
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="bad_span")
    try:
        result = await _command(coordinator, "clips/export", camera=camera, start=start,
                                end=end, within=600)
    except ServiceValidationError as err:
        cause = err.__cause__
        if isinstance(cause, CommandError) and cause.code == "no_recording":
            raise ServiceValidationError(
                translation_domain=DOMAIN, translation_key="no_footage",
                translation_placeholders={
                    "camera": camera, "start": call.data["start"].isoformat(),
                    "end": call.data["end"].isoformat()}) from cause
        raise
    try:
        data = await coordinator.client.get_bytes(result["url"], within=600)
    except VigilError as err:
        raise HomeAssistantError(translation_domain=DOMAIN, translation_key="engine_error",
                                 translation_placeholders={"error": str(err)}) from err
    media_root = Path(hass.config.media_dirs.get("local", hass.config.path("media")))
    target = media_root / "vigil" / f"{camera}-{int(start)}-{int(end)}.mp4"

    def write() -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(target)

    await hass.async_add_executor_job(write)
    return {"path": str(target), "size": len(data),
            "media_content_id": f"media-source://media_source/local/vigil/{target.name}"}


async def _search(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    camera = call.data.get(ATTR_CAMERA)
    coordinator = _engine(hass, call, camera)
    fields: dict[str, Any] = {"query": call.data["query"], "limit": call.data["limit"]}
    if camera:
        fields["camera"] = camera
    result = await _command(coordinator, "search", **fields)
    return {"events": [
        {"id": e["id"], "camera": e["camera"], "start_time": e["start_time"],
         "end_time": e["end_time"], "labels": e["labels"], "zones": e["zones"],
         "risk_level": (e.get("risk") or {}).get("risk_level"),
         "summary": (e.get("risk") or {}).get("summary"), "has_clip": e["has_clip"]}
        for e in result["events"]]}


async def _analyze(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    camera = call.data[ATTR_CAMERA]
    coordinator = _engine(hass, call, camera)
    result = await _command(coordinator, "camera/analyze", camera=camera, within=120)
    return {"camera": camera, "time": result["time"],
            "objects": [{"label": o["label"], "score": o["top_score"], "zones": o["zones"]}
                        for o in result["objects"]],
            "risk": result.get("risk")}


HANDLERS = {
    "set_mode": (_set_mode, SupportsResponse.NONE),
    "acknowledge_event": (_acknowledge, SupportsResponse.NONE),
    "protect_event": (_protect, SupportsResponse.NONE),
    "rescore_event": (_rescore, SupportsResponse.NONE),
    "export_clip": (_export, SupportsResponse.OPTIONAL),
    "export_recording": (_export, SupportsResponse.OPTIONAL),
    "search_events": (_search, SupportsResponse.ONLY),
    "analyze_now": (_analyze, SupportsResponse.ONLY),
}


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    for name, (handler, response) in HANDLERS.items():

        async def call_handler(call: ServiceCall, handler: Any = handler) -> ServiceResponse:
            return await handler(hass, call)

        hass.services.async_register(DOMAIN, name, call_handler, schema=SCHEMAS[name],
                                     supports_response=response)
