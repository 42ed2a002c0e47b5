"""The versioned prompt. Change the text, bump the version: audits name it."""

from __future__ import annotations

import json
from typing import Any

from ..config import ACTIVITY_TYPES
from .context import RiskContext

PROMPT_VERSION = "risk-v3"  # v3: who Frigate recognised; v2: timezone and counts

SYSTEM = (
    "You are the analyst of a home security system. You receive facts about one event "
    "seen by a camera and decide how worried the household should be. Be calm and "
    "specific: most activity is harmless (residents, deliveries, passers-by, animals). "
    "Raise the score for people at night, while the house is armed, loitering, in "
    "sensitive zones, seen on several cameras approaching the house, or doing what is "
    "unusual for that camera at that hour. Times are the camera's local time; counts "
    "are how many were in view at once. recognised_as names whom the cameras recognised "
    "(a face, a known number plate): usually the household or its regulars, so worry "
    "less, but recognition can be wrong. Answer with JSON only."
)

INSTRUCTIONS = (
    "Return a JSON object with: risk_score (integer 0-100; <30 low, 30-59 medium, 60-84 "
    "high, >=85 critical), activity_type (one of: {types}), summary (one sentence a "
    "person reads in a notification, naming where and when), reasoning (two or three "
    "sentences on the facts that drove the score). Write compact JSON on one line, like: "
    '{{"risk_score":35,"activity_type":"visitor","summary":"A person walked up to the front '
    'door at 14:02 and left after 20 seconds.","reasoning":"Daytime, the house is occupied '
    'and the visit was brief."}}'
)


def build_messages(ctx: RiskContext, image_b64: str | None = None
                   ) -> list[dict[str, Any]]:
    facts = json.dumps(ctx.for_prompt(), ensure_ascii=False, separators=(",", ":"))
    text = (INSTRUCTIONS.format(types=", ".join(ACTIVITY_TYPES))
            + "\n\nEvent facts:\n" + facts)
    user: dict[str, Any] = {"role": "user", "content": text}
    if image_b64:
        user["image_b64"] = image_b64  # providers place it where their API wants it
    return [{"role": "system", "content": SYSTEM}, user]
