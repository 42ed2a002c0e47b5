"""One camera input: open, decode what detection needs, reconnect with backoff.

A corrupt packet (a radio glitch, a garbled burst on the wire) is skipped, whether the
decoder or the demuxer rejects it: reconnecting would lose seconds of footage and
detection. Only a stream that is really dead (end of stream, read timeout, errors that
keep coming) is torn down and reconnected.

Decoding blocks, so it lives in a thread; frames are handed to the event loop
with ``call_soon_threadsafe``. Only frames that detection will use are
converted to RGB at detect resolution (the costly part); the rest are decoded
(H.264 needs them as references) and dropped. A quiet camera pays no conversion at
all: its newest picture is converted only when someone asks to see it (latest.jpg).

Memory: FFmpeg's decoder takes its pictures from a pool that grows to the most it
ever needed at once and never shrinks. A picture kept past the next decode (a still
sample handed to the loop, the last one kept to show) makes the pool grow by one
(0.66 MB at 768x576, 21 MB at 32 cameras). So nothing outside this thread keeps a
decoded picture: the newest one, which the decoder keeps anyway as its reference, is
converted on request under a lock that keeps the decoder still meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import av
import numpy as np

from ..config import DetectConfig, InputConfig
from ..motion.detector import MotionDetector, MotionResult
from ..redact import add_secret, scrub, url_secrets
from .rate import RateMeter

_LOGGER = logging.getLogger(__name__)

BACKOFF_START = 1.0
BACKOFF_CAP = 30.0
OPEN_TIMEOUT = 10.0
READ_TIMEOUT = 8.0
MAX_BAD_PACKETS = 50  # in a row: the stream is broken, reconnect; fewer are skipped
# Errors the demuxer raises on unreadable data (a garbled packet, a burst of bytes it cannot
# resync through: EAGAIN): reading on picks up at the next good packet.
CORRUPT_DATA_ERRORS = (av.error.InvalidDataError, av.error.BlockingIOError,
                       av.error.PatchWelcomeError)
DEMUX_ERROR_WINDOW = 10.0  # seconds
MAX_DEMUX_ERRORS = 30  # more in the window: the stream is broken, reconnect
PACE_JUMP = 10.0  # seconds: a bigger step in a file's timestamps restarts its pacing
# A sample in which nothing moved and nothing is wanted (no RGB) reaches the pipeline
# at most this often; the others are counted in the next one delivered. Waking the
# event loop five times a second per camera to learn that nothing happened was a
# quarter of an idle camera's cost beyond decoding, and 28 quiet cameras' worth of
# wake-ups crowded the loop for the busy ones. Motion is delivered at once.
QUIET_EVERY = 1.0  # seconds

# Scaling threads per conversion. PyAV's default (0: one per CPU) gives every scaler
# its own pool of slice threads: two idle threads per camera on two cores, 64 at 32
# cameras, for a 768x576 conversion that takes 0.14 ms on one thread and more CPU
# (0.18-0.45 ms) split over two. The engine's parallelism is across cameras.
SCALER_THREADS = 1


def set_decoder_threads(video: av.video.stream.VideoStream) -> None:
    """Small streams decode fastest (and leanest) on one thread; frame threads only pay
    off for large frames. (The bench's decode floor decodes the same way.)"""
    cc = video.codec_context
    if (cc.width or 0) * (cc.height or 0) <= 1280 * 720:
        cc.thread_count = 1
        video.thread_type = "NONE"
    else:
        video.thread_type = "AUTO"


@dataclass(frozen=True, slots=True)
class Frame:
    camera: str
    time: float  # epoch seconds when the frame was captured (wall clock)
    rgb: np.ndarray | None  # detect.height x detect.width x 3, uint8; None if not needed
    index: int
    motion: MotionResult | None = None  # computed in the capture thread from luma
    quiet: int = 0  # samples just before this one, nothing in them, not delivered


@dataclass
class CaptureStatus:
    online: bool = False
    last_frame_time: float | None = None
    error: str | None = None
    connects: int = 0
    frames_decoded: int = 0
    frames_sampled: int = 0
    decode_errors: int = 0  # corrupt packets skipped without dropping the connection
    demux_errors: int = 0  # unreadable stream data skipped without dropping the connection
    width: int | None = None
    height: int | None = None
    codec: str | None = None


class BrokenStream(Exception):
    """Unreadable data keeps coming: the connection is given up and made again."""


class PacketSink(Protocol):
    """Receives every packet of a connection (the recorder), in the capture thread."""

    def begin(self, video: av.video.stream.VideoStream,
              audio: av.audio.stream.AudioStream | None) -> None: ...

    def packet(self, pkt: av.Packet) -> None: ...

    def end(self) -> None: ...


class Capture:
    """One input URL. Decodes for detection if ``on_frame`` is given; hands raw
    packets to ``sink`` (the recorder) if given. A record-only input is never decoded."""

    def __init__(self, camera: str, source: InputConfig, detect: DetectConfig,
                 loop: asyncio.AbstractEventLoop, on_frame: Callable[[Frame], None] | None,
                 sink: PacketSink | None = None,
                 on_status: Callable[[bool, float, str | None], None] | None = None,
                 motion: MotionDetector | None = None) -> None:
        self.camera = camera
        self.source = source
        self.detect = detect
        for secret in url_secrets(source.url):
            add_secret(secret)  # FFmpeg may quote it anywhere in an error text
        self.status = CaptureStatus()
        self.input_fps = RateMeter()
        self.sample_fps = RateMeter()
        self.decoder_open = False
        self._loop = loop
        self._on_frame = on_frame
        self._sink = sink
        self._on_status = on_status
        self._stop = threading.Event()
        role = "detect" if on_frame else "record"
        self._thread = threading.Thread(target=self._run, name=f"capture-{camera}-{role}",
                                        daemon=True)
        self._index = 0
        self._bad_packets = 0
        self._demux_errors: deque[float] = deque()  # monotonic times, this connection
        self._next_sample = 0.0
        self._delivered = -math.inf  # when a sample last went to the pipeline
        self._quiet = 0  # samples since then that were not delivered
        self._motion = motion
        # One scaler per output format: switching formats on one rebuilds it each time.
        self._grey_fmt = av.video.reformatter.VideoReformatter()
        self._rgb_fmt = av.video.reformatter.VideoReformatter()
        self.rgb_frames = 0
        # The newest decoded picture and its wall time; the lock is held around each
        # decode and while someone converts it (see the module's docstring).
        self._newest: av.VideoFrame | None = None
        self._newest_at: float | None = None
        self._picture_lock = threading.Lock()
        # Set by the pipeline when tracked objects need looking at (needs RGB).
        self.wants_rgb = True

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = READ_TIMEOUT + 2) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    # ------------------------------------------------------------------ thread side

    def _run(self) -> None:
        backoff = BACKOFF_START
        while not self._stop.is_set():
            try:
                got_frames = self._session()
            except (av.error.FFmpegError, OSError, ValueError, IndexError,
                    BrokenStream) as err:
                self._mark_offline(str(err) or type(err).__name__)
                got_frames = False
            if self._stop.is_set():
                break
            if self.source.is_file and self.source.loop and got_frames:
                continue  # demo footage: start over at once
            if got_frames:
                backoff = BACKOFF_START
            if self.status.online or self.status.error is None:
                self._mark_offline("stream ended")
            _LOGGER.info("%s: reconnecting in %.0f s", self.camera, backoff)
            self._stop.wait(backoff)
            backoff = min(backoff * 2, BACKOFF_CAP)
        self._mark_offline("stopped")

    def _open(self) -> av.container.InputContainer:
        if self.source.is_file:
            return av.open(self.source.url, mode="r")
        options = {"rtsp_transport": self.source.transport} if self.source.url.startswith(
            "rtsp") else {}
        return av.open(self.source.url, mode="r", options=options,
                       timeout=(OPEN_TIMEOUT, READ_TIMEOUT))

    def _session(self) -> bool:
        """One connection: returns True if any video arrived."""
        container = self._open()
        got = False
        sink = self._sink
        if not container.streams.video:
            container.close()
            raise ValueError("input has no video stream")
        video = container.streams.video[0]
        try:
            audio = container.streams.audio[0] if sink and container.streams.audio else None
            if self._on_frame is not None:
                set_decoder_threads(video)
            else:
                video.thread_type = "AUTO"
            self.status.codec = video.codec_context.name
            if sink is not None:
                sink.begin(video, audio)
            interval = 1.0 / self.detect.fps
            self._next_sample = 0.0
            self._delivered = -math.inf  # a new connection's first sample goes through
            pace_start: float | None = None
            first_pts: float | None = None
            streams = [video, audio] if audio is not None else [video]
            self._demux_errors.clear()
            demuxed = container.demux(streams)
            last_good = time.monotonic()
            while not self._stop.is_set():
                try:
                    packet = next(demuxed)
                except StopIteration:
                    break  # end of stream
                except CORRUPT_DATA_ERRORS as err:
                    self._skip_demux_error(err, last_good)
                    demuxed = container.demux(streams)  # reads on from where it stopped
                    continue
                last_good = time.monotonic()
                is_video = packet.stream is video
                if self.source.is_file and is_video and packet.pts is not None:
                    # Play files at their own speed, like a live camera.
                    pts = float(packet.pts * packet.time_base)
                    now = time.time()
                    if (pace_start is None or first_pts is None or pts < first_pts
                            or pts - first_pts > now - pace_start + PACE_JUMP):
                        pace_start, first_pts = now, pts  # start, or the clock jumped
                    delay = pace_start + (pts - first_pts) - now
                    if delay > 0 and self._stop.wait(delay):
                        break
                if is_video:
                    got = self._video_packet(packet, video, got, interval)
                # After decoding: muxing takes ownership of the packet's data.
                if sink is not None:
                    sink.packet(packet)
        finally:
            # Evidence for "the record stream is never decoded": a record-only
            # input's decoder is never opened.
            self.decoder_open = self.decoder_open or video.codec_context.is_open
            if sink is not None:
                sink.end()
            container.close()
        return got

    def _skip_demux_error(self, err: av.error.FFmpegError, last_good: float) -> None:
        """Count an unreadable stretch of the stream and carry on, unless errors keep
        coming (more than MAX_DEMUX_ERRORS in DEMUX_ERROR_WINDOW s) or nothing readable
        has arrived for READ_TIMEOUT s: then raise BrokenStream (reconnect)."""
        now = time.monotonic()
        self.status.demux_errors += 1
        recent = self._demux_errors
        recent.append(now)
        while recent and recent[0] < now - DEMUX_ERROR_WINDOW:
            recent.popleft()
        if len(recent) > MAX_DEMUX_ERRORS or now - last_good > READ_TIMEOUT:
            raise BrokenStream(f"unreadable stream ({len(recent)} errors in "
                               f"{DEMUX_ERROR_WINDOW:.0f} s): {err}") from err
        n = self.status.demux_errors
        if n in (1, 10, 100) or n % 1000 == 0:
            _LOGGER.warning("%s: skipped unreadable stream data (%d so far): %s", self.camera,
                            n, scrub(str(err)))

    def _video_packet(self, packet: av.Packet, video: av.video.stream.VideoStream, got: bool,
                      interval: float) -> bool:
        if self._on_frame is None:
            # Record-only input: count packets as frames, never decode.
            if packet.size:
                if not got:
                    got = True
                    self._mark_online(video.codec_context.width, video.codec_context.height)
                self.status.last_frame_time = time.time()
                self.input_fps.tick()
            return got
        try:
            with self._picture_lock:
                frames = packet.decode()
            self._bad_packets = 0
        except av.error.InvalidDataError as err:
            # One corrupt packet (a radio glitch) costs a frame or two, not the connection.
            self.status.decode_errors += 1
            self._bad_packets += 1
            if self._bad_packets >= MAX_BAD_PACKETS:
                raise
            if self.status.decode_errors in (1, 10, 100) or self.status.decode_errors % 1000 == 0:
                _LOGGER.warning("%s: skipped a corrupt packet (%d so far): %s", self.camera,
                                self.status.decode_errors, scrub(str(err)))
            return got
        for vframe in frames:
            if not isinstance(vframe, av.VideoFrame):
                continue
            now = time.time()
            if not got:
                got = True
                self._mark_online(vframe.width, vframe.height)
            self.status.frames_decoded += 1
            self.status.last_frame_time = now
            self._newest, self._newest_at = vframe, now
            self.input_fps.tick()
            # On the detect.fps cadence, a frame a little early included (input and detect
            # rates alike jitter); never two samples within half an interval, though frames
            # come in a burst (a restreamer's buffered seconds at connect, a stalled reader
            # catching up): the tracker's speeds come from the samples' times.
            if now < self._next_sample - interval / 4:
                continue
            self._next_sample = max(self._next_sample + interval, now + interval * 3 / 4)
            motion = None
            if self._motion is not None:
                # Motion on a small luma image straight from the decoder: cheap, and
                # when nothing moves the full RGB conversion is skipped entirely.
                motion = self._motion.process_grey(self._luma(vframe))
            self.status.frames_sampled += 1
            self.sample_fps.tick()
            # A relearnt scene (lights) is handed over too: the tracker hears of it.
            if (motion is not None and not motion.boxes and not motion.recalibrated
                    and not self.wants_rgb and now - self._delivered < QUIET_EVERY):
                self._quiet += 1
                continue
            rgb = None
            if motion is None or motion.boxes or self.wants_rgb:
                rgb = self._rgb_fmt.reformat(vframe, width=self.detect.width,
                                             height=self.detect.height,
                                             format="rgb24",
                                             threads=SCALER_THREADS).to_ndarray()
                self.rgb_frames += 1
            self._index += 1
            self._delivered = now
            quiet, self._quiet = self._quiet, 0
            self._loop.call_soon_threadsafe(self._on_frame, Frame(
                self.camera, now, rgb, self._index, motion, quiet))
        return got

    @property
    def newest_at(self) -> float | None:
        """Wall time of the newest decoded picture (None before the first)."""
        return self._newest_at

    def newest_rgb(self, width: int, height: int) -> tuple[float, np.ndarray] | None:
        """The newest decoded picture as RGB at ``width`` x ``height``, with its wall
        time; None before the first. Blocking (run it in a thread): the decoder waits
        meanwhile, so the picture is never kept past a decode. After a disconnect it is
        the last picture the camera gave."""
        with self._picture_lock:
            if self._newest is None or self._newest_at is None:
                return None
            return self._newest_at, self._newest.to_ndarray(
                width=width, height=height, format="rgb24", threads=SCALER_THREADS)

    def _luma(self, vframe: av.VideoFrame) -> np.ndarray:
        """The motion grid's grey image: a strided view of the Y plane when the stream is
        already at detect size (no conversion at all), else a scaled grey frame."""
        assert self._motion is not None
        lw, lh = self._motion.grid_size
        step = self._motion.step
        if (vframe.format.name in ("yuv420p", "yuvj420p", "nv12", "yuv422p", "yuvj422p")
                and (vframe.width, vframe.height) == (self.detect.width, self.detect.height)):
            plane = vframe.planes[0]
            y = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
            grid = y[: vframe.height : step, : vframe.width : step]
            if grid.shape == (lh, lw):
                return grid
        return self._grey_fmt.reformat(vframe, width=lw, height=lh, format="gray",
                                       threads=SCALER_THREADS).to_ndarray()

    def _mark_online(self, width: int, height: int) -> None:
        self.status.connects += 1
        self.status.width, self.status.height = width, height
        if not self.status.online:
            _LOGGER.info("%s: online (%dx%d %s) from %s", self.camera, width, height,
                         self.status.codec, scrub(self.source.url))
            if self._on_status is not None:
                self._loop.call_soon_threadsafe(self._on_status, True, time.time(), None)
        self.status.online = True
        self.status.error = None

    def _mark_offline(self, reason: str) -> None:
        reason = scrub(reason)  # FFmpeg's errors quote the URL, credentials included
        if self.status.online:
            _LOGGER.warning("%s: offline (%s)", self.camera, reason)
            if self._on_status is not None and reason != "stopped":
                self._loop.call_soon_threadsafe(self._on_status, False, time.time(), reason)
        elif self.status.error != reason and reason != "stopped":
            _LOGGER.warning("%s: cannot read %s: %s", self.camera, scrub(self.source.url),
                            reason)
        self.status.online = False
        self.status.error = reason
