"""People who keep still, loiter, come and go: the engine from its CLI on real footage.

One engine watches four cameras (the expensive part is shared by the module):

* ``porch`` films, through a real RTSP server, a still photo of the plaza with people in
  it: nobody ever moves, and they are there before the camera comes online;
* ``yard`` (and ``porch_slow`` at detect.fps 0.5) plays a clip where a person walks in and
  then stands still;
* ``walkway`` plays a clip where the same two people walk through again and again.

Night is configured to be now (local night window) so loitering raises the level.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.engine import EngineProcess
from tests.support.footage import (
    overlay_clip,
    people,
    plaza_and_walkers,
    still_clip,
    two_walkers,
)
from tests.support.rtsp import RtspCamera
from tests.support.wsclient import WsClient
from vigil_engine.detect.model import Model

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

W, H = 768, 576
LOWER = [[0, 300], [W, 300], [W, H], [0, H]]
WHOLE = [[0, 0], [W, 0], [W, H], [0, H]]
DELAY = 20  # seconds of empty plaza before anyone walks in


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory, footage_mp4: Path,
          model_path: Path) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("clips")
    model = Model(model_path, threads=1)
    # The still photo: the first frame, in which the model finds people (checked here).
    photo, scene, walker, other = plaza_and_walkers(model, footage_mp4)
    assert max(s for s, _ in people(model, photo)) >= 0.8

    def enter(t: float) -> tuple[int, int]:
        # After DELAY s of empty plaza, walks in from the left edge in 4 s and stands
        # still in the lower half (the delay keeps its events apart in time from the
        # porch's: no "also seen on another camera" there).
        return (-400 if t < DELAY else int(-60 + 90 * (t - DELAY)) if t < DELAY + 4
                else 300), 360

    return {
        "photo": still_clip(photo, out / "photo.ts"),
        "enter": overlay_clip(scene, [(walker, enter)], out / "enter.mp4", 150),
        # Two people cross the whole view in opposite directions, again and again.
        "walkway": overlay_clip(scene, two_walkers(walker, other, DELAY),
                                out / "walkway.mp4", 80),
    }


@pytest.fixture(scope="module")
def camera(clips: dict[str, Path]) -> Iterator[RtspCamera]:
    cam = RtspCamera(clips["photo"]).start()
    yield cam
    cam.stop()


class PushRecorder:
    """Every WebSocket push of the engine, recorded from a thread of its own."""

    def __init__(self, engine: EngineProcess) -> None:
        self.engine = engine
        self.pushes: list[dict[str, Any]] = []
        self.ready = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._thread.start()
        assert self.ready.wait(20), "WebSocket subscription failed"

    async def _run(self) -> None:
        client = WsClient(self.engine.base)
        await client.connect(self.engine.token)
        result = await client.call("events/subscribe")
        assert result["success"], result
        self.ready.set()
        while not self._stop.is_set():
            try:
                msg = await asyncio.wait_for(client.pushes.get(), 0.5)
            except TimeoutError:
                continue
            self.pushes.append(msg["event"])
        await client.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory, camera: RtspCamera,
           clips: dict[str, Path]) -> Iterator[tuple[EngineProcess, PushRecorder]]:
    now = datetime.now(UTC)
    night = {"start": (now - timedelta(hours=1)).strftime("%H:%M"),
             "end": (now + timedelta(hours=3)).strftime("%H:%M")}
    detect = {"fps": 5, "width": W, "height": H}
    porch_zone = {"porch": {"coordinates": WHOLE, "objects": ["person"], "loitering_time": 20,
                            "sensitivity": "normal", "description": "back door step"}}
    config = {
        "location": {"timezone": "UTC", "night": night},
        "cameras": {
            "porch": {"inputs": [{"url": camera.url, "roles": ["detect"]}], "detect": detect,
                      "events": {"idle_timeout": 4, "max_length": 300},
                      "alerts": {"min_risk_level": "high"}, "zones": porch_zone},
            "porch_slow": {"inputs": [{"url": str(clips["enter"]), "roles": ["detect"],
                                       "loop": True}],
                           "detect": {**detect, "fps": 0.5, "min_frames": 2},
                           "events": {"idle_timeout": 20, "max_length": 300},
                           "zones": {"step": {**porch_zone["porch"], "coordinates": LOWER,
                                              "loitering_time": 15}}},
            "yard": {"inputs": [{"url": str(clips["enter"]), "roles": ["detect"], "loop": True}],
                     "detect": detect, "events": {"idle_timeout": 4, "max_length": 30},
                     "zones": {"lawn": {"coordinates": LOWER, "objects": ["person"],
                                        "loitering_time": 12, "description": "the lawn"}}},
            "walkway": {"inputs": [{"url": str(clips["walkway"]), "roles": ["detect"],
                                    "loop": True}],
                        "detect": {**detect, "fps": 4},
                        "events": {"idle_timeout": 10, "max_length": 300}},
        },
    }
    eng = EngineProcess(tmp_path_factory.mktemp("engine"), config).start()
    recorder = PushRecorder(eng)
    yield eng, recorder
    recorder.stop()
    eng.stop()


def events_of(eng: EngineProcess, camera: str) -> list[dict[str, Any]]:
    return sorted(eng.all_events(f"camera={camera}"), key=lambda e: e["start_time"])


def test_person_in_view_from_the_start_who_never_moves_opens_an_event(
        engine: tuple[EngineProcess, PushRecorder]) -> None:
    eng, _ = engine
    ev = eng.wait_for(lambda: next((e for e in events_of(eng, "porch")
                                    if "person" in e["labels"]), None), 60,
                      what="an event for people in a still photo")
    people_seen = [o for o in ev["objects"] if o["label"] == "person"]
    assert people_seen and max(o["top_score"] for o in people_seen) >= 0.65
    for o in people_seen:  # nobody in a photo moves: every path point stays put
        xs, ys = [p[1] for p in o["path"]], [p[2] for p in o["path"]]
        assert max(xs) - min(xs) <= 12 and max(ys) - min(ys) <= 12, o["path"]
    # The parked cars in the same photo are tracked but stay out (ignore_still_from_start).
    assert eng.camera("porch")["objects"].get("car", 0) >= 1
    assert all("car" not in e["labels"] for e in events_of(eng, "porch"))


def test_loitering_is_reached_by_people_standing_still(
        engine: tuple[EngineProcess, PushRecorder]) -> None:
    eng, _ = engine

    def loiterer(camera: str) -> dict[str, Any] | None:
        return next((o for e in events_of(eng, camera) for o in e["objects"]
                     if o["loitering"]), None)

    # Looked at only every 5 s once stationary, and at 0.5 fps every 2 s: time in the zone
    # must survive the gaps.
    fast = eng.wait_for(lambda: loiterer("porch"), 90, what="loitering on porch")
    assert fast["stationary"] and fast["loitering_zones"] == ["porch"]
    slow = eng.wait_for(lambda: loiterer("porch_slow"), 90, what="loitering at 0.5 fps")
    assert slow["loitering_zones"] == ["step"]


def test_loitering_escalates_the_open_event_over_the_websocket(
        engine: tuple[EngineProcess, PushRecorder]) -> None:
    eng, recorder = engine

    def escalated() -> dict[str, Any] | None:
        return next((p for p in recorder.pushes if p["action"] == "escalate"
                     and p["data"]["camera"] == "porch"), None)

    try:
        push = eng.wait_for(escalated, 90, what="an escalate push for porch")
    except TimeoutError:
        seen = [(p["action"], (p["data"].get("risk") or {}).get("reasoning"))
                for p in recorder.pushes if p["data"].get("camera") == "porch"]
        raise AssertionError(f"no escalation; porch pushes: {seen[:2]} ... {seen[-2:]}") from None
    data = push["data"]
    esc = data["escalation"]
    # Night, several people, a watched zone = medium (below this camera's alert level);
    # loitering makes it high, and the alert is raised.
    assert esc["reason"] == "loitering"
    assert (esc["previous_level"], esc["level"]) == ("medium", "high")
    assert esc["alert_raised"] is True and esc["previous_alert"] is False
    assert esc["alert"] is True and data["alert"] is True
    assert abs(esc["at"] - time.time()) < 300
    assert data["risk"]["risk_level"] == "high"
    # The event was announced before (new, at medium, no alert) and the escalate push
    # follows the update that carries the same row.
    kinds = [(p["action"], p["data"]["id"]) for p in recorder.pushes]
    assert kinds.index(("new", data["id"])) < kinds.index(("escalate", data["id"]))
    first = next(p["data"] for p in recorder.pushes if p["data"].get("id") == data["id"])
    assert first["escalation"] is None and first["alert"] is False
    assert first["risk"]["risk_level"] == "medium"
    # Durable: the REST API and the SQLite row carry the same escalation.
    assert eng.json(f"/api/events/{data['id']}")["escalation"] == esc
    with sqlite3.connect(eng.data_dir / "vigil.db") as db:
        row = db.execute("SELECT escalation FROM events WHERE id = ?", (data["id"],)).fetchone()
    assert json.loads(row[0]) == esc
    # Summaries name the configured zone and the camera's local time.
    summary = data["risk"]["summary"]
    assert "back door step" in summary and re.match(r"(Person|\d people) loitering", summary)
    assert datetime.fromtimestamp(data["start_time"], UTC).strftime("%H:%M") in summary


def test_after_max_length_the_follow_on_event_carries_the_person_still_there(
        engine: tuple[EngineProcess, PushRecorder]) -> None:
    eng, _ = engine

    def chained() -> tuple[dict[str, Any], dict[str, Any]] | None:
        evs = [e for e in events_of(eng, "yard") if "person" in e["labels"]]
        for a, b in itertools.pairwise(evs):
            if a["end_time"] and abs(b["start_time"] - a["end_time"]) < 1.0:
                return a, b
        return None

    first, second = eng.wait_for(chained, 120, what="a follow-on event after max_length")
    assert 29 <= first["end_time"] - first["start_time"] <= 33
    stayed = {o["id"] for o in first["objects"] if o["label"] == "person"}
    carried = [o for o in second["objects"] if o["id"] in stayed]
    assert carried, (first["objects"], second["objects"])
    # The one who walked in and stood still loitered on the lawn.
    assert any(o["loitering"] and o["stationary"] for o in first["objects"]), first["objects"]
    assert "the lawn" in first["risk"]["summary"]


def test_two_people_walking_in_and_out_are_counted_as_two(
        engine: tuple[EngineProcess, PushRecorder]) -> None:
    eng, _ = engine

    def walked() -> dict[str, Any] | None:
        # The whole minute of walking, scored when it ended: seven times one walks in
        # front of the other (half hidden, then whole again).
        return next((e for e in events_of(eng, "walkway")
                     if sum(o["label"] == "person" for o in e["objects"]) >= 6
                     and e["end_time"] and e["risk"] and e["risk"]["status"] == "final"), None)

    ev = eng.wait_for(walked, 180, what="a finished event with many walking-in tracks")
    people_seen = [o for o in ev["objects"] if o["label"] == "person"]
    summary = ev["risk"]["summary"]
    assert summary.startswith("2 people"), (len(people_seen), summary)
    # The tracks themselves: both people are there at once, never a third beside them.
    marks = sorted(m for o in people_seen for m in ((o["first_seen"], 1), (o["last_seen"], -1)))
    spans = [(o["first_seen"], o["last_seen"]) for o in people_seen]
    assert max(itertools.accumulate(step for _, step in marks)) == 2, spans


def test_switching_detection_off_marks_tracked_people_gone(
        engine: tuple[EngineProcess, PushRecorder]) -> None:
    eng, _ = engine
    eng.wait_for(lambda: eng.camera("yard")["objects"].get("person"), 60,
                 what="a person tracked on yard")
    resp = eng.request("/api/cameras/yard", method="POST", data=b'{"detect": false}',
                       headers={"Content-Type": "application/json"})
    assert resp.status == 200 and resp.json()["detect"] is False
    eng.wait_for(lambda: eng.camera("yard")["objects"] == {}, 15,
                 what="occupancy to go off")
    # With nobody known to be there, the open event ends after its idle timeout.
    eng.wait_for(lambda: eng.camera("yard")["event_id"] is None, 30,
                 what="the yard event to end")
    assert eng.camera("yard")["objects"] == {}
    resp = eng.request("/api/cameras/yard", method="POST", data=b'{"detect": true}',
                       headers={"Content-Type": "application/json"})
    assert resp.status == 200
    # Switched on again, the person standing there is found again without moving.
    eng.wait_for(lambda: eng.camera("yard")["objects"].get("person"), 30,
                 what="the person found again")


def test_a_person_there_when_the_camera_comes_back_opens_an_event(
        engine: tuple[EngineProcess, PushRecorder], camera: RtspCamera) -> None:
    eng, _ = engine
    eng.wait_for(lambda: eng.camera("porch")["event_id"], 60, what="an open porch event")
    camera.stop()
    eng.wait_for(lambda: eng.camera("porch")["status"] == "offline", 30, what="porch offline")
    eng.wait_for(lambda: eng.camera("porch")["event_id"] is None, 30,
                 what="the porch event to end during the outage")
    before = {e["id"] for e in events_of(eng, "porch")}
    camera.restart()
    ev = eng.wait_for(lambda: next((e for e in events_of(eng, "porch")
                                    if e["id"] not in before), None), 60,
                      what="a new event after the reconnect")
    assert "person" in ev["labels"]
    # It goes on from where the one the outage ended stopped, with the same people.
    last = max((e for e in events_of(eng, "porch") if e["id"] in before),
               key=lambda e: e["start_time"])
    assert ev["start_time"] >= last["end_time"]
    assert {o["id"] for o in ev["objects"]} & {o["id"] for o in last["objects"]}
