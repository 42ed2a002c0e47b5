"""Run the real engine from its CLI, as a user or the HA app would."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
# The engine runs in its own virtualenv (HA's tests run in another one).
ENGINE_PYTHON = os.environ.get("VIGIL_ENGINE_PYTHON", sys.executable)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Response:
    def __init__(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.status = status
        self.body = body
        self.headers = headers

    def json(self) -> Any:
        return json.loads(self.body)


class EngineProcess:
    """``python -m vigil_engine`` in a subprocess with its own data dir and port."""

    def __init__(self, tmp: Path, config: dict[str, Any], *, port: int | None = None) -> None:
        self.tmp = tmp
        self.port = port or free_port()
        self.data_dir = tmp / "data"
        self.config_path = tmp / "config.yaml"
        self.log_path = tmp / "engine.log"
        cfg = dict(config)
        cfg.setdefault("data_dir", str(self.data_dir))
        cfg.setdefault("api", {})
        cfg["api"] = {"host": "127.0.0.1", "port": self.port, **cfg["api"]}
        self.config = cfg
        self.proc: subprocess.Popen[bytes] | None = None
        self.token = ""
        tls = cfg["api"].get("tls")
        # api.tls: trust exactly the engine's certificate (as HA with verify_ssl would).
        self.ssl_context: ssl.SSLContext | None = None
        if tls:
            self.ssl_context = ssl.create_default_context()
            # A broken certificate is a test of the engine refusing to start.
            with contextlib.suppress(OSError, ssl.SSLError):
                self.ssl_context.load_verify_locations(cafile=tls["cert"])

    @property
    def base(self) -> str:
        return f"{'https' if self.ssl_context else 'http'}://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> EngineProcess:
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(yaml.safe_dump(self.config), encoding="utf-8")
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(
            [ENGINE_PYTHON, "-m", "vigil_engine", "--config", str(self.config_path)],
            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.proc = None
                raise RuntimeError(f"engine exited with {code}:\n{self.log()}")
            token_file = self.data_dir / "token"
            configured = self.config["api"].get("token")
            if configured or token_file.is_file():
                self.token = configured or token_file.read_text().strip()
                try:
                    if self.get("/api/health").status == 200:
                        return self
                except OSError:
                    pass
            time.sleep(0.2)
        self.stop(signal.SIGKILL)
        raise TimeoutError(f"engine did not come up:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def request(self, path: str, *, token: str | None = None, method: str = "GET",
                headers: dict[str, str] | None = None, data: bytes | None = None) -> Response:
        hdrs = dict(headers or {})
        tok = self.token if token is None else token
        if tok:
            hdrs["Authorization"] = f"Bearer {tok}"
        req = urllib.request.Request(self.base + path, method=method, headers=hdrs, data=data)
        try:
            with urllib.request.urlopen(req, timeout=15, context=self.ssl_context) as resp:
                return Response(resp.status, resp.read(), dict(resp.headers))
        except urllib.error.HTTPError as err:
            return Response(err.code, err.read(), dict(err.headers))

    def get(self, path: str, **kw: Any) -> Response:
        return self.request(path, **kw)

    def json(self, path: str) -> Any:
        resp = self.get(path)
        if resp.status >= 500:
            # "see engine log": the log goes with the temporary folder, so bring its
            # traceback along (the 32-camera bench once lost one this way).
            log = self.log()
            start = log.rfind("Traceback")
            raise AssertionError((path, resp.status, resp.body[:300],
                                  log[start:start + 4000] if start >= 0 else log[-2000:]))
        assert resp.status == 200, (path, resp.status, resp.body[:300])
        return resp.json()

    def camera(self, name: str) -> dict[str, Any]:
        return self.json(f"/api/cameras/{name}")

    def wait_for(self, predicate: Any, timeout: float, interval: float = 0.5,
                 what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"engine died while waiting for {what}:\n{self.log()[-3000:]}")
            time.sleep(interval)
        raise TimeoutError(f"timed out waiting for {what}; engine log tail:\n{self.log()[-3000:]}")

    def all_events(self, query: str = "", limit: int = 100) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        cursor = None
        sep = "&" if query else ""
        while True:
            path = f"/api/events?{query}{sep}limit={limit}"
            if cursor:
                path += f"&cursor={cursor}"
            page = self.json(path)
            events.extend(page["events"])
            cursor = page["next_cursor"]
            if not cursor:
                return events

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode
        self.proc = None
        return code

    def __enter__(self) -> EngineProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
