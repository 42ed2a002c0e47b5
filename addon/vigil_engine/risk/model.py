"""The risk assessment contract (see DESIGN.md) and the JSON schema asked of LLMs."""

from __future__ import annotations

from typing import Any

from ..config import ACTIVITY_TYPES, RISK_LEVELS

LEVEL_RANK = {level: i for i, level in enumerate(RISK_LEVELS)}
STATUSES = ("final", "pending", "fallback")


def level_for(score: float) -> str:
    if score >= 85:
        return "critical"
    if score >= 60:
        return "high"
    if score >= 30:
        return "medium"
    return "low"


# What the model must answer; the rest of the assessment is filled in by Vigil.
LLM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "risk_score": {"type": "integer", "minimum": 0, "maximum": 100},
        "activity_type": {"type": "string", "enum": list(ACTIVITY_TYPES)},
        "summary": {"type": "string", "maxLength": 240},
        "reasoning": {"type": "string", "maxLength": 600},
    },
    "required": ["risk_score", "activity_type", "summary", "reasoning"],
    "additionalProperties": False,
}


class InvalidAnswer(ValueError):
    """The model's answer does not fit the schema."""


def validate_answer(data: Any) -> dict[str, Any]:
    """Check an LLM answer against LLM_SCHEMA (small, dependency-free validator)."""
    if not isinstance(data, dict):
        raise InvalidAnswer("answer is not a JSON object")
    missing = [k for k in LLM_SCHEMA["required"] if k not in data]
    if missing:
        raise InvalidAnswer(f"missing field {missing[0]!r}")
    score = data["risk_score"]
    if isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 100:
        raise InvalidAnswer(f"risk_score must be a number 0-100, got {score!r}")
    activity = data["activity_type"]
    if activity not in ACTIVITY_TYPES:
        raise InvalidAnswer(f"activity_type {activity!r} is not one of the allowed types")
    for key, limit in (("summary", 240), ("reasoning", 600)):
        value = data[key]
        if not isinstance(value, str) or not value.strip():
            raise InvalidAnswer(f"{key} must be a non-empty string")
        data[key] = value.strip()[:limit]
    return {"risk_score": round(float(score)), "activity_type": activity,
            "summary": data["summary"], "reasoning": data["reasoning"]}


def assessment(*, score: float, activity: str, summary: str, reasoning: str,
               entities: list[dict[str, Any]], provider: str, model: str, latency_ms: float,
               status: str, **extra: Any) -> dict[str, Any]:
    score = max(0, min(100, round(score)))
    return {
        "risk_score": score,
        "risk_level": level_for(score),
        "activity_type": activity,
        "summary": summary,
        "reasoning": reasoning,
        "entities": entities,
        "provider": provider,
        "model": model,
        "latency_ms": round(latency_ms, 2),
        "status": status,
        **extra,
    }
