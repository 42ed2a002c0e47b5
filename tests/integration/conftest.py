"""A real engine process (real footage, real SQLite, real recording) for HA's tests.

pytest-homeassistant-custom-component allows sockets to 127.0.0.1 only, which is
where the engine listens.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
import pytest_socket
from aiohttp.resolver import AsyncResolver
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.vigil.const import CONF_TOKEN, DOMAIN
from tests.support.engine import EngineProcess

ROOT = Path(__file__).resolve().parents[2]
FOOTAGE = Path(os.environ.get("VIGIL_FOOTAGE_DIR", ROOT / "var" / "footage")) / "vtest.mp4"


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: Any) -> None:
    """Let HA load custom_components/vigil."""


@pytest.fixture(autouse=True)
def allow_loopback(socket_enabled: Any) -> None:
    """Real sockets, still restricted to 127.0.0.1 by HA's test plugin."""


@pytest.fixture(autouse=True)
def own_dns_resolver(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each hass gets its own DNS resolver: the harness shares one for the whole session,
    and HA 2026 closes it when a test's hass stops (later look-ups then fail)."""
    shared = request.getfixturevalue("mock_zeroconf_resolver") \
        if "mock_zeroconf_resolver" in request.fixturenames else None
    if shared is None:
        yield
        return
    def make(*_: Any) -> AsyncResolver:
        resolver = AsyncResolver()
        resolver.real_close = resolver.close  # type: ignore[attr-defined]  # HA 2026 calls it
        return resolver

    shared.stop()
    try:
        with patch("homeassistant.helpers.aiohttp_client._async_make_resolver",
                   side_effect=make):
            yield
    finally:
        shared.start()


def vigil_warnings(records: list[logging.LogRecord]) -> list[str]:
    """Warnings and errors that name Vigil, from HA itself or from the integration."""
    return [f"{r.name}: {r.getMessage()}" for r in records
            if r.levelno >= logging.WARNING
            and ("vigil" in r.name or "vigil" in r.getMessage().lower())
            and "has not been tested by Home Assistant" not in r.getMessage()
            # asyncio's debug notes on slow callbacks (a loaded machine), not HA's reports
            and not (r.name == "asyncio" and r.getMessage().startswith("Executing"))]


def engine_config(**cameras: Any) -> dict[str, Any]:
    if not FOOTAGE.is_file():
        pytest.fail(f"{FOOTAGE} is missing: run scripts/test")
    base = {
        "inputs": [{"url": str(FOOTAGE), "roles": ["detect", "record"], "loop": True}],
        "detect": {"fps": 5, "width": 768, "height": 576},
        "events": {"idle_timeout": 2, "max_length": 8},
        "record": {"enabled": True, "segment_seconds": 4, "pre_capture": 1, "post_capture": 1},
        "zones": {"lawn": {"coordinates": [[0, 245], [768, 245], [768, 576], [0, 576]],
                           "objects": ["person"]}},
    }
    return {"api": {"failed_auth_limit": 100000}, "storage": {"check_seconds": 2},
            # Night around the clock: the risk levels these tests expect (an escalation when
            # armed away) must not depend on the hour the suite happens to run (it failed
            # after 06:00 UTC, when the same people score 30 -> 50, both "medium").
            "location": {"timezone": "UTC", "night": {"start": "00:00", "end": "23:59"}},
            "cameras": {name: {**base, **extra} for name, extra in cameras.items()}}


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineProcess]:
    """One engine for most tests: a camera on the real footage, with closed events and clips."""
    pytest_socket.enable_socket()
    eng = EngineProcess(tmp_path_factory.mktemp("engine"), engine_config(plaza={})).start()
    eng.wait_for(lambda: sum(bool(e["end_time"] and e["has_clip"]) for e in eng.all_events())
                 >= 2, 120, what="two closed events with clips")
    yield eng
    eng.stop()


def entry_for(engine: EngineProcess, **options: Any) -> MockConfigEntry:
    instance = engine.json("/api/health")["instance_id"]
    return MockConfigEntry(domain=DOMAIN, unique_id=instance, title="Vigil (127.0.0.1)",
                           data={CONF_HOST: "127.0.0.1", CONF_PORT: engine.port,
                                 CONF_TOKEN: engine.token}, options=options)


@pytest.fixture
async def loaded_entry(hass: HomeAssistant, engine: EngineProcess
                       ) -> AsyncIterator[MockConfigEntry]:
    entry = entry_for(engine)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    yield entry
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def wait_until(hass: HomeAssistant, predicate: Any, within: float, what: str) -> Any:
    import asyncio

    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.2)
        await hass.async_block_till_done()
    raise AssertionError(f"timed out waiting for {what}")
