"""WebSocket API against the running engine with real footage."""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.engine import EngineProcess
from tests.support.wsclient import RawWs, WsClient

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory, footage_mp4: Path) -> Iterator[EngineProcess]:
    config = {
        "api": {"failed_auth_limit": 100000},
        "location": {"timezone": "UTC"},
        "cameras": {"plaza": {
            "inputs": [{"url": str(footage_mp4), "roles": ["detect"], "loop": True}],
            "detect": {"fps": 5, "width": 768, "height": 576},
            "events": {"idle_timeout": 2, "max_length": 8},
        }},
    }
    eng = EngineProcess(tmp_path_factory.mktemp("ws"), config).start()
    yield eng
    eng.stop()


async def next_push(client: WsClient, sub_id: int, action: str | None, within: float,
                    pred: Any = None) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {action} push within {within} s")
        push = await asyncio.wait_for(client.pushes.get(), left)
        if push["id"] != sub_id:
            continue
        ev = push["event"]
        if (action is None or ev["action"] == action) and (pred is None or pred(ev["data"])):
            return ev


async def test_handshake_and_auth(engine: EngineProcess) -> None:
    good = WsClient(engine.base)
    hello = await good.connect(engine.token)
    assert hello["type"] == "auth_ok" and hello["protocol_version"] == 1
    assert hello["version"] and hello["instance_id"] == engine.json("/api/health")["instance_id"]
    await good.close()
    bad = WsClient(engine.base)
    assert (await bad.connect("wrong-token-1234567890"))["type"] == "auth_invalid"
    assert bad.ws is not None
    closed = await bad.ws.receive(timeout=5)
    assert closed.type.name in ("CLOSE", "CLOSED", "CLOSING")
    await bad.close()
    # No command is accepted before auth.
    early = WsClient(engine.base)
    early.session = __import__("aiohttp").ClientSession()
    early.ws = await early.session.ws_connect(early.url)
    await early.ws.send_json({"id": 1, "type": "cameras/list"})
    reply = await early.ws.receive_json(timeout=5)
    assert reply["type"] == "auth_invalid"
    await early.close()


async def test_event_lifecycle_switches_and_arm_mode(engine: EngineProcess) -> None:
    client = WsClient(engine.base)
    await client.connect(engine.token)
    try:
        sub = await client.call("events/subscribe")
        assert sub["success"]
        sub_id = sub["id"]
        new = await next_push(client, sub_id, "new", 90)
        opened = new["data"]
        assert opened["end_time"] is None and "person" in opened["labels"]
        assert opened["risk"]["provider"] == "rules" and opened["risk"]["risk_level"]
        end = await next_push(client, sub_id, "end", 60, lambda d: d["id"] == opened["id"])
        assert end["data"]["end_time"] is not None

        # Arm the house: the next assessment knows it.
        assert (await client.call("mode/set", mode="away"))["result"] == {"mode": "away"}
        mode_push = await next_push(client, sub_id, "mode", 10)
        assert mode_push["data"] == {"mode": "away"}
        assert (await client.call("mode/get"))["result"]["mode"] == "away"
        # (an event opening at this very moment may have been scored just before)
        armed = await next_push(client, sub_id, "new", 60,
                                lambda d: "armed away" in d["risk"]["reasoning"])
        assert armed["data"]["risk"]["risk_score"] > 25

        # Detection off: no new events (the open one ends), detection stops running.
        off = await client.call("camera/set", camera="plaza", detect=False)
        assert off["result"]["detect"] is False
        await asyncio.sleep(12)  # longer than max_length + idle_timeout
        before = engine.camera("plaza")["stats"]
        while not client.pushes.empty():
            client.pushes.get_nowait()
        await asyncio.sleep(8)
        after = engine.camera("plaza")["stats"]
        assert after["events_opened"] == before["events_opened"]
        assert after["detect_runs"] == before["detect_runs"]
        assert all(p["event"]["action"] != "new" for p in list(client.pushes._queue))
        on = await client.call("camera/set", camera="plaza", detect=True)
        assert on["result"]["detect"] is True
        await next_push(client, sub_id, "new", 60)
        # The switch is persisted by the engine.
        assert engine.camera("plaza")["switches"]["detect"] is True
        await client.call("mode/set", mode="home")
    finally:
        await client.close()


async def test_commands_lists_search_and_errors(engine: EngineProcess) -> None:
    client = WsClient(engine.base)
    await client.connect(engine.token)
    try:
        engine.wait_for(lambda: len(engine.all_events()) >= 2, 60, what="two events")
        cams = await client.call("cameras/list")
        assert cams["success"] and cams["result"][0]["name"] == "plaza"
        listed = await client.call("events/list", limit=1)
        assert len(listed["result"]["events"]) == 1 and listed["result"]["next_cursor"]
        page2 = await client.call("events/list", limit=1, cursor=listed["result"]["next_cursor"])
        assert page2["result"]["events"][0]["id"] != listed["result"]["events"][0]["id"]
        eid = listed["result"]["events"][0]["id"]
        got = await client.call("events/get", event_id=eid)
        assert got["result"]["id"] == eid
        found = await client.call("search", query="person on the plaza")
        assert found["success"] and found["result"]["events"]
        none = await client.call("search", query="zebra")
        assert none["result"]["events"] == []
        ack = await client.call("events/acknowledge", event_id=eid)
        assert ack["result"]["acknowledged"] is True
        prot = await client.call("events/protect", event_id=eid, protected=True)
        assert prot["result"]["protected"] is True
        stats = await client.call("stats/get")
        assert stats["result"]["api"]["websocket_clients"] >= 1
        cases = [
            ({"type": "no/such"}, "unknown_command", "type"),
            ({"type": "events/get"}, "invalid_format", "event_id"),
            ({"type": "events/get", "event_id": 5}, "invalid_format", "event_id"),
            ({"type": "events/get", "event_id": "1-x"}, "unknown_event", ""),
            ({"type": "events/list", "limit": "ten"}, "invalid_format", "limit"),
            ({"type": "events/list", "colour": "red"}, "invalid_format", "colour"),
            ({"type": "camera/set", "camera": "plaza", "detect": "yes"}, "invalid_format",
             "detect"),
            ({"type": "camera/set", "camera": "nope", "detect": True}, "unknown_camera", ""),
            ({"type": "mode/set", "mode": "panic"}, "invalid_format", "mode"),
            ({"type": "clips/export", "camera": "plaza", "start": 1, "end": 2}, "no_recording",
             ""),
            ({"type": "unsubscribe", "subscription": 999}, "not_found", "subscription"),
        ]
        for fields, code, field in cases:
            fields = dict(fields)
            kind = fields.pop("type")
            reply = await client.call(kind, **fields)
            assert not reply["success"], (kind, reply)
            assert reply["error"]["code"] == code, (kind, reply)
            assert reply["error"]["message"].startswith(field), (kind, reply)
        assert (await client.call("ping"))["result"] == "pong"  # still connected
    finally:
        await client.close()


def test_fuzzing_the_socket_keeps_the_engine_serving(engine: EngineProcess) -> None:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def run(coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(60)

    fuzzer = WsClient(engine.base)
    witness = WsClient(engine.base)
    run(fuzzer.connect(engine.token))
    run(witness.connect(engine.token))
    answered = {"n": 0}
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                    max_size=4),
        max_leaves=12)
    commands = st.sampled_from(["events/get", "events/list", "camera/set", "mode/set",
                                "search", "clips/export", "events/protect", "unsubscribe",
                                "x", ""])
    messages = st.one_of(
        json_values.map(json.dumps),
        st.fixed_dictionaries({"id": st.integers(min_value=-5, max_value=2**60),
                               "type": commands}, optional={"event_id": json_values,
                                                            "camera": json_values,
                                                            "limit": json_values,
                                                            "mode": json_values,
                                                            "query": json_values,
                                                            "detect": json_values,
                                                            "start": json_values,
                                                            "subscription": json_values}
                              ).map(json.dumps),
        st.binary(max_size=64),
        st.text(max_size=64))

    async def send_and_expect_answer(raw: str | bytes) -> None:
        before = len(fuzzer.errors_without_id)
        pending = dict(fuzzer.results)
        await fuzzer.send_raw(raw)
        # A valid-looking request gets a result with its id; anything else an error without.
        await asyncio.sleep(0)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if len(fuzzer.errors_without_id) > before or fuzzer.results != pending:
                break
            await asyncio.sleep(0.005)

    @settings(max_examples=1500, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(messages)
    def fuzz(raw: str | bytes) -> None:
        if isinstance(raw, str) and raw.startswith("{"):
            try:
                msg = json.loads(raw)
            except ValueError:
                msg = None
            if isinstance(msg, dict) and isinstance(msg.get("id"), int) and \
                    not isinstance(msg.get("id"), bool) and 0 < msg["id"] < 2**53:
                # Route through call() so the reply is matched by id.
                fields = {k: v for k, v in msg.items() if k not in ("id", "type")}
                fuzzer.next_id = max(fuzzer.next_id, 1)
                reply = run(fuzzer.call(msg.get("type") if isinstance(msg.get("type"), str)
                                        else "x", **fields))
                assert reply["type"] == "result"
                if not reply["success"]:
                    assert reply["error"]["code"] and reply["error"]["message"]
                answered["n"] += 1
                return
        before = len(fuzzer.errors_without_id)
        run(send_and_expect_answer(raw))
        assert len(fuzzer.errors_without_id) > before, f"no error answer for {raw!r}"
        answered["n"] += 1

    try:
        stop = threading.Event()
        witness_rtts: list[float] = []

        def keep_pinging() -> None:
            while not stop.is_set():
                t0 = time.monotonic()
                assert run(witness.call("ping"))["result"] == "pong"
                witness_rtts.append(time.monotonic() - t0)
                time.sleep(0.05)

        pinger = threading.Thread(target=keep_pinging)
        pinger.start()
        fuzz()
        stop.set()
        pinger.join(30)
        random.seed(7)
        for _ in range(500):  # plus plain random bytes frames
            run(send_and_expect_answer(random.randbytes(random.randint(1, 200))))
        assert answered["n"] >= 1000
        assert witness_rtts and max(witness_rtts) < 2.0  # every other client kept being served
        assert run(fuzzer.call("ping"))["result"] == "pong"
        assert engine.get("/api/health").status == 200
    finally:
        run(fuzzer.close())
        run(witness.close())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


async def test_slow_client_is_dropped_while_others_keep_receiving(engine: EngineProcess) -> None:
    normal = WsClient(engine.base)
    await normal.connect(engine.token)
    slow = RawWs(engine.port)
    try:
        slow.send({"type": "auth", "token": engine.token})
        await normal.call("cameras/subscribe")
        slow.send({"id": 1, "type": "cameras/subscribe"})
        slow.send({"id": 2, "type": "events/subscribe"})
        # Ask for far more than the socket buffers hold, and never read any of it.
        for i in range(3, 3000):
            slow.send({"id": i, "type": "cameras/list"})
        rtts = []
        for _ in range(20):
            t0 = time.monotonic()
            assert (await normal.call("ping"))["result"] == "pong"
            rtts.append(time.monotonic() - t0)
            await asyncio.sleep(0.1)
        assert max(rtts) < 1.0
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            stats = await normal.call("stats/get")
            if stats["result"]["api"]["websocket_clients"] == 1:
                break
            await asyncio.sleep(0.5)
        assert stats["result"]["api"]["websocket_clients"] == 1  # the slow one is gone
        assert slow.closed_by_peer(timeout=5)
        assert "too slow" in engine.log()
        assert (await normal.call("ping"))["result"] == "pong"
    finally:
        slow.close()
        await normal.close()
