"""A real RTSP camera on 127.0.0.1 for Vigil's tests.

Why: the engine must be tested against a genuine RTSP server (DESCRIBE/SETUP/
PLAY, waiting for a keyframe, server going away and coming back), not a file.

`RtspCamera` runs two processes:

* ``rtsp_server.py`` under Debian's ``/usr/bin/python3`` (it has GstRtspServer;
  the test venv does not, so nothing here imports ``gi``), serving a SHARED
  live stream at ``rtsp://127.0.0.1:PORT/cam``;
* an ffmpeg feeder looping an MPEG-TS clip (``-re -stream_loop -1 -c copy``)
  as H.264 RTP into the server on a loopback UDP port. A ``.ts`` is used
  because ffmpeg 5.1 stops after one loop of an mp4 + h264_mp4toannexb.

Build the clip with `make_ts` (short GOP, no B-frames, so clients get a
keyframe quickly).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from pathlib import Path
from types import TracebackType

__all__ = ["SERVER_SCRIPT", "SYSTEM_PYTHON", "RtspCamera", "free_port", "make_ts"]

HOST = "127.0.0.1"
SYSTEM_PYTHON = "/usr/bin/python3"
SERVER_SCRIPT = Path(__file__).with_name("rtsp_server.py")
FFMPEG = shutil.which("ffmpeg") or "/usr/bin/ffmpeg"

_PR_SET_PDEATHSIG = 1


def free_port(kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
    """Return a port on 127.0.0.1 that is free right now (TCP by default).

    Why: lets tests run in parallel without fixed ports. There is a small race
    until the caller binds it; fine for tests.
    """
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _free_udp_pair() -> int:
    """An even UDP port P with P and P+1 free: ffmpeg's RTP muxer sends RTCP to P+1."""
    for _ in range(50):
        p = free_port(socket.SOCK_DGRAM)
        if p % 2 or p + 1 > 65535:
            continue
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind((HOST, p + 1))
        except OSError:
            continue
        return p
    return free_port(socket.SOCK_DGRAM)


def make_ts(
    src: Path,
    dst: Path,
    *,
    width: int | None = None,
    height: int | None = None,
    gop: int = 10,
) -> Path:
    """Transcode `src` to an H.264 MPEG-TS at `dst` suited to `RtspCamera`.

    Why: a short GOP and no B-frames make new RTSP clients get a decodable
    keyframe within ~1 s and keep pts == dts. Skipped when `dst` is newer than
    `src`. Scaling happens only if width/height is given (-2 keeps aspect).
    """
    src, dst = Path(src), Path(dst)
    if dst.exists() and dst.stat().st_mtime >= src.stat().st_mtime and dst.stat().st_size > 0:
        return dst
    dst.parent.mkdir(parents=True, exist_ok=True)
    cmd = [FFMPEG, "-nostdin", "-v", "error", "-y", "-i", str(src), "-an", "-sn", "-dn"]
    if width is not None or height is not None:
        w = width if width is not None else -2
        h = height if height is not None else -2
        cmd += ["-vf", f"scale={w}:{h}"]
    cmd += [
        "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
        "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0", "-bf", "0",
        "-f", "mpegts",
    ]
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    try:
        subprocess.run([*cmd, str(tmp)], check=True, capture_output=True, text=True)
        os.replace(tmp, dst)  # atomic: a half-written dst never looks "fresh"
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"make_ts failed for {src}: {exc.stderr.strip()}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return dst


def _preexec_die_with_parent() -> None:
    """Child side: get SIGTERM when the launching thread dies (e.g. pytest killed)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _stop_proc(proc: subprocess.Popen[bytes] | None, timeout: float) -> None:
    """Terminate, then kill after `timeout`, and always reap."""
    if proc is None:
        return
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait()
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.close()


_LIVE: weakref.WeakSet[RtspCamera] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    """Never leave servers/feeders behind, whatever the tests forgot."""
    for cam in list(_LIVE):
        with contextlib.suppress(Exception):
            cam.stop()


class RtspCamera:
    """A looping RTSP camera at ``rtsp://127.0.0.1:PORT/<path>``.

    Use as a context manager or call start()/stop(); restart() brings it back
    on the same port (to test reconnects). Thread-safe for start/stop/restart.
    """

    def __init__(
        self,
        ts_file: Path,
        port: int | None = None,
        path: str = "/cam",
        *,
        ready_timeout: float = 15.0,
    ) -> None:
        self.ts_file = Path(ts_file)
        self.port = port if port is not None else free_port()
        self.path = path if path.startswith("/") else "/" + path
        self.ready_timeout = ready_timeout
        self.rtp_port: int | None = None
        self._server: subprocess.Popen[bytes] | None = None
        self._feeder: subprocess.Popen[bytes] | None = None
        self._logdir = Path(tempfile.mkdtemp(prefix="vigil-rtsp-"))
        self._lock = threading.RLock()

    # -- public ---------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"rtsp://{HOST}:{self.port}{self.path}"

    @property
    def running(self) -> bool:
        """True while both processes are alive."""
        return all(p is not None and p.poll() is None for p in (self._server, self._feeder))

    def start(self) -> RtspCamera:
        """Launch server + feeder and return once a frame can be decoded over RTSP/TCP.

        Takes ~1 s (the probe waits for the shared pipeline to prepare and a
        keyframe). Raises RuntimeError with the process logs on failure.
        """
        with self._lock:
            if self.running:
                return self
            self.stop()
            if not self.ts_file.is_file():
                raise FileNotFoundError(self.ts_file)
            deadline = time.monotonic() + self.ready_timeout
            try:
                self._launch(deadline)
                self._wait_playable(deadline)
            except BaseException:
                self.stop()
                raise
            _LIVE.add(self)
            return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop both processes (SIGTERM, SIGKILL after `timeout`); the port is free on return."""
        with self._lock:
            server, feeder = self._server, self._feeder
            self._server = self._feeder = None
            # Server first so clients see the camera vanish at once.
            _stop_proc(server, timeout)
            _stop_proc(feeder, timeout)
            _LIVE.discard(self)

    def restart(self) -> RtspCamera:
        """stop() then start() on the same port and path."""
        with self._lock:
            self.stop()
            return self.start()

    def logs(self) -> str:
        """Stderr of the server and the feeder (for failure messages)."""
        out = []
        for name in ("server.log", "feeder.log"):
            f = self._logdir / name
            if f.exists():
                text = f.read_text(errors="replace").strip()
                out.append(f"--- {name} ---\n{text[-4000:]}")
        return "\n".join(out)

    def __enter__(self) -> RtspCamera:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.stop(timeout=1.0)
        with contextlib.suppress(Exception):
            shutil.rmtree(self._logdir, ignore_errors=True)

    def __repr__(self) -> str:
        return f"RtspCamera({self.url!r}, running={self.running})"

    # -- internals ------------------------------------------------------------

    def _launch(self, deadline: float) -> None:
        self.rtp_port = _free_udp_pair()
        # PDEATHSIG fires when the *thread* that forked dies, so only use it
        # from the main thread; elsewhere rely on atexit + the server's
        # --parent-pid watchdog (which also kills the feeder).
        in_main = threading.current_thread() is threading.main_thread()
        preexec = _preexec_die_with_parent if in_main else None
        feeder_log = open(self._logdir / "feeder.log", "ab")  # noqa: SIM115 - child owns it
        server_log = open(self._logdir / "server.log", "ab")  # noqa: SIM115 - child owns it
        try:
            self._feeder = subprocess.Popen(
                [
                    FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error",
                    "-re", "-stream_loop", "-1", "-i", str(self.ts_file),
                    "-an", "-c", "copy", "-f", "rtp",
                    f"rtp://{HOST}:{self.rtp_port}?localaddr={HOST}&pkt_size=1200",
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=feeder_log,
                preexec_fn=preexec,
            )
            self._server = subprocess.Popen(
                [
                    SYSTEM_PYTHON, "-u", str(SERVER_SCRIPT),
                    "--port", str(self.port),
                    "--path", self.path,
                    "--rtp-port", str(self.rtp_port),
                    "--parent-pid", str(os.getpid()),
                    "--kill-on-exit", str(self._feeder.pid),
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=server_log,
                preexec_fn=preexec,
            )
        finally:
            feeder_log.close()
            server_log.close()
        self._wait_ready(deadline)

    def _wait_ready(self, deadline: float) -> None:
        """Wait for the server's READY line."""
        assert self._server is not None and self._server.stdout is not None
        fd = self._server.stdout.fileno()
        buf = b""
        while b"READY" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                self._fail("server did not print READY")
            if self._server.poll() is not None:
                self._fail(f"server exited with {self._server.returncode}")
            r, _, _ = select.select([fd], [], [], min(left, 0.2))
            if r:
                chunk = os.read(fd, 4096)
                if not chunk:
                    self._server.wait(1)
                    self._fail(f"server exited with {self._server.returncode}")
                buf += chunk

    def _wait_playable(self, deadline: float) -> None:
        """Probe until ffmpeg decodes one frame over RTSP/TCP (feeder up, keyframe seen)."""
        last = ""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self._fail(f"stream not playable at {self.url}: {last}")
            for name, proc in (("server", self._server), ("feeder", self._feeder)):
                if proc is None or proc.poll() is not None:
                    self._fail(f"{name} exited with {proc.returncode if proc else None}")
            cmd = [
                FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error",
                "-rtsp_transport", "tcp", "-timeout", str(int(max(left, 1) * 1e6)),
                # Tiny probe: codec params come from the SDP, so this avoids
                # ffmpeg's ~3 s default stream probing (the server is ready fast).
                "-probesize", "32", "-analyzeduration", "0",
                "-i", self.url, "-map", "0:v:0", "-frames:v", "1", "-f", "null", "-",
            ]
            try:
                res = subprocess.run(cmd, capture_output=True, text=True, timeout=max(left, 1))
            except subprocess.TimeoutExpired:
                last = "probe timed out"
                continue
            if res.returncode == 0:
                return
            last = res.stderr.strip()[-500:]
            time.sleep(0.2)

    def _fail(self, why: str) -> None:
        raise RuntimeError(f"RtspCamera({self.url}): {why}\n{self.logs()}")


if __name__ == "__main__":  # manual use: python -m tests.support.rtsp clip.ts [port]
    cam = RtspCamera(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else None)
    with cam:
        print(cam.url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
