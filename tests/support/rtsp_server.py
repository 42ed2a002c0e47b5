"""Loopback RTSP server that re-serves an H.264 RTP feed, for Vigil's tests.

Run with Debian's system interpreter, which has PyGObject + GstRtspServer
(the test venv does not):

    /usr/bin/python3 tests/support/rtsp_server.py --port 8554 --path /cam --rtp-port 5004

Why this shape: a real RTSP server (not a file muxer) exercises the same
DESCRIBE/SETUP/PLAY, keyframe wait and reconnect paths a real camera does.
The media is SHARED, so every client sees the same live stream, like a camera.
The picture comes in as RTP on udp 127.0.0.1:<rtp-port> from an external
feeder (ffmpeg looping a .ts clip), so the server never reaches EOS.

Prints "READY" on stdout once listening; exits cleanly on SIGTERM/SIGINT.
Everything (RTSP listener, RTP in, RTP out to UDP clients) is bound to
127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

HOST = "127.0.0.1"


def build_launch(rtp_port: int) -> str:
    """Pipeline: H.264 RTP in -> depay/parse (re-inserting SPS/PPS) -> pay0."""
    caps = (
        "application/x-rtp,media=video,clock-rate=90000,"
        "encoding-name=H264,payload=96"
    )
    return (
        # A big socket buffer: a 720p+ keyframe arrives as a burst of RTP packets
        # and the kernel default (~200 KB) drops some of them.
        f"( udpsrc address={HOST} port={rtp_port} buffer-size=8388608 caps=\"{caps}\" "
        "! rtph264depay ! h264parse config-interval=-1 "
        "! rtph264pay name=pay0 pt=96 config-interval=1 )"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=8554, help="RTSP TCP port")
    p.add_argument("--path", default="/cam", help="mount point, e.g. /cam")
    p.add_argument("--rtp-port", type=int, default=5004, help="udp port of the H.264 RTP feed")
    p.add_argument(
        "--udp-ports",
        default="",
        help="MIN-MAX server-side UDP ports for RTP-over-UDP clients (default: any free)",
    )
    p.add_argument(
        "--parent-pid",
        type=int,
        default=0,
        help="exit when this process (our launcher) dies, so a killed test run "
        "leaves nothing behind",
    )
    p.add_argument(
        "--kill-on-exit",
        type=int,
        action="append",
        default=[],
        help="pid to SIGTERM when we exit (the feeder), same reason",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    path = args.path if args.path.startswith("/") else "/" + args.path
    Gst.init(None)

    server = GstRtspServer.RTSPServer()
    server.set_address(HOST)
    server.set_service(str(args.port))

    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(build_launch(args.rtp_port))
    factory.set_shared(True)
    factory.set_protocols(
        GstRtsp.RTSPLowerTrans.TCP | GstRtsp.RTSPLowerTrans.UDP
    )
    # Without a unicast pool, per-client RTP/RTCP UDP sockets bind 0.0.0.0;
    # the pool keeps them on loopback.
    lo, hi = 20000, 60000
    if args.udp_ports:
        lo, hi = (int(x) for x in args.udp_ports.split("-", 1))
    pool = GstRtspServer.RTSPAddressPool()
    pool.add_range(HOST, HOST, lo, hi, 0)
    factory.set_address_pool(pool)

    server.get_mount_points().add_factory(path, factory)

    loop = GLib.MainLoop()
    try:
        server.attach(None)
    except GLib.Error as exc:  # port taken, etc.
        print(f"rtsp_server: cannot listen on {HOST}:{args.port}: {exc}", file=sys.stderr)
        return 2
    if server.get_bound_port() <= 0:
        print(f"rtsp_server: cannot listen on {HOST}:{args.port}", file=sys.stderr)
        return 2

    def quit_(*_: object) -> bool:
        loop.quit()
        return GLib.SOURCE_REMOVE

    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, sig, quit_)

    if args.parent_pid:
        def watch_parent() -> bool:
            if os.getppid() != args.parent_pid:
                loop.quit()
                return GLib.SOURCE_REMOVE
            return GLib.SOURCE_CONTINUE

        GLib.timeout_add(500, watch_parent)

    # Expire sessions of clients that vanished without TEARDOWN.
    def cleanup_sessions() -> bool:
        server.get_session_pool().cleanup()
        return GLib.SOURCE_CONTINUE

    GLib.timeout_add_seconds(2, cleanup_sessions)

    print("READY", flush=True)
    try:
        loop.run()
    finally:
        for pid in args.kill_on_exit:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGTERM)
    return 0


if __name__ == "__main__":
    sys.exit(main())
