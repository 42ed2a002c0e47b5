"""``vigil/subscribe``: live state of one engine for the dashboard card, pushed, never polled.

The first message after the result is a full snapshot (arm mode, cameras, recent
events, silenced cameras); then every event change and every change of the arm
mode or a camera's state follows as it happens. Event changes come from one extra
engine subscription per engine (opened with the first card): the card shows every
change (acknowledged, clip ready), not only those automations hear of as
``vigil_event``. Media links in the messages are
HA-signed paths for the subscribing user, so ``<img>``/``<video>`` elements can load
them without headers and the engine's token never reaches the browser.
"""

from __future__ import annotations

import json
import weakref
from datetime import timedelta
from typing import Any

import voluptuous as vol
from homeassistant.components import websocket_api
from homeassistant.components.http.auth import async_sign_path
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.dispatcher import async_dispatcher_connect, async_dispatcher_send

from .client import VigilError
from .const import DOMAIN
from .coordinator import VigilCoordinator
from .entity import camera_device_id, exposed_cameras
from .notifications import silenced_cameras
from .views import media_path

SIGN_FOR = timedelta(hours=24)
MAX_EVENTS = 100
FEED_ACTIONS = ("new", "update", "escalate", "end")
_FEEDS: weakref.WeakSet[VigilCoordinator] = weakref.WeakSet()  # engines with a card feed


def feed_signal(entry_id: str) -> str:
    """Dispatcher signal with every event change of one engine, for the cards."""
    return f"{DOMAIN}_{entry_id}_card_feed"


async def _ensure_feed(hass: HomeAssistant, coordinator: VigilCoordinator) -> None:
    """One engine subscription per engine feeds every card (renewed on reconnects)."""
    if coordinator in _FEEDS:
        return
    signal = feed_signal(coordinator.config_entry.entry_id)

    @callback
    def push(message: dict[str, Any]) -> None:
        if message.get("action") in FEED_ACTIONS and message.get("data"):
            async_dispatcher_send(hass, signal, message["action"], message["data"])

    await coordinator.client.subscribe("card_feed", "events/subscribe", push)
    _FEEDS.add(coordinator)


@callback
def async_setup_websocket_api(hass: HomeAssistant) -> None:
    websocket_api.async_register_command(hass, ws_subscribe)


def _coordinator(hass: HomeAssistant, entry_id: str | None) -> VigilCoordinator | str:
    """The engine asked for (or the only one); an error text when that is impossible."""
    loaded = [e for e in hass.config_entries.async_entries(DOMAIN)
              if e.state is ConfigEntryState.LOADED]
    if entry_id:
        loaded = [e for e in loaded if e.entry_id == entry_id]
        if not loaded:
            return f"no loaded Vigil engine has the config entry ID {entry_id}"
    if not loaded:
        return "no Vigil engine is set up and loaded"
    if len(loaded) > 1:
        return "several Vigil engines are set up: choose one in the card's settings (engine)"
    coordinator: VigilCoordinator = loaded[0].runtime_data
    return coordinator


def card_event(hass: HomeAssistant, entry_id: str, event: dict[str, Any],
               refresh_token_id: str | None) -> dict[str, Any]:
    """The event fields the card shows, with signed links to its snapshot and clip."""
    risk = event.get("risk") or None
    out = {k: event.get(k) for k in ("id", "camera", "start_time", "end_time", "labels", "zones",
                                      "alert", "acknowledged", "protected", "has_snapshot",
                                      "has_clip", "escalation")}
    out["risk"] = None if risk is None else {
        k: risk.get(k) for k in ("risk_level", "risk_score", "activity_type", "summary",
                                 "reasoning", "provider", "status")}
    ident = event.get("id", "")
    out["snapshot_url"] = async_sign_path(
        hass, media_path(entry_id, "snapshot", f"{ident}.jpg"), SIGN_FOR,
        refresh_token_id=refresh_token_id) if event.get("has_snapshot") else None
    out["clip_url"] = async_sign_path(
        hass, media_path(entry_id, "clip", f"{ident}.mp4"), SIGN_FOR,
        refresh_token_id=refresh_token_id) if event.get("has_clip") else None
    return out


def _objects(raw: Any) -> list[dict[str, Any]]:
    """Tracked objects as ``[{label, count}]`` (the engine pushes ``{label: count}``)."""
    if isinstance(raw, dict):
        return [{"label": k, "count": v} for k, v in sorted(raw.items()) if v]
    return [o if isinstance(o, dict) else {"label": str(o), "count": 1} for o in raw or []]


def card_state(hass: HomeAssistant, coordinator: VigilCoordinator) -> dict[str, Any]:
    """Arm mode and the exposed cameras with their live state and camera entity."""
    registry = er.async_get(hass)
    entry = coordinator.config_entry
    cameras = []
    for name in exposed_cameras(coordinator):
        cam = coordinator.data.cameras.get(name, {})
        motion = cam.get("motion")
        last = coordinator.data.last_event.get(name)
        cameras.append({
            "name": name,
            "entity_id": registry.async_get_entity_id(
                "camera", DOMAIN, camera_device_id(coordinator, name)),
            "online": cam.get("status") == "online" and coordinator.last_update_success,
            "status": cam.get("status"),
            "motion": bool(motion.get("active") if isinstance(motion, dict) else motion),
            "objects": _objects(cam.get("objects")),
            "last_event_id": last.get("id") if last else None,
        })
    return {"mode": coordinator.data.mode, "available": coordinator.last_update_success,
            "cameras": cameras, "silenced": silenced_cameras(hass, entry.entry_id)}


@websocket_api.websocket_command({
    vol.Required("type"): "vigil/subscribe",
    vol.Optional("entry_id"): str,
    vol.Optional("limit", default=20): vol.All(int, vol.Range(min=1, max=MAX_EVENTS)),
})
@websocket_api.async_response
async def ws_subscribe(hass: HomeAssistant, connection: websocket_api.ActiveConnection,
                       msg: dict[str, Any]) -> None:
    found = _coordinator(hass, msg.get("entry_id"))
    if isinstance(found, str):
        connection.send_error(msg["id"], "not_found", found)
        return
    coordinator = found
    entry_id = coordinator.config_entry.entry_id
    token_id = connection.refresh_token_id
    cameras = set(exposed_cameras(coordinator))
    last_state = ""
    early: list[tuple[str, dict[str, Any]]] | None = []  # changes before the snapshot

    @callback
    def send_state() -> None:
        nonlocal last_state
        if early is not None:
            return
        state = card_state(hass, coordinator)
        encoded = json.dumps(state, sort_keys=True)
        if encoded == last_state:
            return  # camera pushes arrive every second; only changes go to the browser
        last_state = encoded
        connection.send_message(websocket_api.event_message(
            msg["id"], {"type": "state", **state}))

    @callback
    def send_event(action: str, event: dict[str, Any]) -> None:
        if event.get("camera") not in cameras:
            return
        if early is not None:
            early.append((action, event))
            return
        connection.send_message(websocket_api.event_message(msg["id"], {
            "type": "event", "action": action,
            "event": card_event(hass, entry_id, event, token_id)}))

    try:
        await _ensure_feed(hass, coordinator)
    except VigilError as err:
        connection.send_error(msg["id"], "engine_error", f"Vigil engine: {err}")
        return
    unsubs = [coordinator.async_add_listener(send_state),
              async_dispatcher_connect(hass, feed_signal(entry_id), send_event)]

    @callback
    def unsubscribe() -> None:
        for unsub in unsubs:
            unsub()

    try:
        page = await coordinator.client.command("events/list", limit=msg["limit"])
    except VigilError as err:
        unsubscribe()
        connection.send_error(msg["id"], "engine_error", f"Vigil engine: {err}")
        return
    connection.subscriptions[msg["id"]] = unsubscribe
    connection.send_result(msg["id"])
    state = card_state(hass, coordinator)
    last_state = json.dumps(state, sort_keys=True)
    connection.send_message(websocket_api.event_message(msg["id"], {
        "type": "snapshot", "entry_id": entry_id, "title": coordinator.config_entry.title,
        **state,
        "events": [card_event(hass, entry_id, e, token_id) for e in page["events"]
                   if e.get("camera") in cameras],
    }))
    pending, early = early, None
    for action, event in pending:  # newer than the list: they go on top of the snapshot
        send_event(action, event)
