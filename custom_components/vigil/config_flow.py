"""Config flow: manual setup, Supervisor discovery, reauth, reconfigure, options."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import voluptuous as vol
from homeassistant import config_entries
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.const import CONF_HOST, CONF_PORT, CONF_SSL, CONF_VERIFY_SSL
from homeassistant.core import callback
from homeassistant.helpers import selector
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.service_info.hassio import HassioServiceInfo

from .client import CannotConnect, InvalidAuth, UnsupportedVersion, VigilClient, VigilError
from .const import (
    CONF_CAMERAS,
    CONF_SNAPSHOT_HEIGHT,
    CONF_TOKEN,
    DEFAULT_PORT,
    DEFAULT_SNAPSHOT_HEIGHT,
    DOMAIN,
)

_LOGGER = logging.getLogger(__name__)

# HA >= 2025.8 reloads the entry after an options flow by itself (an update listener
# next to reload-and-abort is an error from 2026.12); older HA needs the listener.
HAS_OPTIONS_FLOW_WITH_RELOAD = hasattr(config_entries, "OptionsFlowWithReload")
_OptionsFlowBase: type[OptionsFlow] = getattr(config_entries, "OptionsFlowWithReload",
                                              OptionsFlow)


def _user_schema(defaults: Mapping[str, Any]) -> vol.Schema:
    return vol.Schema({
        vol.Required(CONF_HOST, default=defaults.get(CONF_HOST, "")): str,
        vol.Required(CONF_PORT, default=defaults.get(CONF_PORT, DEFAULT_PORT)): vol.All(
            vol.Coerce(int), vol.Range(min=1, max=65535)),
        vol.Required(CONF_TOKEN): selector.TextSelector(
            selector.TextSelectorConfig(type=selector.TextSelectorType.PASSWORD)),
        vol.Optional(CONF_SSL, default=defaults.get(CONF_SSL, False)): bool,
        vol.Optional(CONF_VERIFY_SSL, default=defaults.get(CONF_VERIFY_SSL, True)): bool,
    })


class VigilConfigFlow(ConfigFlow, domain=DOMAIN):
    """Each engine is one entry; its instance id is the unique id."""

    VERSION = 1

    def __init__(self) -> None:
        self._discovered: dict[str, Any] = {}

    async def _probe(self, host: str, port: int, token: str, ssl: bool = False,
                     verify_ssl: bool = True) -> tuple[dict[str, Any], dict[str, str]]:
        """Try the engine; returns (info, errors)."""
        client = VigilClient(async_get_clientsession(self.hass, verify_ssl=verify_ssl),
                             host, port, token, use_ssl=ssl)
        try:
            hello = await client.connect()
            info = await client.command("engine/info")
        except InvalidAuth:
            return {}, {"base": "invalid_auth"}
        except UnsupportedVersion:
            return {}, {"base": "unsupported_version"}
        except (CannotConnect, VigilError, TimeoutError):
            return {}, {"base": "cannot_connect"}
        finally:
            await client.close()
        return {**hello, **info}, {}

    async def async_step_user(self, user_input: dict[str, Any] | None = None
                              ) -> ConfigFlowResult:
        errors: dict[str, str] = {}
        if user_input is not None:
            info, errors = await self._probe(user_input[CONF_HOST], user_input[CONF_PORT],
                                             user_input[CONF_TOKEN],
                                             user_input.get(CONF_SSL, False),
                                             user_input.get(CONF_VERIFY_SSL, True))
            if not errors:
                await self.async_set_unique_id(info["instance_id"])
                self._abort_if_unique_id_configured(updates={
                    CONF_HOST: user_input[CONF_HOST], CONF_PORT: user_input[CONF_PORT]})
                return self.async_create_entry(title=f"Vigil ({user_input[CONF_HOST]})",
                                               data=user_input)
        return self.async_show_form(step_id="user",
                                    data_schema=_user_schema(user_input or {}), errors=errors)

    async def async_step_hassio(self, discovery_info: HassioServiceInfo) -> ConfigFlowResult:
        """The Vigil app announced itself through the Supervisor."""
        cfg = discovery_info.config
        self._discovered = {CONF_HOST: cfg["host"], CONF_PORT: int(cfg.get("port", DEFAULT_PORT)),
                            CONF_TOKEN: cfg["token"]}
        info, errors = await self._probe(**self._discovered)
        if errors:
            return self.async_abort(reason=errors["base"])
        await self.async_set_unique_id(info["instance_id"])
        self._abort_if_unique_id_configured(updates=self._discovered)
        self.context["title_placeholders"] = {"name": discovery_info.name}
        return await self.async_step_hassio_confirm()

    async def async_step_hassio_confirm(self, user_input: dict[str, Any] | None = None
                                       ) -> ConfigFlowResult:
        if user_input is not None:
            return self.async_create_entry(title="Vigil", data=self._discovered)
        return self.async_show_form(step_id="hassio_confirm", description_placeholders={
            "host": self._discovered[CONF_HOST]})

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(self, user_input: dict[str, Any] | None = None
                                        ) -> ConfigFlowResult:
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            info, errors = await self._probe(entry.data[CONF_HOST], entry.data[CONF_PORT],
                                             user_input[CONF_TOKEN],
                                             entry.data.get(CONF_SSL, False),
                                             entry.data.get(CONF_VERIFY_SSL, True))
            if not errors:
                await self.async_set_unique_id(info["instance_id"])
                self._abort_if_unique_id_mismatch(reason="wrong_engine")
                return self.async_update_reload_and_abort(
                    entry, data_updates={CONF_TOKEN: user_input[CONF_TOKEN]})
        return self.async_show_form(
            step_id="reauth_confirm", errors=errors,
            data_schema=vol.Schema({vol.Required(CONF_TOKEN): selector.TextSelector(
                selector.TextSelectorConfig(type=selector.TextSelectorType.PASSWORD))}),
            description_placeholders={"host": entry.data[CONF_HOST]})

    async def async_step_reconfigure(self, user_input: dict[str, Any] | None = None
                                     ) -> ConfigFlowResult:
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            info, errors = await self._probe(user_input[CONF_HOST], user_input[CONF_PORT],
                                             user_input[CONF_TOKEN],
                                             user_input.get(CONF_SSL, False),
                                             user_input.get(CONF_VERIFY_SSL, True))
            if not errors:
                await self.async_set_unique_id(info["instance_id"])
                self._abort_if_unique_id_mismatch(reason="wrong_engine")
                return self.async_update_reload_and_abort(entry, data_updates=user_input)
        return self.async_show_form(step_id="reconfigure", errors=errors,
                                    data_schema=_user_schema(user_input or entry.data))

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> OptionsFlow:
        return VigilOptionsFlow()


class VigilOptionsFlow(_OptionsFlowBase):  # type: ignore[valid-type,misc]
    """Which cameras to expose, and the size of camera snapshots."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None
                              ) -> ConfigFlowResult:
        if user_input is not None:
            return self.async_create_entry(data=user_input)
        coordinator = self.config_entry.runtime_data
        cameras = sorted(coordinator.data.cameras)
        current = self.config_entry.options
        return self.async_show_form(step_id="init", data_schema=vol.Schema({
            vol.Required(CONF_CAMERAS, default=current.get(CONF_CAMERAS, cameras)):
                selector.SelectSelector(selector.SelectSelectorConfig(
                    options=cameras, multiple=True, mode=selector.SelectSelectorMode.LIST)),
            vol.Required(CONF_SNAPSHOT_HEIGHT,
                         default=current.get(CONF_SNAPSHOT_HEIGHT, DEFAULT_SNAPSHOT_HEIGHT)):
                vol.All(vol.Coerce(int), vol.Range(min=120, max=2160)),
        }))
