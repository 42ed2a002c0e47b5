"""Serve the dashboard card and load it into every dashboard, no manual resource step.

The URL carries a hash of the bundle, so browsers fetch the new card after an
update instead of running a stale cached one.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from homeassistant.components.http import StaticPathConfig
from homeassistant.core import HomeAssistant

_LOGGER = logging.getLogger(__name__)

CARD_FILE = Path(__file__).parent / "frontend" / "vigil-card.js"
CARD_URL = "/vigil_static/vigil-card.js"


def _bundle_version() -> str:
    return hashlib.sha256(CARD_FILE.read_bytes()).hexdigest()[:12]


async def async_register_card(hass: HomeAssistant) -> str | None:
    """Serve the bundle and add it to the frontend; the versioned URL, or None."""
    if not CARD_FILE.is_file():
        _LOGGER.error("The Vigil card bundle %s is missing; reinstall the integration", CARD_FILE)
        return None
    version = await hass.async_add_executor_job(_bundle_version)
    await hass.http.async_register_static_paths(
        [StaticPathConfig(CARD_URL, str(CARD_FILE), cache_headers=True)])
    url = f"{CARD_URL}?v={version}"
    if "frontend" in hass.config.components:
        from homeassistant.components.frontend import add_extra_js_url

        add_extra_js_url(hass, url)
    return url
