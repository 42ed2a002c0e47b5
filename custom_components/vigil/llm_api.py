"""An Assist (LLM) API with one tool: what happened on Vigil's cameras, when, how risky.

A conversation agent that uses the "Vigil" API can answer "what happened at the back
door tonight?" from the engine's own event store: risk levels, summaries, alerts.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import voluptuous as vol
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import llm
from homeassistant.util import dt as dt_util
from homeassistant.util.json import JsonObjectType

from .client import VigilError
from .const import DOMAIN

API_ID = DOMAIN
PERIODS = ("last_hour", "tonight", "last_night", "today", "yesterday", "last_24_hours",
           "this_week", "last_7_days")
MAX_RESULTS = 50

API_PROMPT = (
    "Vigil is the home's AI security system: it watches the cameras, records events "
    "(people, vehicles, animals) and rates how worrying each one is (risk level low, "
    "medium, high or critical, with a short summary). Use the vigil_events tool to answer "
    "questions about what happened on the cameras; name the camera as the user says it. "
    "Answer from the returned summaries and risk levels only, with local times.")


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def period_window(period: str, now: datetime) -> tuple[datetime, datetime]:
    """Local-time windows for the periods people ask about."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "last_hour":
        return now - timedelta(hours=1), now
    if period == "tonight":  # this evening and the night after it (or the night so far)
        start = midnight.replace(hour=18) if now.hour >= 12 else \
            (midnight - timedelta(days=1)).replace(hour=18)
        return start, min(now, start + timedelta(hours=13))
    if period == "last_night":
        start = (midnight - timedelta(days=1)).replace(hour=18) if now.hour >= 6 else \
            (midnight - timedelta(days=2)).replace(hour=18)
        return start, start + timedelta(hours=13)
    if period == "today":
        return midnight, now
    if period == "yesterday":
        return midnight - timedelta(days=1), midnight
    if period == "this_week":
        return midnight - timedelta(days=now.weekday()), now
    if period == "last_7_days":
        return now - timedelta(days=7), now
    return now - timedelta(hours=24), now


class VigilEventsTool(llm.Tool):
    name = "vigil_events"
    description = (
        "Security events recorded by Vigil's cameras in a period, newest first, with "
        "camera, local start and end time, detected objects, zones, risk level and score, "
        "the AI summary of what happened, and whether an alert was raised.")
    parameters = vol.Schema({
        vol.Optional("camera", description="Camera name as the user says it, e.g. "
                     "'back door'; leave out for all cameras"): str,
        vol.Optional("period", description="When: " + ", ".join(PERIODS)): vol.In(PERIODS),
        vol.Optional("query", description="Words to look for in what happened, e.g. "
                     "'package' or 'car'"): str,
        vol.Optional("min_risk", description="Only events at least this risky"):
            vol.In(["low", "medium", "high", "critical"]),
    })

    async def async_call(self, hass: HomeAssistant, tool_input: llm.ToolInput,
                         llm_context: llm.LLMContext) -> JsonObjectType:
        args = tool_input.tool_args
        engines = [e.runtime_data for e in hass.config_entries.async_entries(DOMAIN)
                   if e.state is ConfigEntryState.LOADED]
        if not engines:
            return {"error": "No Vigil engine is set up."}
        period = args.get("period", "last_24_hours")
        start, end = period_window(period, dt_util.now())
        wanted = args.get("camera")
        results: list[dict[str, Any]] = []
        all_cameras: list[str] = []
        for coordinator in engines:
            cameras = list(coordinator.data.cameras)
            all_cameras.extend(cameras)
            chosen = cameras
            if wanted:
                key = _norm(wanted)
                chosen = [c for c in cameras if key == _norm(c)] or \
                    [c for c in cameras if key in _norm(c) or _norm(c) in key]
            for camera in chosen:
                fields: dict[str, Any] = {"camera": camera, "since": start.timestamp(),
                                          "until": end.timestamp(), "limit": MAX_RESULTS}
                if args.get("min_risk"):
                    fields["min_risk"] = args["min_risk"]
                kind = "events/list"
                if args.get("query"):
                    kind, fields["query"] = "search", args["query"]
                try:
                    page = await coordinator.client.command(kind, **fields)
                except VigilError as err:
                    return {"error": f"The Vigil engine could not answer: {err}"}
                results.extend(page["events"])
        if wanted and not any(_norm(wanted) in _norm(c) or _norm(c) in _norm(wanted)
                              for c in all_cameras):
            return {"error": f"No camera called {wanted!r}.",
                    "cameras": [c.replace("_", " ") for c in all_cameras]}
        results.sort(key=lambda e: e["start_time"], reverse=True)
        return {
            "period": {"name": period, "start": start.isoformat(), "end": end.isoformat()},
            "count": len(results),
            "events": [_describe(e) for e in results[:MAX_RESULTS]],
        }


def _describe(event: dict[str, Any]) -> dict[str, Any]:
    risk = event.get("risk") or {}

    def local(ts: float | None) -> str | None:
        return dt_util.as_local(dt_util.utc_from_timestamp(ts)).isoformat(
            timespec="seconds") if ts else None

    return {"camera": event["camera"].replace("_", " "), "start": local(event["start_time"]),
            "end": local(event.get("end_time")), "objects": event.get("labels", []),
            "zones": event.get("zones", []), "risk_level": risk.get("risk_level"),
            "risk_score": risk.get("risk_score"), "activity": risk.get("activity_type"),
            "summary": risk.get("summary"), "alert": bool(event.get("alert"))}


class VigilLLMAPI(llm.API):
    def __init__(self, hass: HomeAssistant) -> None:
        super().__init__(hass=hass, id=API_ID, name="Vigil")

    async def async_get_api_instance(self, llm_context: llm.LLMContext) -> llm.APIInstance:
        return llm.APIInstance(api=self, api_prompt=API_PROMPT, llm_context=llm_context,
                               tools=[VigilEventsTool()])


@callback
def async_setup_llm_api(hass: HomeAssistant) -> None:
    """Registered once for all engines (like the services)."""
    llm.async_register_api(hass, VigilLLMAPI(hass))
