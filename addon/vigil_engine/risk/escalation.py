"""When an announced event gets worse: the change people must hear about again.

An event is announced once; if it then turns worse (loitering reached, a
second camera joins, the LLM raises the level, the alert policy now says
alert) the stored row carries an ``escalation`` and the bus publishes
``escalate`` besides the usual ``update``. Computed inside the transaction
that writes the change, from the row before and after it.
"""

from __future__ import annotations

import time
from typing import Any

from .model import LEVEL_RANK


def _factors(risk: dict[str, Any]) -> list[str]:
    return [str(f.get("factor", "")) for f in risk.get("factors") or []]


def _reason(old: dict[str, Any], new: dict[str, Any], rose: bool) -> str:
    if new.get("provider") not in (None, "rules") and new != old:
        return "llm"
    if new.get("activity_type") == "intrusion" and old.get("activity_type") != "intrusion":
        return "intrusion"
    old_factors, new_factors = _factors(old), _factors(new)
    if "loitering" in new_factors and "loitering" not in old_factors:
        return "loitering"
    if (any(f.startswith("also seen on") for f in new_factors)
            and not any(f.startswith("also seen on") for f in old_factors)):
        return "second_camera"
    if not rose:
        return "policy"
    return "rules"


def escalation_of(before: dict[str, Any] | None, after: dict[str, Any],
                  now: float | None = None) -> dict[str, Any] | None:
    """The escalation between two stored states of an event, or None.

    ``before`` is None for an event not yet announced (nothing to escalate)."""
    if before is None:
        return None
    old = before.get("risk") or {}
    new = after.get("risk") or {}
    old_level, new_level = old.get("risk_level"), new.get("risk_level")
    rose = (old_level in LEVEL_RANK and new_level in LEVEL_RANK
            and LEVEL_RANK[new_level] > LEVEL_RANK[old_level])
    alert_raised = bool(after.get("alert")) and not bool(before.get("alert"))
    if not rose and not alert_raised:
        return None
    return {
        "alert_raised": alert_raised,
        "previous_level": old_level,
        "level": new_level,
        "previous_alert": bool(before.get("alert")),
        "alert": bool(after.get("alert")),
        "reason": _reason(old, new, rose),
        "at": round(time.time() if now is None else now, 3),
    }
