"""Headless Debian Chromium driven through chromedriver's W3C WebDriver HTTP API.

No client library: plain JSON over ``urllib`` to a chromedriver on 127.0.0.1.
Debian packages: ``chromium`` and ``chromium-driver`` (same version).
chromedriver and the browser it starts share one process group, which
``close()`` kills whatever state the session is in.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.support.engine import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--no-first-run", "--disable-quic",
    "--no-default-browser-check", "--metrics-recording-only", "--mute-audio",
    "--autoplay-policy=no-user-gesture-required", "--hide-scrollbars",
]


class WebDriverError(RuntimeError):
    pass


def available() -> str | None:
    """Why the browser cannot run here, or None when it can."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return f"{path} missing: apt-get install -y chromium chromium-driver"
    return None


class Browser:
    def __init__(self, *, width: int = 1280, height: int = 900) -> None:
        self.port = free_port()
        self.profile = Path(tempfile.mkdtemp(prefix="vigil-chromium-"))
        self.log_path = self.profile.parent / f"{self.profile.name}-chromedriver.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.session: str | None = None
        self.size = (width, height)

    # -------------------------------------------------------------- lifecycle

    def start(self, timeout: float = 30.0) -> Browser:
        log = open(self.log_path, "wb")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(
            [CHROMEDRIVER, f"--port={self.port}", "--allowed-ips=127.0.0.1",
             "--allowed-origins=http://127.0.0.1"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self._call("GET", "/status", timeout=2)["ready"]:
                    break
            except (OSError, WebDriverError):
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"chromedriver did not start:\n{self.driver_log()}")
            time.sleep(0.1)
        caps = {"browserName": "chrome", "goog:loggingPrefs": {"browser": "ALL"},
                "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [*FLAGS, f"--user-data-dir={self.profile / 'profile'}",
                     f"--window-size={self.size[0]},{self.size[1]}"],
        }}
        try:
            value = self._call("POST", "/session", {"capabilities": {"alwaysMatch": caps}},
                               timeout=60)
        except Exception:
            self.close()
            raise
        self.session = value["sessionId"]
        return self

    def close(self) -> None:
        if self.session is not None:
            with contextlib.suppress(Exception):
                self._call("DELETE", f"/session/{self.session}", timeout=10)
            self.session = None
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)  # chromedriver and its browser
            self.proc.wait()
            self.proc = None
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def driver_log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""

    # -------------------------------------------------------------- protocol

    def _call(self, method: str, path: str, body: Any = None, timeout: float = 30) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
            headers={"Content-Type": "application/json; charset=utf-8"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                payload = json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as err:
            try:
                value = json.loads(err.read()).get("value", {})
                message = f"{value.get('error')}: {value.get('message', '')[:500]}"
            except ValueError:
                message = str(err)
            raise WebDriverError(f"{method} {path}: {message}") from None
        return payload.get("value")

    def cmd(self, method: str, path: str, body: Any = None, timeout: float = 30) -> Any:
        assert self.session, "browser not started"
        return self._call(method, f"/session/{self.session}{path}", body, timeout)

    # -------------------------------------------------------------- page helpers

    def get(self, url: str) -> None:
        self.cmd("POST", "/url", {"url": url}, timeout=60)

    def js(self, script: str, *args: Any) -> Any:
        """Run a function body in the page (``return ...`` to get a value)."""
        return self.cmd("POST", "/execute/sync", {"script": script, "args": list(args)})

    def js_async(self, script: str, *args: Any, timeout: float = 30) -> Any:
        """Run a function body that calls ``arguments[arguments.length - 1](value)``."""
        return self.cmd("POST", "/execute/async", {"script": script, "args": list(args)},
                        timeout=timeout + 5)

    def find(self, css: str) -> str:
        value = self.cmd("POST", "/element", {"using": "css selector", "value": css})
        return next(iter(value.values()))

    def count(self, css: str) -> int:
        return int(self.js("return document.querySelectorAll(arguments[0]).length", css))

    def click(self, css: str) -> None:
        self.cmd("POST", f"/element/{self.find(css)}/click", {})

    def type(self, css: str, text: str, *, clear: bool = True) -> None:
        element = self.find(css)
        if clear:
            self.cmd("POST", f"/element/{element}/clear", {})
        self.cmd("POST", f"/element/{element}/value", {"text": text})

    def visible(self, css: str) -> bool:
        return bool(self.js(
            "const e = document.querySelector(arguments[0]);"
            "return !!e && !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length)",
            css))

    def wait(self, predicate: Any, timeout: float = 30, interval: float = 0.25,
             what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = predicate()
            except WebDriverError as err:
                last = err
            else:
                if last:
                    return last
            time.sleep(interval)
        raise TimeoutError(f"browser: timed out waiting for {what} (last: {last!r})")

    def resize(self, width: int, height: int) -> None:
        self.cmd("POST", "/window/rect", {"width": width, "height": height})

    def emulate(self, width: int, height: int, *, mobile: bool = False) -> None:
        """Lay the page out for another screen (e.g. a phone: 390x844, mobile)."""
        self.cdp("Emulation.setDeviceMetricsOverride", width=width, height=height,
                 deviceScaleFactor=1, mobile=mobile)

    def cdp(self, command: str, **params: Any) -> Any:
        """A Chrome DevTools Protocol command through chromedriver."""
        return self.cmd("POST", "/goog/cdp/execute", {"cmd": command, "params": params})

    def screenshot(self, path: Path, *, full_page: bool = True) -> Path:
        """A PNG of the page; the whole scrollable page unless ``full_page`` is False."""
        if full_page:
            shot = self.cdp("Page.captureScreenshot", format="png",
                            captureBeyondViewport=True)["data"]
        else:
            shot = self.cmd("GET", "/screenshot")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot))
        return path

    def console_errors(self) -> list[str]:
        """Severe browser log lines (JS exceptions, CSP violations, failed loads)."""
        try:
            entries = self.cmd("POST", "/se/log", {"type": "browser"})
        except WebDriverError:
            return []
        return [e["message"] for e in entries or [] if e.get("level") == "SEVERE"]
