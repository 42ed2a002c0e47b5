"""pytest plugin (``-p tests.integration.ha_compat``) for the newest Home Assistant.

pytest-homeassistant-custom-component's newest release targets HA 2026.10; on 2026.11
two things moved. Loaded with ``-p`` it runs before the harness's own plugin:
- HA 2026.11 swaps httpx for its successor at import and refuses an httpx that was
  imported first, so HA is imported here before anything else can import httpx;
- ``_clear_logger_overwrites`` moved into ``homeassistant.components.logger.helpers``.
"""

from __future__ import annotations

import homeassistant.const  # noqa: F401  (must come first, see above)
from homeassistant.components import logger

if not hasattr(logger, "_clear_logger_overwrites"):
    from homeassistant.components.logger import helpers

    logger._clear_logger_overwrites = helpers._clear_logger_overwrites  # type: ignore[attr-defined]
