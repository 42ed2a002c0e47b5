"""A real MQTT broker for tests: Debian's mosquitto on 127.0.0.1 and a free port."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.support.engine import free_port

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


class Mosquitto:
    def __init__(self, tmp: Path, port: int | None = None,
                 tls: tuple[Path, Path] | None = None) -> None:
        """``tls``: (certificate, key) for a second, TLS-only listener on ``tls_port``."""
        self.tmp = tmp
        self.port = port or free_port()
        self.tls = tls
        self.tls_port = free_port() if tls else None
        self.proc: subprocess.Popen[bytes] | None = None
        self.conf = tmp / "mosquitto.conf"
        self.log = tmp / "mosquitto.log"

    def start(self, timeout: float = 10.0) -> Mosquitto:
        self.tmp.mkdir(parents=True, exist_ok=True)
        conf = (f"per_listener_settings false\nallow_anonymous true\npersistence false\n"
                f"max_packet_size 1048576\nlistener {self.port} 127.0.0.1\n")
        if os.geteuid() == 0:
            conf += "user root\n"  # else it drops to 'mosquitto', who cannot read our files
        if self.tls:
            cert, key = self.tls
            conf += (f"listener {self.tls_port} 127.0.0.1\ncertfile {cert}\nkeyfile {key}\n")
        self.conf.write_text(conf)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=log,
                                         stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.log.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        raise TimeoutError("mosquitto did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
