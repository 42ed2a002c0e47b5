"""Constants for the Vigil integration."""

from __future__ import annotations

from typing import Final

DOMAIN: Final = "vigil"
PROTOCOL_VERSION: Final = 1  # the engine WebSocket protocol this integration speaks

CONF_TOKEN: Final = "token"
CONF_CAMERAS: Final = "cameras"
CONF_SNAPSHOT_HEIGHT: Final = "snapshot_height"
DEFAULT_PORT: Final = 8765
DEFAULT_SNAPSHOT_HEIGHT: Final = 720

EVENT_VIGIL: Final = "vigil_event"  # bus event for automations
RISK_LEVELS: Final = ["low", "medium", "high", "critical"]
ARM_MODES: Final = ["disarmed", "home", "away", "night", "vacation"]
LLM_STATES: Final = ["ok", "degraded", "down", "rules"]

UNREACHABLE_REPAIR_AFTER: Final = 600.0  # seconds offline before a repair issue appears
STATS_INTERVAL: Final = 60.0  # seconds between engine stats refreshes
