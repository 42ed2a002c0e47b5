"""A live MPEG-TS camera over HTTP on 127.0.0.1 that sends the bytes it is given, as is.

Why: the RTSP test server re-packetises what it is fed (GStreamer depayloads and parses the
H.264, FFmpeg's RTSP client drops bad RTP on its own), so garbage never reaches a client's
demuxer that way. Encoders and NVRs also offer MPEG-TS over HTTP (``http://…/stream.ts``);
there the client's demuxer reads the wire's bytes, corruption included. This server paces a
TS file at its own speed (by the stream's timestamps, like a live camera), loops it, counts
connections (how often the client reconnected, seen from the camera), and can be killed
and brought back on the same port. With ``burst`` it behaves like a restreamer or NVR that
keeps the last seconds buffered: a new client gets that much footage at once, then live.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import av
import numpy as np

__all__ = ["HttpTsCamera", "insert_junk", "ts_schedule"]

HOST = "127.0.0.1"
TS_PACKET = 188
LEAD = 0.3  # seconds sent ahead of the stream's clock (a network buffer)

Schedule = list[tuple[int, float]]  # (byte offset of a packet, its time in seconds)


def ts_schedule(ts: Path) -> Schedule:
    """Where each video packet starts in ``ts`` and when it is due (from its DTS)."""
    out: Schedule = []
    with av.open(str(ts)) as c:
        video = c.streams.video[0]
        first: float | None = None
        last = 0.0
        for pkt in c.demux(video):
            if pkt.pos is None or pkt.pos < 0 or pkt.dts is None or pkt.time_base is None:
                continue
            t = float(pkt.dts * pkt.time_base)
            first = t if first is None else first
            last = max(last, t - first)
            out.append((pkt.pos, last))
    return out


def insert_junk(data: bytes, schedule: Schedule, at: float, size: int, seed: int = 1
                ) -> tuple[bytes, Schedule]:
    """``size`` bytes of line noise (no TS sync byte, so the demuxer cannot resync inside
    it) inserted before the packet due at ``at`` seconds; returns the data and its schedule."""
    pos = next(p for p, t in schedule if t >= at)
    pos -= pos % TS_PACKET
    junk = np.random.default_rng(seed).integers(0x48, 0x100, size, dtype=np.uint8).tobytes()
    shifted = [(p + size if p >= pos else p, t) for p, t in schedule]
    return data[:pos] + junk + data[pos:], shifted


class HttpTsCamera:
    """``http://127.0.0.1:PORT/stream.ts``: every client gets the stream from its start,
    paced in real time and looped. ``stop()`` drops every client at once (a dead camera)."""

    def __init__(self, data: bytes, schedule: Schedule, port: int = 0,
                 burst: float = 0.0) -> None:
        self.data = data
        self.schedule = schedule
        self.burst = burst  # seconds of footage handed over at once on connect
        self.connected_at: list[float] = []  # wall-clock time of each GET
        self.duration = schedule[-1][1] + 0.1 if schedule else 1.0
        self.port = port
        self.connections = 0  # GET requests served since construction
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._socks: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stopped = threading.Event()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/stream.ts"

    def start(self) -> HttpTsCamera:
        cam = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/stream.ts":
                    self.send_error(404)
                    return
                stopped = cam._stopped
                with cam._lock:
                    cam.connections += 1
                    cam.connected_at.append(time.time())
                    cam._socks.add(self.connection)
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "video/mp2t")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    cam._stream(self.wfile, stopped)
                except OSError:
                    pass  # the client went away, or the camera was killed
                finally:
                    with cam._lock:
                        cam._socks.discard(self.connection)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._stopped = threading.Event()  # per run: a killed run's clients stay stopped
        server = ThreadingHTTPServer((HOST, self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="ts-camera",
                                        daemon=True)
        self._thread.start()
        return self

    def _stream(self, out: object, stopped: threading.Event) -> None:
        write = out.write  # type: ignore[attr-defined]
        started = time.monotonic() - self.burst  # the buffered seconds were filmed before
        loop = 0
        while not stopped.is_set():
            sent = 0
            base = started + loop * self.duration
            for pos, t in self.schedule:
                delay = base + t - LEAD - time.monotonic()
                if delay > 0 and stopped.wait(delay):
                    return
                if pos > sent:
                    write(self.data[sent:pos])
                    sent = pos
            write(self.data[sent:])
            loop += 1

    def stop(self) -> None:
        """Stop listening and cut every client off (they read end of stream)."""
        self._stopped.set()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        with self._lock:
            socks = list(self._socks)
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> HttpTsCamera:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
