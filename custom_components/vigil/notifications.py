"""What phone notifications need from the integration: silences, cooldowns, image links.

The notification blueprint stays declarative: it asks ``vigil.prepare_notification``
whether to send (camera silenced? cooldown running? arm mode wanted?) and gets back
an image link a phone can open. The link points at the integration's media proxy
and carries its own short-lived HA signature (``authSig``), so the phone needs no
token and the engine's token never leaves Home Assistant.

Silences survive restarts (HA storage); the notification ledger (which events this
automation already announced, when it last alerted) is memory only: after a restart
an update for an event announced before is simply treated as a fresh alert.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta

import voluptuous as vol
from homeassistant.components.http.auth import async_sign_path
from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .const import ARM_MODES, DOMAIN
from .services import ATTR_CAMERA, ATTR_CONFIG_ENTRY_ID, ATTR_EVENT_ID, _engine
from .views import media_path

DATA_NOTIFY = f"{DOMAIN}_notifications"
STORAGE_VERSION = 1
LINK_VALID_FOR = timedelta(days=1)  # phones fetch the image on delivery; a day is plenty
LEDGER_SIZE = 500  # events remembered per automation (oldest forgotten first)
ACTIONS = ["new", "assessed", "escalate", "update", "end"]

SILENCE_SCHEMA = vol.Schema({
    vol.Optional(ATTR_CONFIG_ENTRY_ID): cv.string,
    vol.Required(ATTR_CAMERA): cv.string,
    vol.Optional("duration", default=timedelta(hours=1)): vol.All(
        cv.time_period, vol.Range(min=timedelta(0), max=timedelta(days=7))),
})
PREPARE_SCHEMA = vol.Schema({
    vol.Optional(ATTR_CONFIG_ENTRY_ID): cv.string,
    vol.Required(ATTR_EVENT_ID): cv.string,
    vol.Required(ATTR_CAMERA): cv.string,
    vol.Required("action"): vol.In(ACTIONS),
    vol.Optional("modes", default=list(ARM_MODES)): vol.All(cv.ensure_list, [vol.In(ARM_MODES)]),
    vol.Optional("cooldown", default=0): vol.All(vol.Coerce(float), vol.Range(min=0)),
    vol.Optional("cooldown_scope", default="camera"): vol.In(["camera", "global"]),
    vol.Optional("update_only", default=False): cv.boolean,
    vol.Optional("key", default=""): cv.string,
})


@dataclass
class Ledger:
    """One automation's memory: events it announced and when each scope last alerted."""

    announced: dict[str, float] = field(default_factory=dict)
    last_alert: dict[str, float] = field(default_factory=dict)

    def remember(self, event_key: str, now: float) -> None:
        self.announced[event_key] = now
        while len(self.announced) > LEDGER_SIZE:
            self.announced.pop(next(iter(self.announced)))


class Notifications:
    def __init__(self, hass: HomeAssistant) -> None:
        self.hass = hass
        self.store: Store[dict[str, float]] = Store(hass, STORAGE_VERSION,
                                                     f"{DOMAIN}.silences")
        self.silences: dict[str, float] = {}  # "entry_id/camera" -> epoch until
        self.ledgers: dict[str, Ledger] = {}

    async def async_load(self) -> None:
        self.silences = dict(await self.store.async_load() or {})

    def silenced_until(self, entry_id: str, camera: str) -> float | None:
        until = self.silences.get(f"{entry_id}/{camera}")
        return until if until is not None and until > time.time() else None

    async def silence(self, call: ServiceCall) -> ServiceResponse:
        camera = call.data[ATTR_CAMERA]
        coordinator = _engine(self.hass, call, camera)
        key = f"{coordinator.config_entry.entry_id}/{camera}"
        duration: timedelta = call.data["duration"]
        now = time.time()
        if duration.total_seconds() == 0:
            self.silences.pop(key, None)
        else:
            self.silences[key] = now + duration.total_seconds()
        self.silences = {k: v for k, v in self.silences.items() if v > now}
        self.store.async_delay_save(lambda: self.silences, 1.0)
        until = self.silences.get(key)
        return {"camera": camera,
                "silenced_until": dt_util.utc_from_timestamp(until).isoformat() if until
                else None}

    async def prepare(self, call: ServiceCall) -> ServiceResponse:
        camera = call.data[ATTR_CAMERA]
        coordinator = _engine(self.hass, call, camera)
        entry_id = coordinator.config_entry.entry_id
        event_id = call.data[ATTR_EVENT_ID]
        action = call.data["action"]
        ledger = self.ledgers.setdefault(call.data["key"], Ledger())
        event_key = f"{entry_id}/{event_id}"
        scope = camera if call.data["cooldown_scope"] == "camera" else "*"
        scope_key = f"{entry_id}/{scope}" if scope != "*" else "*"
        now = time.time()
        announced = event_key in ledger.announced
        silenced = self.silenced_until(entry_id, camera)
        mode = coordinator.data.mode

        reason = "ok"
        if silenced is not None:
            reason = "silenced"
        elif mode not in call.data["modes"]:
            reason = "mode"
        elif action == "end":
            reason = "ended"
        elif call.data["update_only"] and not announced:
            reason = "below_minimum"  # only an alert already sent gets this update
        elif not announced and action != "escalate" and \
                now - ledger.last_alert.get(scope_key, 0.0) < call.data["cooldown"]:
            reason = "cooldown"  # an escalation always gets through; updates follow their alert
        send = reason == "ok"
        if send:
            if not announced or action == "escalate":
                ledger.last_alert[scope_key] = now
            ledger.remember(event_key, now)
        image = async_sign_path(self.hass, media_path(entry_id, "snapshot", f"{event_id}.jpg"),
                                LINK_VALID_FOR, use_content_user=True)
        return {
            "send": send, "reason": reason, "in_place": announced and action == "assessed",
            "mode": mode, "image": image,
            "silenced_until": dt_util.utc_from_timestamp(silenced).isoformat() if silenced
            else None,
        }


async def async_setup_notifications(hass: HomeAssistant) -> Notifications:
    notifications = Notifications(hass)
    await notifications.async_load()
    hass.data[DATA_NOTIFY] = notifications
    hass.services.async_register(DOMAIN, "silence_camera", notifications.silence,
                                 schema=SILENCE_SCHEMA, supports_response=SupportsResponse.OPTIONAL)
    hass.services.async_register(DOMAIN, "prepare_notification", notifications.prepare,
                                 schema=PREPARE_SCHEMA, supports_response=SupportsResponse.ONLY)
    return notifications


def silenced_cameras(hass: HomeAssistant, entry_id: str) -> dict[str, float]:
    """Cameras of one engine whose notifications are silenced, with the epoch they end."""
    notifications: Notifications | None = hass.data.get(DATA_NOTIFY)
    if notifications is None:
        return {}
    now = time.time()
    prefix = f"{entry_id}/"
    return {k[len(prefix):]: v for k, v in notifications.silences.items()
            if k.startswith(prefix) and v > now}
