"""Alert policy: which assessed events notify, and why (or why not)."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from ..config import CameraConfig
from .context import in_window
from .model import LEVEL_RANK


def decide(camera: CameraConfig, risk: dict[str, Any], local: datetime,
           earlier_alert: str | None) -> tuple[bool, str]:
    """``earlier_alert``: id of an alerted event with the same activity within the cooldown."""
    policy = camera.alerts
    activity = risk["activity_type"]
    level = risk["risk_level"]
    if activity in policy.never:
        return False, f"{activity} never notifies on this camera"
    forced = activity in policy.always
    if not forced and LEVEL_RANK[level] < LEVEL_RANK[policy.min_risk_level]:
        return False, f"risk {level} is below {policy.min_risk_level}"
    if (not forced and policy.quiet_hours and LEVEL_RANK[level] < LEVEL_RANK["high"]
            and in_window(local.time(), *policy.quiet_hours)):
        start, end = policy.quiet_hours
        return False, f"quiet hours {start}-{end} (only high and critical notify)"
    if earlier_alert:
        return False, f"folded into earlier alert {earlier_alert} (same {activity} within " \
                      f"{policy.cooldown_minutes:g} min)"
    if forced:
        return True, f"{activity} always notifies"
    return True, f"risk {level} reaches {policy.min_risk_level}"


def earlier_alert_sql(c: sqlite3.Connection, camera: str, event_id: str, activity: str,
                      start: float, cooldown_minutes: float) -> str | None:
    if cooldown_minutes <= 0:
        return None
    row = c.execute(
        "SELECT id FROM events WHERE camera = ? AND id != ? AND alert = 1 AND "
        "json_extract(risk, '$.activity_type') = ? AND start_time BETWEEN ? AND ? "
        "ORDER BY start_time DESC LIMIT 1",
        (camera, event_id, activity, start - cooldown_minutes * 60, start)).fetchone()
    return None if row is None else str(row[0])
