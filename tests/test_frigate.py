"""The Frigate bridge end to end: a real mosquitto, a Frigate peer that follows Frigate's
documented HTTP API and MQTT payloads (serving the real footage), the engine from its CLI."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import av
import pytest

from tests.support.engine import EngineProcess
from tests.support.frigate import FrigatePeer, tracked_object
from tests.support.mosquitto import Mosquitto
from tests.support.wsclient import WsClient


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    with Mosquitto(tmp_path_factory.mktemp("mqtt")) as b:
        yield b


@pytest.fixture(scope="module")
def peer(broker: Mosquitto, footage_mp4: Path) -> Iterator[FrigatePeer]:
    p = FrigatePeer(footage_mp4, broker.port).start()
    yield p
    p.stop()


@pytest.fixture(scope="module")
def strict_peer(broker: Mosquitto, footage_mp4: Path) -> Iterator[FrigatePeer]:
    p = FrigatePeer(footage_mp4, broker.port, prefix="frigate2").start()
    yield p
    p.stop()


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory, broker: Mosquitto, peer: FrigatePeer,
           strict_peer: FrigatePeer) -> Iterator[EngineProcess]:
    mqtt = {"mqtt_host": "127.0.0.1", "mqtt_port": broker.port, "reconnect_delay_s": 1,
            "download_timeout_s": 5}
    config = {
        "frigate": [
            {"name": "home", "frigate_url": peer.url, **mqtt, "labels": ["person", "car"],
             "cameras": ["front_door", "driveway"],
             "camera_overrides": {"front_door": {"description": "front door, parcels land here",
                                                 "alerts": {"min_risk_level": "low"}}}},
            # A second server: zone filter, Vigil's second opinion, clips not kept.
            {"name": "strict", "frigate_url": strict_peer.url, **mqtt,
             "mqtt_topic_prefix": "frigate2", "labels": ["person", "dog"],
             "zones": ["driveway"], "bypass_filter": False, "retain_clips": False},
        ],
        "mqtt": {"host": "127.0.0.1", "port": broker.port, "topic_prefix": "vigil"},
        "risk": {"provider": "rules"},
    }
    eng = EngineProcess(tmp_path_factory.mktemp("frigate-engine"), config).start()
    eng.wait_for(lambda: all(s["mqtt_connected"] for s in eng.json("/api/health")["frigate"]
                             .values()), 20, what="both Frigate listeners connected")
    yield eng
    eng.stop()


def frigate_events(engine: EngineProcess, frigate_id: str) -> list[dict[str, Any]]:
    return [e for e in engine.all_events()
            if (e.get("frigate") or {}).get("event_id") == frigate_id]


def one_event(engine: EngineProcess, frigate_id: str, timeout: float = 15,
              pred: Any = None) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        evs = frigate_events(engine, frigate_id)
        assert len(evs) <= 1, f"duplicate events for {frigate_id}: {evs}"
        if evs and (pred is None or pred(evs[0])):
            return evs[0]
        return None

    return engine.wait_for(found, timeout, interval=0.2, what=f"event for {frigate_id}")


def stats(engine: EngineProcess, server: str = "home") -> dict[str, Any]:
    return engine.json("/api/stats")["frigate"][server]["stats"]


async def next_push(client: WsClient, sub_id: int, pred: Any, within: float) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        push = await asyncio.wait_for(client.pushes.get(), max(0.01, deadline - time.monotonic()))
        if push["id"] == sub_id and pred(push["event"]):
            return push["event"]


# ---------------------------------------------------------------------------- fast path


async def test_new_opens_an_event_at_once_and_pushes_it(engine: EngineProcess,
                                                        peer: FrigatePeer) -> None:
    client = WsClient(engine.base)
    assert (await client.connect(engine.token))["type"] == "auth_ok"
    try:
        sub = await client.call("events/subscribe", camera="front_door")
        assert sub["success"], sub
        obj = tracked_object("front_door", entered_zones=["porch"], current_zones=["porch"],
                             sub_label=["Bob", 0.8])
        sent = time.monotonic()
        await asyncio.to_thread(peer.event, "new", obj)
        push = await next_push(client, sub["id"], lambda e: e["action"] == "new", 15)
        latency = time.monotonic() - sent
        ev = push["data"]
        assert ev["camera"] == "front_door" and ev["source"] == "frigate"
        assert ev["end_time"] is None and ev["labels"] == ["person"]
        assert ev["zones"] == ["porch"]
        assert ev["risk"] is not None and ev["risk"]["provider"] == "rules"
        # Frigate's recognition (sub_label) reaches the scorer: named, and weighed.
        assert "recognised by Frigate as Bob" in ev["risk"]["reasoning"]
        assert ev["risk"]["summary"].startswith("Bob ")
        meta = ev["frigate"]
        assert meta["event_id"] == obj["id"] and meta["server"] == "home"
        assert meta["sub_label"] == "Bob" and meta["top_score"] == pytest.approx(0.91)
        assert meta["entered_zones"] == ["porch"] and meta["box"] == [424, 200, 536, 412]
        # Generous bound for a loaded CI machine; the bench measures the real figure.
        assert latency < 10, latency
        # The event is durable before it was announced.
        assert engine.json(f"/api/events/{ev['id']}")["id"] == ev["id"]
        # The camera shows what Frigate is following (HA's occupancy sensors read this).
        cam = engine.json("/api/cameras/front_door")
        assert cam["objects"].get("person", 0) >= 1 and cam["event_id"] is not None
    finally:
        await client.close()


def test_frigate_cameras_are_vigil_cameras(engine: EngineProcess, peer: FrigatePeer) -> None:
    one_event(engine, peer.event("new", tracked_object("driveway"))["id"])
    cams = {c["name"]: c for c in engine.json("/api/cameras")["cameras"]}
    assert cams["front_door"]["source"] == "frigate" and cams["front_door"]["server"] == "home"
    assert cams["driveway"]["source"] == "frigate"
    assert "url" not in json.dumps(cams["front_door"]).lower().replace("stream_url", "")
    jpg = engine.get("/api/cameras/front_door/latest.jpg")
    assert jpg.status == 200 and jpg.body == peer.jpeg, "proxied from Frigate's latest.jpg"
    assert "/api/front_door/latest.jpg" in peer.requests
    health = engine.json("/api/health")["frigate"]["home"]
    assert health["mqtt_connected"] and health["reachable"] and not health["gave_up"]
    assert health["version"] == "0.14.1-f4f3cfa" and health["last_message"] is not None
    assert engine.get("/api/cameras/nowhere/latest.jpg").status == 404
    switch = engine.request("/api/cameras/front_door", method="POST", data=b'{"detect": false}',
                            headers={"Content-Type": "application/json"})
    assert switch.status == 409 and b"Frigate camera" in switch.body


def test_filters_on_camera_label_score_and_zones(engine: EngineProcess, peer: FrigatePeer,
                                                 strict_peer: FrigatePeer) -> None:
    before = stats(engine)["filtered"]
    skipped = [
        peer.event("new", tracked_object("garage")),  # camera not listed
        peer.event("new", tracked_object("front_door", "cat")),  # label not listed
        peer.event("new", tracked_object("front_door", score=0.5, top_score=0.6)),  # score
    ]
    # The zone filter reads Frigate's entered_zones / current_zones.
    outside = strict_peer.event("new", tracked_object("front_door", entered_zones=["yard"],
                                                      current_zones=["yard"]))
    sentinel = peer.event("new", tracked_object("driveway", "car", top_score=0.72, score=0.7))
    one_event(engine, sentinel["id"])
    later = strict_peer.event("update", outside, entered_zones=["yard", "driveway"],
                              current_zones=["driveway"])
    opened = one_event(engine, later["id"])
    assert opened["camera"] == "strict_front_door", "a name another server has is prefixed"
    assert opened["zones"] == ["driveway", "yard"]
    for obj in skipped:
        assert frigate_events(engine, obj["id"]) == []
    after = stats(engine)["filtered"]
    for reason in ("camera", "label", "score"):
        assert after.get(reason, 0) == before.get(reason, 0) + 1, (reason, before, after)
    assert stats(engine, "strict")["filtered"].get("zone", 0) >= 1


def test_web_ui_shows_frigate_cameras_and_events(engine: EngineProcess,
                                                peer: FrigatePeer) -> None:
    from tests.support.browser import Browser, available

    missing = available()
    if missing:
        pytest.fail(missing)
    obj = peer.event("new", tracked_object("driveway", "car"))
    ev = one_event(engine, obj["id"])
    with Browser(width=1280, height=900) as b:
        b.get(engine.base + "/#/events")
        b.wait(lambda: b.visible("[data-testid=login-form]"), 20, what="the login form")
        b.type("[data-testid=token]", engine.token)
        b.click("[data-testid=login-submit]")
        b.wait(lambda: b.js(f"return !!document.querySelector("
                            f"'[data-testid=event-row][data-id=\"{ev['id']}\"]')"),
               30, what="the Frigate event in the list")
        b.click("#nav a[data-view=live]")
        b.wait(lambda: b.js("""const t = document.querySelector(
                '[data-testid=camera-tile][data-camera=driveway]');
            const i = t && t.querySelector('img');
            return !!i && i.complete && i.naturalWidth > 0 &&
                !t.classList.contains('noframe')"""), 20, what="Frigate's picture in a tile")
        caption = b.js("return document.querySelector("
                       "'[data-testid=camera-tile][data-camera=driveway]').textContent")
        assert "Frigate · home" in caption and "online" in caption
        ROOT_ARTIFACTS = Path(__file__).resolve().parents[1] / "var" / "artifacts"
        ROOT_ARTIFACTS.mkdir(parents=True, exist_ok=True)
        b.screenshot(ROOT_ARTIFACTS / "webui-frigate.png", full_page=False)


# ---------------------------------------------------------------------------- end


async def test_end_fetches_clip_scores_writes_back_and_publishes(
        engine: EngineProcess, peer: FrigatePeer, broker: Mosquitto) -> None:
    received: list[tuple[str, bytes, bool]] = []
    async with aiomqtt.Client("127.0.0.1", broker.port) as sub:
        await sub.subscribe("vigil/#")

        async def collect() -> None:
            async for m in sub.messages:
                received.append((m.topic.value, bytes(m.payload), m.retain))

        task = asyncio.create_task(collect())
        obj = tracked_object("front_door", entered_zones=["porch"])
        await asyncio.to_thread(peer.event, "new", obj)
        await asyncio.to_thread(peer.event, "update", obj, score=0.93, top_score=0.95,
                                current_zones=["porch", "steps"])
        end = await asyncio.to_thread(peer.event, "end", obj, top_score=0.95)
        ev = await asyncio.to_thread(one_event, engine, obj["id"], 30,
                                     lambda e: e["has_clip"] and e["has_snapshot"])
        await asyncio.sleep(1.0)
        task.cancel()
    assert ev["end_time"] == pytest.approx(end["end_time"], abs=0.01)
    assert ev["top_score"] == pytest.approx(0.95)
    assert ev["risk"]["status"] == "final" and ev["risk"]["summary"]
    # The clip Vigil serves is Frigate's footage, and it plays.
    clip = engine.get(f"/api/events/{ev['id']}/clip.mp4")
    assert clip.status == 200 and clip.headers["Content-Type"] == "video/mp4"
    path = engine.tmp / "frigate-clip.mp4"
    path.write_bytes(clip.body)
    with av.open(str(path)) as c:
        frames = sum(1 for _ in zip(range(20), c.decode(video=0), strict=False))
        assert frames == 20 and c.streams.video[0].width == 768
    ranged = engine.get(f"/api/events/{ev['id']}/clip.mp4", headers={"Range": "bytes=0-99"})
    assert ranged.status == 206 and len(ranged.body) == 100
    snap = engine.get(f"/api/events/{ev['id']}/snapshot.jpg")
    assert snap.status == 200 and snap.body == peer.jpeg
    # The summary went back into Frigate's own UI.
    desc = engine.wait_for(lambda: peer.descriptions.get(obj["id"]), 10, interval=0.2,
                           what="write-back")
    assert desc[-1].startswith("Vigil: risk ") and ev["risk"]["summary"] in desc[-1]
    # MQTT out: every change, and the camera's risk retained.
    kinds = [json.loads(p)["type"] for t, p, _ in received if t == "vigil/events"
             and json.loads(p)["event"]["id"] == ev["id"]]
    assert kinds[0] == "new" and "end" in kinds and "update" in kinds
    risks = [json.loads(p) for t, p, _ in received if t == "vigil/front_door/risk"]
    assert risks and risks[-1]["event_id"] == ev["id"]
    async with aiomqtt.Client("127.0.0.1", broker.port) as late:
        await late.subscribe("vigil/front_door/risk")
        m = await asyncio.wait_for(anext(late.messages), 10)
        assert m.retain and json.loads(m.payload)["risk_level"] == ev["risk"]["risk_level"]


def test_false_positives_and_short_events_are_dismissed(engine: EngineProcess,
                                                        peer: FrigatePeer) -> None:
    fp = tracked_object("front_door")
    peer.event("new", fp)
    peer.event("end", fp, false_positive=True)
    start = time.time()
    short = tracked_object("front_door", start=start)
    peer.event("new", short)
    peer.event("end", short, end_time=start + 0.4)
    for obj, reason in ((fp, "false_positive"), (short, "too_short")):
        ev = one_event(engine, obj["id"], pred=lambda e: e["end_time"] is not None)
        assert ev["dismissed"].startswith(reason), ev["dismissed"]
        assert not ev["has_clip"]
        assert f"/api/events/{obj['id']}/clip.mp4" not in peer.requests
        assert obj["id"] not in peer.descriptions, "a dismissed event is not written back"


def test_duplicates_never_make_duplicate_events(engine: EngineProcess,
                                                peer: FrigatePeer) -> None:
    dups = stats(engine)["duplicates"]
    obj = tracked_object("driveway")
    peer.event("new", obj)
    peer.event("new", obj)
    peer.event("end", obj)
    peer.event("end", obj)
    peer.event("update", obj)
    ev = one_event(engine, obj["id"], pred=lambda e: e["has_clip"], timeout=30)
    time.sleep(0.5)
    assert len(frigate_events(engine, obj["id"])) == 1
    assert ev["end_time"] is not None
    assert stats(engine)["duplicates"] >= dups + 2
    clip_requests = [r for r in peer.requests if r == f"/api/events/{obj['id']}/clip.mp4"]
    assert len(clip_requests) == 1


BAD = {
    "not_json": b"{not json",
    "not_object": b"[1, 2, 3]",
    "unknown_type": json.dumps({"type": "explode", "after": {}}).encode(),
    "missing_after": json.dumps({"type": "new", "before": {}}).encode(),
    "missing_field": json.dumps({"type": "new", "after": {"camera": "front_door",
                                                          "label": "person",
                                                          "start_time": 1.0}}).encode(),
    "wrong_type": json.dumps({"type": "new", "after": {
        **tracked_object(), "top_score": "high"}}).encode(),
    "too_large": b'{"type": "new", "pad": "' + b"x" * 400_000 + b'"}',
}


def test_bad_payloads_are_logged_counted_and_survived(engine: EngineProcess,
                                                      peer: FrigatePeer) -> None:
    for payload in BAD.values():
        peer.publish_raw(payload)
    peer.publish_raw(json.dumps({"type": "new", "after": {**tracked_object(), "camera": 5}}))
    good = peer.event("new", tracked_object("front_door"))
    one_event(engine, good["id"])
    metrics = engine.get("/metrics").body.decode()
    for reason in BAD:
        m = re.search(rf'vigil_frigate_bad_messages_total{{server="home",reason="{reason}"}} '
                      r"(\d+)", metrics)
        assert m and int(m.group(1)) >= 1, reason
    log = engine.log()
    assert "ignored a bad message on frigate/events (not_json" in log
    assert "after.camera must be a string" in log
    assert "after.id is missing" in log
    assert engine.json("/api/health")["frigate"]["home"]["mqtt_connected"]


# ---------------------------------------------------------------------------- outages


def test_frigate_down_at_end_keeps_the_event_and_fetches_the_clip_later(
        engine: EngineProcess, peer: FrigatePeer) -> None:
    obj = tracked_object("front_door")
    peer.event("new", obj)
    one_event(engine, obj["id"])
    peer.stop_http()
    try:
        peer.event("end", obj)
        ev = one_event(engine, obj["id"], pred=lambda e: e["end_time"] is not None)
        assert ev["risk"] is not None and ev["risk"]["status"] == "final", \
            "scored from Frigate's metadata at once"
        assert not ev["has_clip"]
        assert engine.get(f"/api/events/{ev['id']}/clip.mp4").status == 404
        engine.wait_for(lambda: stats(engine)["clip_failures"] >= 1, 15, what="a failed try")
    finally:
        peer.start_http()
    ev = one_event(engine, obj["id"], timeout=40, pred=lambda e: e["has_clip"])
    assert engine.get(f"/api/events/{ev['id']}/clip.mp4").status == 200
    assert ev["has_snapshot"], "the snapshot missed during the outage is fetched too"


def test_clip_frigate_no_longer_has_is_not_retried(engine: EngineProcess,
                                                   peer: FrigatePeer) -> None:
    gone = tracked_object("front_door")
    peer.no_clip.add(gone["id"])
    peer.event("new", gone)
    peer.event("end", gone)
    no_clip = tracked_object("front_door", has_clip=False)
    peer.event("new", no_clip)
    peer.event("end", no_clip)
    for obj in (gone, no_clip):
        ev = one_event(engine, obj["id"], pred=lambda e: e["end_time"] is not None)
        assert ev["risk"] is not None and not ev["has_clip"]
    engine.wait_for(lambda: peer.requests.count(f"/api/events/{gone['id']}/clip.mp4") == 1,
                    10, what="one clip request")
    time.sleep(5)  # longer than the first retry would wait
    assert peer.requests.count(f"/api/events/{gone['id']}/clip.mp4") == 1
    assert f"/api/events/{no_clip['id']}/clip.mp4" not in peer.requests
    body = engine.get(f"/api/events/{one_event(engine, gone['id'])['id']}/clip.mp4")
    assert body.status == 404 and b"Frigate has no clip" in body.body


# ---------------------------------------------------------------------------- second opinion


def test_second_opinion_and_clips_not_kept(engine: EngineProcess,
                                           strict_peer: FrigatePeer) -> None:
    """bypass_filter: false; the footage shows pedestrians, never a dog."""
    dog = tracked_object("front_door", "dog", entered_zones=["driveway"])
    person = tracked_object("front_door", "person", entered_zones=["driveway"])
    for obj in (dog, person):
        strict_peer.event("new", obj)
        strict_peer.event("end", obj)
    ev = one_event(engine, dog["id"], timeout=60, pred=lambda e: e["dismissed"])
    assert ev["dismissed"].startswith("not_confirmed")
    ok = one_event(engine, person["id"], timeout=60,
                   pred=lambda e: e["end_time"] and e["risk"]["status"] == "final"
                   and person["id"] in strict_peer.descriptions and not e["has_clip"])
    assert ok["dismissed"] is None
    # retain_clips: false - the clip was used for the second opinion and scoring, then removed.
    clips = list((engine.data_dir / "frigate" / "strict").rglob("*.mp4"))
    assert clips == [], clips
    assert f"/api/events/{person['id']}/clip.mp4" in strict_peer.requests


def test_each_clip_gets_its_second_opinion_before_it_is_dropped(
        engine: EngineProcess, strict_peer: FrigatePeer) -> None:
    """retain_clips: false drops a clip once its event has its final score. The rules score
    an event at once, and the clip went as soon as its download was announced, sometimes
    before the detector had looked at it: the second opinion failed on a missing file and
    Frigate's false "dog" stood (the test above failed 1 run in 4). Several at once."""
    dogs = [tracked_object("front_door", "dog", entered_zones=["driveway"]) for _ in range(6)]
    for obj in dogs:
        strict_peer.event("new", obj)
    for obj in dogs:
        strict_peer.event("end", obj)
    for obj in dogs:
        ev = one_event(engine, obj["id"], timeout=90, pred=lambda e: e["dismissed"])
        assert ev["dismissed"].startswith("not_confirmed")
    assert "second opinion on" not in engine.log()
    clips = list((engine.data_dir / "frigate" / "strict").rglob("*.mp4"))
    assert clips == [], clips


# ---------------------------------------------------------------------------- restarts


def test_broker_restart_is_survived(engine: EngineProcess, peer: FrigatePeer,
                                    broker: Mosquitto) -> None:
    broker.stop()
    engine.wait_for(lambda: not engine.json("/api/health")["frigate"]["home"]["mqtt_connected"],
                    15, what="listener noticing the broker is gone")
    broker.start()
    engine.wait_for(lambda: engine.json("/api/health")["frigate"]["home"]["mqtt_connected"],
                    30, what="listener reconnecting")
    obj = peer.event("new", tracked_object("front_door"))
    one_event(engine, obj["id"])
    assert not engine.json("/api/health")["frigate"]["home"]["gave_up"]


def test_engine_restart_between_new_and_end(engine: EngineProcess, peer: FrigatePeer,
                                            strict_peer: FrigatePeer) -> None:
    obj = tracked_object("driveway")
    peer.event("new", obj)
    opened = one_event(engine, obj["id"])
    # A camera known only from its events (this server has no camera list).
    patio = strict_peer.event("new", tracked_object("patio", entered_zones=["driveway"]))
    one_event(engine, patio["id"])
    engine.stop()
    engine.start()
    engine.wait_for(lambda: engine.json("/api/health")["frigate"]["home"]["mqtt_connected"],
                    20, what="listener after restart")
    still = one_event(engine, obj["id"])
    assert still["id"] == opened["id"] and still["end_time"] is None, \
        "Frigate's event is still open: a restart must not close it"
    cams = {c["name"] for c in engine.json("/api/cameras")["cameras"]}
    assert "patio" in cams, "cameras seen before the restart are remembered"
    assert engine.json("/api/cameras/driveway")["objects"].get("person", 0) >= 1
    end = peer.event("end", obj)
    ev = one_event(engine, obj["id"], timeout=30, pred=lambda e: e["has_clip"])
    assert ev["id"] == opened["id"]
    assert ev["end_time"] == pytest.approx(end["end_time"], abs=0.01)


def test_frigate_restart_closes_the_events_it_forgot(engine: EngineProcess,
                                                     peer: FrigatePeer) -> None:
    """Frigate announces ``online`` on <prefix>/available after a restart: the objects it
    tracked before never get an ``end``, so Vigil closes their events itself."""
    obj = tracked_object("front_door")
    peer.event("new", obj)
    opened = one_event(engine, obj["id"])
    time.sleep(1.2)
    peer.publish_raw("online", topic="frigate/available")
    ev = one_event(engine, obj["id"], pred=lambda e: e["end_time"] is not None)
    assert ev["id"] == opened["id"] and ev["dismissed"] is None
    assert ev["end_time"] == pytest.approx(obj["frame_time"], abs=0.01)
    peer.event("end", obj)  # a late end changes nothing
    time.sleep(0.5)
    assert len(frigate_events(engine, obj["id"])) == 1


def test_clip_retry_survives_an_engine_restart(engine: EngineProcess, peer: FrigatePeer) -> None:
    obj = tracked_object("driveway")
    peer.stop_http()
    try:
        peer.event("new", obj)
        peer.event("end", obj)
        one_event(engine, obj["id"], pred=lambda e: e["end_time"] is not None)
        engine.wait_for(lambda: "retry" in engine.log() and stats(engine)["clip_failures"],
                        15, what="a failed download")
        engine.stop()
    finally:
        peer.start_http()
    engine.start()
    ev = one_event(engine, obj["id"], timeout=40, pred=lambda e: e["has_clip"])
    assert engine.get(f"/api/events/{ev['id']}/clip.mp4").status == 200


def test_frigate_clips_count_toward_the_storage_quota(tmp_path: Path, broker: Mosquitto,
                                                      footage_mp4: Path) -> None:
    """Each clip is the 12 MB footage; a 40 MB quota drops the oldest unprotected one."""
    peer = FrigatePeer(footage_mp4, broker.port, prefix="quota").start()
    eng = EngineProcess(tmp_path, {
        "frigate": [{"name": "q", "frigate_url": "http://user:s3cret@127.0.0.1:"
                     f"{peer.http_port}", "mqtt_host": "127.0.0.1", "mqtt_port": broker.port,
                     "mqtt_topic_prefix": "quota"}],
        "mqtt": {"enabled": False},
        "storage": {"max_size_gb": 0.04, "check_seconds": 1}})
    try:
        eng.start()
        eng.wait_for(lambda: eng.json("/api/health")["frigate"]["q"]["mqtt_connected"], 20,
                     what="listener")
        ids = []
        for i in range(4):
            obj = tracked_object("front_door", start=time.time() - 100 + i)
            peer.event("new", obj)
            peer.event("end", obj)
            ev = one_event(eng, obj["id"], timeout=30, pred=lambda e: e["has_clip"])
            ids.append(ev["id"])
            if i == 0:
                assert eng.request(f"/api/events/{ev['id']}/protect", method="POST").status == 200

        def settled() -> bool:
            flags = [eng.json(f"/api/events/{i}")["has_clip"] for i in ids]
            return flags == [True, False, True, True]

        eng.wait_for(settled, 20, what="the oldest unprotected clip purged")
        storage = eng.json("/api/health")["storage"]
        assert storage["used_bytes"] <= 0.04e9
        assert eng.get(f"/api/events/{ids[1]}/clip.mp4").status == 404
        assert "s3cret" not in eng.get("/api/stats").body.decode()
        assert "s3cret" not in eng.log()
    finally:
        eng.stop()
        peer.stop()
