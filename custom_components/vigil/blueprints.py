"""Put the notification blueprint where HA looks for blueprints, once.

A blueprint the user already has (perhaps edited) is never overwritten.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from homeassistant.core import HomeAssistant

from .const import DOMAIN

_LOGGER = logging.getLogger(__name__)

BUNDLED = Path(__file__).parent / "blueprints"
TARGET = Path("blueprints") / "automation" / DOMAIN


def _install(config_dir: Path) -> list[str]:
    installed = []
    target_dir = config_dir / TARGET
    for source in sorted(BUNDLED.glob("*.yaml")):
        target = target_dir / source.name
        if target.exists():
            continue
        target_dir.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".part")
        shutil.copyfile(source, tmp)
        tmp.replace(target)
        installed.append(str(target))
    return installed


async def async_install_blueprints(hass: HomeAssistant) -> None:
    try:
        installed = await hass.async_add_executor_job(_install, Path(hass.config.config_dir))
    except OSError as err:
        _LOGGER.warning("Could not install the Vigil notification blueprint: %s", err)
        return
    for path in installed:
        _LOGGER.info("Installed the Vigil blueprint %s", path)
