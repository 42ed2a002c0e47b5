"""Rules scoring on real SQLite: scenarios must order the way a household would."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from vigil_engine.config import Config, parse_config
from vigil_engine.events.bus import EventBus
from vigil_engine.risk.model import LEVEL_RANK, level_for
from vigil_engine.risk.service import RiskService
from vigil_engine.risk.sun import is_dark
from vigil_engine.store.db import Store

CAM = {"inputs": [{"url": "rtsp://127.0.0.1:1/x"}]}
FRAME = [[0, 0], [640, 0], [640, 360], [0, 360]]


def cam(description: str, zone: str, sensitivity: str, **extra: Any) -> dict[str, Any]:
    return {**CAM, "description": description, **extra,
            "zones": {zone: {"coordinates": FRAME, "sensitivity": sensitivity,
                             "loitering_time": 30, "description": f"the {zone}"}}}


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return parse_config({
        "data_dir": str(tmp_path),
        "location": {"latitude": 51.5, "longitude": -0.1, "timezone": "UTC"},
        "cameras": {
            "back_door": cam("back door, faces the garden", "porch", "high"),
            "front_door": cam("front door and path", "entrance", "normal"),
            "garden": cam("garden lawn", "lawn", "low"),
            "driveway": cam("driveway and gate", "drive", "normal"),
            "street": cam("street in front of the house", "pavement", "low",
                          alerts={"min_risk_level": "high"}),
        },
    })


@pytest.fixture
def service(config: Config, tmp_path: Path) -> Iterator[RiskService]:
    store = Store(tmp_path / "vigil.db")
    svc = RiskService(config, store, EventBus())
    yield svc
    store.close()


def at(y: int, mo: int, d: int, h: int, mi: int) -> float:
    return datetime(y, mo, d, h, mi, tzinfo=UTC).timestamp()


def obj(label: str, start: float, dwell: float, *, zones: list[str], loitering: bool = False,
        path: str = "approaching", score: float = 0.85) -> dict[str, Any]:
    y0, y1, x0, x1 = {"approaching": (100, 300, 300, 310), "leaving": (300, 100, 300, 310),
                      "passing": (200, 205, 50, 600), "still": (200, 202, 300, 302)}[path]
    return {"id": secrets.token_hex(4), "label": label, "top_score": score, "zones": zones,
            "first_seen": start, "last_seen": start + dwell, "stationary": False,
            "loitering": loitering, "path": [[start, x0, y0], [start + dwell, x1, y1]]}


def event(camera: str, start: float, objects: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": f"{int(start * 1000)}-{secrets.token_hex(3)}", "camera": camera,
            "start_time": start, "end_time": start + max(o["last_seen"] - start for o in objects),
            "labels": sorted({o["label"] for o in objects}), "zones": [], "objects": objects}


def assess(service: RiskService, config: Config, ev: dict[str, Any]
           ) -> tuple[dict[str, Any], bool, str]:
    return asyncio.run(service.fast(config.cameras[ev["camera"]], ev))


def store_event(service: RiskService, ev: dict[str, Any], risk: dict[str, Any] | None = None,
                alert: bool = False) -> None:
    asyncio.run(service.store.upsert_event({**ev, "risk": risk, "alert": alert}))


NIGHT = at(2026, 1, 14, 2, 10)
DAY = at(2026, 1, 14, 14, 0)


def test_night_armed_away_loitering_at_back_door_is_high_or_critical(
        service: RiskService, config: Config) -> None:
    asyncio.run(service.set_mode("away"))
    ev = event("back_door", NIGHT, [obj("person", NIGHT, 95, zones=["porch"], loitering=True)])
    risk, alert, reason = assess(service, config, ev)
    assert risk["risk_level"] in ("high", "critical")
    assert risk["activity_type"] in ("intrusion", "loitering", "suspicious_behavior")
    assert alert and "reaches" in reason
    # Explainable: the reasoning names each factor with its weight and the total.
    for factor in ("person present (+20)", "night (02:10) (+20)", "armed away (+20)",
                   "loitering (+20)", "in a high-sensitivity zone (the porch) (+15)"):
        assert factor in risk["reasoning"]
    assert risk["reasoning"].endswith(f"= {risk['risk_score']}")
    assert risk["summary"].endswith(".") and "Back door" in risk["summary"]
    assert "02:10" in risk["summary"] and "armed away" in risk["summary"]
    assert risk["provider"] == "rules" and risk["status"] == "final"
    assert risk["entities"][0]["label"] == "person" and risk["entities"][0]["dwell_seconds"] == 95


def test_daytime_person_briefly_at_front_door_while_home_is_low(
        service: RiskService, config: Config) -> None:
    asyncio.run(service.set_mode("home"))
    ev = event("front_door", DAY, [obj("person", DAY, 8, zones=["entrance"])])
    risk, alert, reason = assess(service, config, ev)
    assert risk["risk_level"] == "low", risk["reasoning"]
    assert risk["activity_type"] == "visitor"
    assert not alert and reason == "risk low is below medium"


def test_someone_frigate_recognised_is_less_worrying_but_never_cleared(
        service: RiskService, config: Config) -> None:
    """Frigate's sub_label (face or plate recognition) names who it is: the household at
    the back door at night is less alarming than a stranger, yet still reported."""
    asyncio.run(service.set_mode("night"))
    stranger = obj("person", NIGHT, 40, zones=["porch"])
    resident = {**obj("person", NIGHT, 40, zones=["porch"]), "sub_label": "Alice"}
    unknown_risk, _, _ = assess(service, config, event("back_door", NIGHT, [stranger]))
    known_risk, _, _ = assess(service, config, event("back_door", NIGHT, [resident]))
    assert "recognised by Frigate as Alice (-20)" in known_risk["reasoning"]
    assert known_risk["risk_score"] == unknown_risk["risk_score"] - 20
    assert known_risk["risk_score"] > 0  # still reported, at a lower level
    assert known_risk["summary"].startswith("Alice ")
    assert known_risk["entities"][0]["recognised_as"] == "Alice"
    # One of two recognised: the stranger beside her still counts in full.
    both, _, _ = assess(service, config, event("back_door", NIGHT, [
        {**resident, "first_seen": NIGHT, "last_seen": NIGHT + 40},
        {**stranger, "first_seen": NIGHT + 1, "last_seen": NIGHT + 40}]))
    assert "recognised" not in both["reasoning"]


def test_cat_in_the_garden_is_low(service: RiskService, config: Config) -> None:
    asyncio.run(service.set_mode("away"))
    for when in (DAY, NIGHT):
        ev = event("garden", when, [obj("cat", when, 40, zones=["lawn"], loitering=True)])
        risk, alert, _ = assess(service, config, ev)
        assert risk["risk_level"] == "low" and risk["activity_type"] == "animal"
        assert not alert


def test_car_arriving_at_a_usual_hour_is_low_or_medium(service: RiskService,
                                                       config: Config) -> None:
    asyncio.run(service.set_mode("home"))
    morning = at(2026, 1, 14, 8, 5)
    # Four weeks of history: the car comes home around 08:00 on most days.
    for day in range(1, 25):
        t = morning - day * 86400 - 300
        store_event(service, event("driveway", t, [obj("car", t, 20, zones=["drive"])]))
    ev = event("driveway", morning, [obj("car", morning, 25, zones=["drive"])])
    risk, _, _ = assess(service, config, ev)
    assert risk["risk_level"] in ("low", "medium")
    assert risk["activity_type"] == "vehicle_arrival"
    assert "usual here at this hour (car)" in risk["reasoning"]
    # The same car at 03:00, never seen at that hour, scores higher.
    odd = at(2026, 1, 14, 3, 0)
    late, _, _ = assess(service, config,
                        event("driveway", odd, [obj("car", odd, 25, zones=["drive"])]))
    assert late["risk_score"] > risk["risk_score"]
    assert "never seen here at this hour (car)" in late["reasoning"]


def test_person_on_two_cameras_toward_the_house_at_night_scores_higher(
        service: RiskService, config: Config) -> None:
    asyncio.run(service.set_mode("home"))
    t1 = at(2026, 1, 14, 1, 0)
    street = event("street", t1, [obj("person", t1, 20, zones=["pavement"])])
    t2 = t1 + 100
    door = event("front_door", t2, [obj("person", t2, 15, zones=["entrance"])])
    street_alone, _, _ = assess(service, config, street)
    door_alone, _, _ = assess(service, config, door)
    store_event(service, street, street_alone)
    door_after_street, _, _ = assess(service, config, door)
    assert door_after_street["risk_score"] > door_alone["risk_score"]
    assert door_after_street["risk_score"] > street_alone["risk_score"]
    assert "also seen on street minutes before" in door_after_street["reasoning"]
    assert door_after_street["activity_type"] == "suspicious_behavior"


def test_alert_policy_levels_always_never_quiet_hours_and_cooldown(tmp_path: Path) -> None:
    config = parse_config({
        "data_dir": str(tmp_path),
        "location": {"timezone": "UTC"},
        "cameras": {
            "porch": cam("porch", "step", "high", alerts={
                "min_risk_level": "medium", "always": ["visitor"], "never": ["animal"],
                "quiet_hours": {"start": "23:00", "end": "06:00"}, "cooldown": 10}),
        },
    })
    store = Store(tmp_path / "vigil.db")
    svc = RiskService(config, store, EventBus())
    try:
        asyncio.run(svc.set_mode("away"))
        noon = at(2026, 1, 14, 12, 0)
        visitor = event("porch", noon, [obj("person", noon, 10, zones=["step"])])
        risk, alert, _reason = assess(svc, config, visitor)
        assert alert
        store_event(svc, visitor, risk, alert)
        # The same activity five minutes later is folded into the first alert.
        again = event("porch", noon + 300, [obj("person", noon + 300, 10, zones=["step"])])
        risk2, alert2, reason2 = assess(svc, config, again)
        assert risk2["activity_type"] == risk["activity_type"]
        assert not alert2 and reason2.startswith(f"folded into earlier alert {visitor['id']}")
        # After the cooldown it alerts again.
        later = event("porch", noon + 1200, [obj("person", noon + 1200, 10, zones=["step"])])
        assert assess(svc, config, later)[1]
        dog = event("porch", noon, [obj("dog", noon, 60, zones=["step"])])
        assert assess(svc, config, dog)[2] == "animal never notifies on this camera"
        # Quiet hours hold back medium, not high.
        asyncio.run(svc.set_mode("home"))
        quiet = at(2026, 1, 14, 23, 30)
        passer = event("porch", quiet, [obj("person", quiet, 5, zones=[], path="passing")])
        r, a, why = assess(svc, config, passer)
        assert r["risk_level"] == "medium", r["reasoning"]
        assert not a and why.startswith("quiet hours 23:00-06:00")
        asyncio.run(svc.set_mode("away"))
        loiter = event("porch", quiet + 60,
                       [obj("person", quiet + 60, 90, zones=["step"], loitering=True)])
        r, a, _ = assess(svc, config, loiter)
        assert LEVEL_RANK[r["risk_level"]] >= LEVEL_RANK["high"] and a
    finally:
        store.close()


def test_levels_and_daylight() -> None:
    assert [level_for(s) for s in (0, 29, 30, 59, 60, 84, 85, 100)] == [
        "low", "low", "medium", "medium", "high", "high", "critical", "critical"]
    london = (51.5, -0.1)
    assert is_dark(datetime(2026, 1, 14, 2, 0, tzinfo=UTC), *london)
    assert not is_dark(datetime(2026, 1, 14, 12, 0, tzinfo=UTC), *london)
    assert not is_dark(datetime(2026, 6, 21, 20, 0, tzinfo=UTC), *london)  # long summer day
    assert is_dark(datetime(2026, 12, 21, 17, 0, tzinfo=UTC), *london)  # short winter day


def test_eval_risk_grades_the_rules_on_the_described_scenarios() -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, str(root / "scripts" / "eval_risk.py")],
                          capture_output=True, text=True, timeout=120, check=False,
                          env={"PYTHONPATH": f"{root}/addon:{root}", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0] == "provider: rules"
    assert lines[-1] == "agreement: 13/13 (100%)"
    assert sum(line.rstrip().endswith("yes") for line in lines) == 13
    # Agreement per group, homes outside UTC+-0 included (night is their local night).
    assert lines[-4:-1] == ["group london: 8/8 (100%)", "group san_francisco: 3/3 (100%)",
                            "group auckland: 2/2 (100%)"]
    assert "[auckland, Pacific/Auckland]" in lines


def test_summary_shows_the_homes_local_time_and_zone(tmp_path: Path) -> None:
    from zoneinfo import ZoneInfo

    config = parse_config({
        "data_dir": str(tmp_path),
        "location": {"latitude": 37.77, "longitude": -122.42,
                     "timezone": "America/Los_Angeles"},
        "cameras": {"front_door": cam("front door", "stoop", "normal")}})
    store = Store(tmp_path / "vigil.db")
    try:
        svc = RiskService(config, store, EventBus())
        # 17:30 on a June evening in San Francisco is 00:30 UTC the next day: daylight.
        start = datetime(2026, 6, 20, 17, 30, tzinfo=ZoneInfo("America/Los_Angeles")).timestamp()
        ev = event("front_door", start, [obj("person", start, 10, zones=["stoop"])])
        risk, _, _ = asyncio.run(svc.fast(config.cameras["front_door"], ev))
    finally:
        store.close()
    assert risk["summary"] == "Person approaching at Front door (the stoop) at 17:30."
    assert "night" not in risk["reasoning"] and risk["risk_level"] == "low"
    assert "in a watched zone (the stoop)" in risk["reasoning"]


def test_a_second_camera_joining_escalates_the_announced_event(
        service: RiskService, config: Config) -> None:
    from vigil_engine.risk.escalation import escalation_of

    ev = event("front_door", DAY, [obj("person", DAY, 20, zones=["entrance"])])
    risk, alert, _ = assess(service, config, ev)
    assert risk["risk_level"] == "low" and not alert
    stored, escalated = asyncio.run(service.store.upsert_event(
        {**ev, "risk": risk, "alert": alert}, escalate=escalation_of))
    assert stored is not None and stored["escalation"] is None and not escalated  # announced
    # The same person was on the driveway camera a minute before: now medium, alert.
    store_event(service, event("driveway", DAY - 60, [obj("person", DAY - 60, 20,
                                                          zones=["drive"])]))
    risk, alert, _ = assess(service, config, ev)
    stored, escalated = asyncio.run(service.store.upsert_event(
        {**ev, "risk": risk, "alert": alert}, escalate=escalation_of))
    assert escalated and stored is not None
    esc = stored["escalation"]
    assert {k: esc[k] for k in ("alert_raised", "previous_level", "level", "previous_alert",
                                "alert", "reason")} == {
        "alert_raised": True, "previous_level": "low", "level": "medium",
        "previous_alert": False, "alert": True, "reason": "second_camera"}
    # Nothing new: the escalation stays on the row, no second one is announced.
    stored, escalated = asyncio.run(service.store.upsert_event(
        {**ev, "risk": risk, "alert": alert}, escalate=escalation_of))
    assert not escalated and stored is not None and stored["escalation"] == esc


def test_a_late_intermediate_llm_result_never_replaces_the_final_one(
        service: RiskService) -> None:
    from vigil_engine.risk.escalation import escalation_of
    from vigil_engine.risk.model import assessment

    ev = event("back_door", NIGHT, [obj("person", NIGHT, 20, zones=["porch"])])
    store_event(service, ev)

    def llm(score: int, scope: str) -> dict[str, Any]:
        return assessment(score=score, activity="visitor", summary=f"{scope} answer",
                          reasoning="r", entities=[], provider="openai", model="m",
                          latency_ms=1.0, status="final", scope=scope)

    final, escalated = asyncio.run(service.store.set_risk(
        ev["id"], llm(90, "event"), True, "risk critical", escalate=escalation_of))
    assert final is not None and final["risk"]["summary"] == "event answer"
    # The LLM's answer raised the alert of the announced event: an escalation by the LLM.
    assert escalated and final["escalation"]["reason"] == "llm"
    assert final["escalation"]["alert_raised"] and final["escalation"]["level"] == "critical"
    late, escalated = asyncio.run(service.store.set_risk(
        ev["id"], llm(10, "intermediate"), False, "", escalate=escalation_of,
        intermediate=True))
    assert late is not None and late["risk"]["summary"] == "event answer" and not escalated
    assert late["risk"]["risk_score"] == 90 and late["alert"] is True
