"""The Home Assistant app, built from addon/Dockerfile and run the way the Supervisor runs it.

The image is the real one (scripts/test_app builds it on a Debian-made base).
The container gets what the Supervisor gives an app: /data with options.json,
the app's config folder at /config, /media read-only, SUPERVISOR_TOKEN, the
hostname Home Assistant reaches it by, and ``supervisor`` resolving to
172.30.32.2. The stand-in Supervisor (tests/support/supervisor.py) sits at
that address inside the container's own network namespace, so nothing listens
outside it; the test talks to it through a Unix socket.

Not skippable: when podman or the build cannot work here, these tests fail
with the reason.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
FOOTAGE = Path(os.environ.get("VIGIL_FOOTAGE_DIR", ROOT / "var" / "footage"))
HOSTNAME = "local-vigil"  # what the Supervisor names the container of a local app
MQTT_SERVICE = {"host": "core-mosquitto", "port": 1883, "ssl": False, "protocol": "3.1.1",
                "username": "addons", "password": "Mqtt-Secret-4242", "addon": "core_mosquitto"}
MAX_IMAGE_MB = 500
# podman needs the project's containers.conf on this VM (scripts/lib.sh writes it).
_CONF = ROOT / "var" / "containers" / "containers.conf"
if _CONF.is_file():
    os.environ.setdefault("CONTAINERS_CONF", str(_CONF))


def podman(*args: str, timeout: float = 120,
           check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        pytest.fail(f"podman {' '.join(args[:2])} failed ({proc.returncode}): "
                    f"{proc.stderr.strip()[-2000:]}")
    return proc


@pytest.fixture(scope="module")
def image() -> str:
    """The app image: built by scripts/test_app (cached layers), or named by it."""
    if os.environ.get("VIGIL_APP_IMAGE"):
        return os.environ["VIGIL_APP_IMAGE"]
    proc = subprocess.run([str(ROOT / "scripts" / "test_app"), "--build-only"],
                          capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        pytest.fail(f"building the app image failed:\n{proc.stderr[-4000:]}")
    return proc.stdout.strip().splitlines()[-1]


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("homeassistant.local", timeout=30)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(self.path)


class App:
    """One app container with its stand-in Supervisor in a private network namespace."""

    def __init__(self, image: str, tmp: Path) -> None:
        self.image = image
        self.tmp = tmp
        self.name = f"vigil-app-test-{os.getpid()}"
        self.netns = self.name
        self.data = tmp / "data"
        self.config = tmp / "config"
        self.socket = str(tmp / "supervisor.sock")
        self.supervisor_token = secrets.token_hex(20)
        self.stand_in: subprocess.Popen[bytes] | None = None
        self.started = False

    # -------------------------------------------------------------- lifecycle
    def prepare(self) -> None:
        self.data.mkdir()
        self.config.mkdir()
        (self.data / "options.json").write_text(json.dumps(
            {"config_file": "vigil.yaml", "log_level": "info", "llm_provider": "rules"}))
        (self.config / "vigil.yaml").write_text(yaml.safe_dump({
            "cameras": {"plaza": {
                "inputs": [{"url": "/media/footage/vtest.mp4", "roles": ["detect", "record"],
                            "loop": True}],
                "detect": {"fps": 5, "width": 768, "height": 576},
                "objects": {"track": ["person"],
                            "filters": {"person": {"min_score": 0.5, "min_area": 400}}},
                "events": {"idle_timeout": 10, "max_length": 60},
                "record": {"enabled": True},
            }}}))

    def start(self) -> None:
        subprocess.run(["ip", "netns", "add", self.netns], check=True, capture_output=True)
        for cmd in (["ip", "link", "set", "lo", "up"],
                    ["ip", "addr", "add", "172.30.32.2/32", "dev", "lo"]):
            subprocess.run(["ip", "netns", "exec", self.netns, *cmd], check=True,
                           capture_output=True)
        log = open(self.tmp / "supervisor.log", "wb")  # noqa: SIM115 - closed by the process
        self.stand_in = subprocess.Popen(
            ["ip", "netns", "exec", self.netns, sys.executable, "-m", "tests.support.supervisor",
             "--socket", self.socket, "--token", self.supervisor_token,
             "--mqtt", json.dumps(MQTT_SERVICE), "--fail-discovery", "1"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while not os.path.exists(self.socket):
            if self.stand_in.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the stand-in Supervisor did not start: "
                            + (self.tmp / "supervisor.log").read_text()[-2000:])
            time.sleep(0.2)
        # The Supervisor's docker run, as far as an app can tell.
        podman("run", "-d", "--name", self.name, "--hostname", HOSTNAME,
               "--network", f"ns:/run/netns/{self.netns}",
               "--add-host", "supervisor:172.30.32.2",
               "-e", f"SUPERVISOR_TOKEN={self.supervisor_token}", "-e", "TZ=Europe/Berlin",
               "-v", f"{self.data}:/data", "-v", f"{self.config}:/config",
               "-v", f"{FOOTAGE}:/media/footage:ro",
               "--stop-timeout", "30", self.image)
        self.started = True

    def remove(self) -> None:
        if self.started:
            podman("rm", "-f", "-t", "5", self.name, check=False)
        if self.stand_in is not None:
            self.stand_in.terminate()
            try:
                self.stand_in.wait(10)
            except subprocess.TimeoutExpired:
                self.stand_in.kill()
        subprocess.run(["ip", "netns", "delete", self.netns], capture_output=True)

    # -------------------------------------------------------------- helpers
    def logs(self) -> str:
        proc = podman("logs", self.name, check=False)
        return proc.stdout + proc.stderr

    @property
    def token(self) -> str:
        path = self.data / "token"
        return path.read_text().strip() if path.is_file() else ""

    def request(self, path: str, headers: dict[str, str] | None = None,
                method: str = "GET") -> tuple[int, bytes, dict[str, str]]:
        conn = UnixHTTP(self.socket)
        try:
            conn.request(method, path, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.read(), dict(resp.getheaders())
        finally:
            conn.close()

    def api(self, path: str) -> Any:
        status, body, _ = self.request(f"/direct{path}",
                                       {"Authorization": f"Bearer {self.token}"})
        assert status == 200, f"{path}: HTTP {status}: {body[:300]!r}"
        return json.loads(body)

    def wait_for(self, what: str, check: Any, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            if podman("inspect", "-f", "{{.State.Running}}", self.name).stdout.strip() != "true":
                pytest.fail(f"the app stopped while waiting for {what}:\n{self.logs()[-3000:]}")
            try:
                last = check()
            except (OSError, AssertionError, ValueError, http.client.HTTPException) as err:
                last = err
            if last and not isinstance(last, Exception):
                return last
            time.sleep(2)
        pytest.fail(f"no {what} after {timeout:.0f} s (last: {last!r}):\n{self.logs()[-3000:]}")

    def host_pid(self) -> int:
        return int(podman("inspect", "-f", "{{.State.Pid}}", self.name).stdout.strip())


@pytest.fixture(scope="module")
def app(image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    for tool in ("podman", "ip"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed: scripts/test_app installs the container tools")
    app = App(image, tmp_path_factory.mktemp("app"))
    app.prepare()
    try:
        app.start()
        app.wait_for("healthy engine", lambda: app.token and app.api("/api/health"), 180)
        yield app
    finally:
        (app.tmp / "app.log").write_text(app.logs() if app.started else "")
        app.remove()


# ------------------------------------------------------------------ the image


def test_image_is_an_app_within_budget(image: str) -> None:
    info = json.loads(podman("image", "inspect", image).stdout)[0]
    size_mb = info["Size"] / 1e6
    assert size_mb <= MAX_IMAGE_MB, f"image is {size_mb:.0f} MB (budget {MAX_IMAGE_MB} MB)"
    labels = info["Config"]["Labels"] or info["Labels"]
    assert labels["io.hass.type"] == "app"
    assert labels["io.hass.arch"] in ("amd64", "aarch64")
    assert info["Config"]["Entrypoint"][0] == "/usr/bin/tini"
    # Build leftovers stay in the build stage.
    out = podman("run", "--rm", "--network", "none", "--entrypoint", "/bin/sh", image, "-c",
                 "ls /tmp; ls -d /opt/venv/bin/pip* /opt/venv/lib/*/site-packages/*.egg-info "
                 "/root/.cache /var/lib/apt/lists/*_Packages* 2>/dev/null; "
                 "python -c 'import vigil_engine, ai_edge_litert, av; print(\"imports ok\")'")
    assert out.stdout.strip() == "imports ok", out.stdout


def test_first_start_writes_a_commented_example(image: str, tmp_path: Path) -> None:
    """A new user's first start: no camera YAML yet."""
    (tmp_path / "data").mkdir()
    (tmp_path / "config").mkdir()
    (tmp_path / "data" / "options.json").write_text('{"config_file": "vigil.yaml"}')
    proc = podman("run", "--rm", "--network", "none", "-v", f"{tmp_path / 'data'}:/data",
                  "-v", f"{tmp_path / 'config'}:/config", image, check=False, timeout=120)
    log = proc.stdout + proc.stderr
    example = (tmp_path / "config" / "vigil.yaml").read_text()
    assert all(not line.strip() or line.startswith("#") for line in example.splitlines())
    assert "wrote a commented example to /config/vigil.yaml" in log
    assert "cameras: required option is missing" in log
    assert "not running under the Supervisor" in log
    assert proc.returncode == 2, log


def test_bad_options_are_named_in_the_log(image: str, tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "config").mkdir()
    (tmp_path / "data" / "options.json").write_text(json.dumps(
        {"llm_provider": "openai", "llm_base_url": "ollama.local:11434",
         "llm_api_key": "sk-do-not-log-me"}))
    proc = podman("run", "--rm", "--network", "none", "-v", f"{tmp_path / 'data'}:/data",
                  "-v", f"{tmp_path / 'config'}:/config", image, check=False, timeout=120)
    log = proc.stdout + proc.stderr
    assert "options.llm_base_url: must be a URL" in log
    assert "sk-do-not-log-me" not in log
    assert proc.returncode == 2, log


# ------------------------------------------------------------------ run like the Supervisor


def test_health_answers_with_the_token(app: App) -> None:
    status, _, _ = app.request("/direct/api/health")
    assert status == 401
    health = app.api("/api/health")
    assert health["status"] == "ok" and "plaza" in health["cameras"], health
    assert health["detector"], health


def test_discovery_reaches_home_assistant_after_a_retry(app: App) -> None:
    def announced() -> Any:
        status, body, _ = app.request("/_stand_in/discovery")
        return json.loads(body)["discovery"] if status == 200 else None

    messages = app.wait_for("discovery message", announced, 120)
    assert len(messages) == 1
    assert messages[0]["service"] == "vigil"
    assert messages[0]["config"] == {"host": HOSTNAME, "port": 8765, "token": app.token}
    log = app.logs()
    assert "announcing to Home Assistant failed (attempt 1/8: HTTP 503" in log
    assert f"announced to Home Assistant as {HOSTNAME}:8765" in log
    assert app.token not in log


def test_supervisor_mqtt_service_reaches_the_engine(app: App) -> None:
    children = Path(f"/proc/{app.host_pid()}/task/{app.host_pid()}/children").read_text().split()
    env: dict[str, str] = {}
    for pid in children:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        if b"vigil_engine" in cmdline:
            raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            env = dict(item.decode().split("=", 1) for item in raw if b"=" in item)
    assert env, "the engine is not tini's child"
    assert env["VIGIL_MQTT_HOST"] == "core-mosquitto"
    assert env["VIGIL_MQTT_PORT"] == "1883"
    assert env["VIGIL_MQTT_USERNAME"] == "addons"
    assert env["VIGIL_MQTT_PASSWORD"] == MQTT_SERVICE["password"]
    assert env["VIGIL_MQTT_SSL"] == "false"  # the Supervisor's ssl flag: plain MQTT here
    log = app.logs()
    assert "MQTT broker from the Supervisor: core-mosquitto:1883 (user addons)" in log
    assert MQTT_SERVICE["password"] not in log


def test_ingress_serves_the_web_ui(app: App) -> None:
    prefix = "/api/hassio_ingress/Xk3Jq9ingressToken"
    status, body, _ = app.request(f"{prefix}/")
    assert status == 200, body[:300]
    assert b"<html" in body.lower()
    for ref in (b'src="ui/app.js"', b'href="ui/style.css"'):  # relative: under the prefix
        assert ref in body
    status, js, headers = app.request(f"{prefix}/ui/app.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript"), headers
    assert b"api/session" in js
    # Through ingress the API needs no token (Home Assistant authenticated the user) ...
    status, body, _ = app.request(f"{prefix}/api/cameras")
    assert status == 200, body[:300]
    assert "plaza" in body.decode()
    # ... but the same headers from anywhere else buy nothing.
    status, _, _ = app.request("/direct/api/cameras",
                               {"X-Ingress-Path": prefix, "X-Hass-Source": "core.ingress"})
    assert status == 401


def test_live_channel_through_ingress(app: App) -> None:
    """The panel's WebSocket: through ingress the first message needs no token."""

    async def exchange() -> tuple[dict[str, Any], dict[str, Any]]:
        connector = aiohttp.UnixConnector(path=app.socket)
        async with aiohttp.ClientSession(connector=connector) as session, session.ws_connect(
            "http://homeassistant.local/api/hassio_ingress/Xk3Jq9ingressToken/api/ws",
        ) as ws:
            await ws.send_json({"type": "auth"})
            hello = await ws.receive_json(timeout=30)
            await ws.send_json({"id": 1, "type": "engine/info"})
            return hello, await ws.receive_json(timeout=30)

    hello, info = asyncio.run(exchange())
    assert hello["type"] == "auth_ok", hello
    assert info["success"] is True and info["id"] == 1, info


def test_events_from_the_footage(app: App) -> None:
    def person_event() -> Any:
        events = app.api("/api/events")
        items = events["events"] if isinstance(events, dict) else events
        return [e for e in items if "person" in e.get("labels", [])]

    events = app.wait_for("person event from the footage", person_event, 240)
    assert events[0]["camera"] == "plaza"
    assert (app.data / "vigil.db").is_file()
    assert any((app.data / "snapshots").rglob("*.jpg"))


def test_no_zombies_and_tini_is_pid_1(app: App) -> None:
    app.wait_for("announcer to finish", lambda: "announced to Home Assistant as" in app.logs(), 60)
    stats = podman("exec", app.name, "sh", "-c", "cat /proc/[0-9]*/stat 2>/dev/null").stdout
    procs = [line.split(") ", 1) for line in stats.splitlines() if ") " in line]
    zombies = [head for head, rest in procs if rest.startswith("Z")]
    assert not zombies, stats
    assert Path(f"/proc/{app.host_pid()}/cmdline").read_bytes().startswith(b"/usr/bin/tini")


def test_docker_stop_runs_the_engines_shutdown(app: App) -> None:
    started = time.monotonic()
    podman("stop", "-t", "30", app.name, timeout=60)
    took = time.monotonic() - started
    code = podman("inspect", "-f", "{{.State.ExitCode}}", app.name).stdout.strip()
    log = app.logs()
    assert code == "0", log[-3000:]
    assert "stopped cleanly" in log
    assert took < 30, f"stop took {took:.0f} s: SIGTERM did not reach the engine"
