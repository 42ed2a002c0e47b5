"""Wires the subsystems together and owns start-up and ordered shutdown.

Shutdown order matters for "nothing is lost": stop accepting API calls, stop
the cameras (no new frames), close open events (rows and snapshots written),
stop the detector, then close SQLite with a WAL checkpoint.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

from aiohttp import web

from . import __version__
from .api.auth import load_or_create_token
from .api.server import build_app
from .config import Config
from .detect.pool import DetectorPool
from .events.bus import EventBus
from .events.snapshots import SnapshotWriter
from .pipeline import CameraPipeline
from .store.db import Store

_LOGGER = logging.getLogger(__name__)


class Engine:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.data_dir = config.data_dir
        self.started = time.time()
        self.token = ""
        self.instance_id = ""
        self.pipelines: dict[str, CameraPipeline] = {}
        self.bus = EventBus()
        self.snapshots = SnapshotWriter(self.data_dir / "snapshots")
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        cfg = self.config
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.token = load_or_create_token(self.data_dir, cfg.api.token)
        self.store = await asyncio.to_thread(Store, self.data_dir / "vigil.db")
        closed = await asyncio.to_thread(self.store.close_dangling_events)
        if closed:
            _LOGGER.warning("closed %d event(s) left open by an unclean shutdown", closed)
        instance = self.store.get_meta("instance_id")
        if instance is None:
            instance = str(uuid.uuid4())
            await asyncio.to_thread(self.store.set_meta, "instance_id", instance)
        self.instance_id = instance
        self.pool = await asyncio.to_thread(
            DetectorPool, cfg.detector.model, cfg.detector.labels, cfg.detector.threads)
        for name, cam in cfg.cameras.items():
            if cam.enabled:
                self.pipelines[name] = CameraPipeline(cam, self.pool, self.store, self.bus,
                                                      self.snapshots)
        self._runner = web.AppRunner(build_app(self), access_log=None,
                                     handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, cfg.api.host, cfg.api.port, reuse_address=True)
        await site.start()
        host = f"[{cfg.api.host}]" if ":" in cfg.api.host else cfg.api.host
        self.url = f"http://{host}:{cfg.api.port}"
        for p in self.pipelines.values():
            await p.start()
        _LOGGER.info("Vigil engine %s: %d camera(s), API on %s", __version__,
                     len(self.pipelines), self.url)

    async def stop(self) -> None:
        _LOGGER.info("shutting down")
        if self._runner is not None:
            await self._runner.cleanup()
        await asyncio.gather(*(p.stop() for p in self.pipelines.values()),
                             return_exceptions=True)
        if hasattr(self, "pool"):
            await asyncio.to_thread(self.pool.close)
        if hasattr(self, "store"):
            await asyncio.to_thread(self.store.close)
        _LOGGER.info("stopped cleanly")

    def detector_status(self) -> dict[str, Any]:
        st = self.pool.stats
        return {
            "model": self.pool.model_name,
            "threads": self.config.detector.threads,
            "inference_ms": round(st.inference_ms, 2),
            "inferences": st.inferences,
            "errors": st.errors,
            "queue": self.pool.queue_depth,
        }
