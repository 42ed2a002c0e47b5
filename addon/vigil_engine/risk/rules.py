"""Deterministic, explainable risk rules: always available, the fallback for every LLM.

The score is a sum of named factors; the reasoning lists each with its weight,
so a user can see exactly why an event scored what it did.
"""

from __future__ import annotations

import time
from typing import Any

from ..config import CameraConfig
from .context import ANIMALS, VEHICLES, RiskContext
from .model import assessment

ARMED = {"away": 20, "night": 15, "vacation": 25, "home": 0, "disarmed": -10}
SENSITIVITY = {"high": 15, "normal": 5, "low": 0}
PROVIDER = "rules"
MODEL = "vigil-rules-v1"


def entities(ctx: RiskContext) -> list[dict[str, Any]]:
    return [{"label": o.label, "zones": [z.name for z in o.zones],
             "first_seen": round(o.first_seen, 3), "last_seen": round(o.last_seen, 3),
             "dwell_seconds": round(o.dwell, 1), "direction": o.direction,
             "loitering": o.loitering,
             **({"recognised_as": o.recognised_as} if o.recognised_as else {})}
            for o in ctx.objects]


def zone_label(name: str, description: str) -> str:
    """A zone as the user configured it: its description, else its name."""
    return description or name.replace("_", " ")


def _place(camera: CameraConfig, ctx: RiskContext) -> str:
    name = camera.name.replace("_", " ").capitalize()
    zones = sorted({zone_label(z.name, z.description) for o in ctx.objects for z in o.zones})
    return f"{name} ({', '.join(zones)})" if zones else name


def score(camera: CameraConfig, ctx: RiskContext, *, status: str = "final",
          note: str | None = None) -> dict[str, Any]:
    started = time.perf_counter()
    factors: list[tuple[str, int]] = []
    labels = ctx.labels
    people = [o for o in ctx.objects if o.label == "person"]
    vehicles = [o for o in ctx.objects if o.label in VEHICLES]
    animals_only = bool(labels) and labels <= ANIMALS
    headcount = ctx.count("person")  # most in view at once, not one per track

    if people:
        factors.append(("person present", 20))
        if headcount >= 3:
            factors.append((f"{headcount} people", 5))
    elif vehicles:
        factors.append(("vehicle present", 10))
    elif animals_only:
        factors.append(("animal only", 3))

    if not animals_only:
        if ctx.is_night:
            factors.append((f"night ({ctx.local_time})", 20 if people else 10))
        arm = ARMED.get(ctx.arm_mode, 0)
        if arm and (people or arm < 0):
            factors.append((f"armed {ctx.arm_mode}" if arm > 0 else ctx.arm_mode, arm))

        zones = [z for o in ctx.objects for z in o.zones]
        sens = max((SENSITIVITY[z.sensitivity] for z in zones), default=0)
        if sens:
            where = sorted({zone_label(z.name, z.description) for z in zones
                            if SENSITIVITY[z.sensitivity] == sens})
            factors.append((("in a high-sensitivity zone" if sens >= 15 else "in a watched zone")
                            + f" ({', '.join(where)})", sens))
        if any(o.loitering for o in people):
            factors.append(("loitering", 20))
        elif any(o.dwell >= 60 for o in people):
            factors.append(("stayed over a minute", 10))
        guarded = ctx.is_night or ctx.arm_mode in ("away", "night", "vacation")
        if guarded and any(o.direction == "approaching" for o in people):
            factors.append(("approaching the house", 5))

        usual = [lab for lab, b in ctx.baseline.items() if b.usual]
        unusual = [lab for lab, b in ctx.baseline.items() if b.unusual]
        if usual and set(usual) >= (labels - ANIMALS):
            factors.append((f"usual here at this hour ({', '.join(sorted(usual))})", -15))
        elif unusual:
            factors.append((f"never seen here at this hour ({', '.join(sorted(unusual))})", 10))

        # Frigate recognised everyone in view (a face, a known plate): the household or its
        # regulars, most likely. Lowered, never cleared: faces are misread, plates copied.
        known = [o for o in (people or vehicles) if o.recognised_as]
        if known and len(known) == len(people or vehicles):
            names = sorted({str(o.recognised_as) for o in known})
            factors.append((f"recognised by Frigate as {', '.join(names)}",
                            -20 if people else -10))

        if ctx.cross_camera and people:
            cams = sorted({c.camera for c in ctx.cross_camera})
            factors.append((f"also seen on {', '.join(cams)} minutes before", 15))

    total = sum(w for _, w in factors)
    if animals_only:
        total = min(total, 25)
    total = max(0, min(100, total))
    activity = _activity(ctx, camera, people, vehicles, animals_only, total)
    summary = _summary(camera, ctx, activity, headcount, vehicles)
    reasoning = "; ".join(f"{name} ({w:+d})" for name, w in factors) or "nothing notable"
    reasoning += f" = {total}"
    if note:
        reasoning = f"{note}. {reasoning}"
    return assessment(score=total, activity=activity, summary=summary, reasoning=reasoning,
                      entities=entities(ctx), provider=PROVIDER, model=MODEL,
                      latency_ms=(time.perf_counter() - started) * 1000, status=status,
                      factors=[{"factor": n, "weight": w} for n, w in factors])


def _activity(ctx: RiskContext, camera: CameraConfig, people: list[Any], vehicles: list[Any],
              animals_only: bool, total: int) -> str:
    armed = ctx.arm_mode in ("away", "night", "vacation")
    if animals_only:
        return "animal"
    if people:
        high_zone = any(z.sensitivity == "high" for o in people for z in o.zones)
        if ctx.is_night and armed and high_zone:
            return "intrusion"
        if any(o.loitering for o in people):
            return "loitering"
        if ctx.is_night and (armed or ctx.cross_camera):
            return "suspicious_behavior"
        person_baseline = ctx.baseline.get("person")
        if ctx.arm_mode in ("home", "disarmed") and person_baseline and person_baseline.usual:
            return "resident_activity"
        if all(o.direction == "passing" for o in people):
            return "passerby"
        if any(o.direction == "approaching" for o in people) or any(o.zones for o in people):
            return "visitor"
        return "passerby"
    if vehicles:
        dirs = {o.direction for o in vehicles}
        if "leaving" in dirs and "approaching" not in dirs:
            return "vehicle_departure"
        return "vehicle_arrival"
    return "unknown"


def _summary(camera: CameraConfig, ctx: RiskContext, activity: str, headcount: int,
             vehicles: list[Any]) -> str:
    place = _place(camera, ctx)
    names = sorted({str(o.recognised_as) for o in ctx.objects
                    if o.recognised_as and o.label == "person"})
    if headcount:
        who = "Person" if headcount == 1 else f"{headcount} people"
        if names and len(names) >= headcount:
            who = " and ".join(names)
        what = {"loitering": "loitering", "intrusion": "in a protected area",
                "suspicious_behavior": "moving around", "passerby": "passing by",
                "visitor": "approaching", "resident_activity": "about, as usual"}.get(
                    activity, "seen")
    elif vehicles:
        who = "Vehicle"
        what = "leaving" if activity == "vehicle_departure" else "arriving"
    elif activity == "animal":
        who = ", ".join(sorted(ctx.labels)).capitalize()
        what = "seen"
    else:
        who, what = "Activity", "seen"
    armed = f" while armed {ctx.arm_mode}" if ctx.arm_mode in ("away", "night", "vacation") \
        else ""
    return f"{who} {what} at {place} at {ctx.local_time}{armed}."
