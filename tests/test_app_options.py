"""The Home Assistant app's options (options.json) on top of the camera YAML.

Driven through the engine's CLI (``--app-options``), as run.sh starts it.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.engine import ENGINE_PYTHON
from vigil_engine.app_options import EXAMPLE_CONFIG, AppOptions, apply_options
from vigil_engine.config import parse_config

ROOT = Path(__file__).resolve().parents[1]


def check(tmp_path: Path, options: dict[str, object] | str, config: str | None,
          env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m vigil_engine --check`` the way run.sh passes the app's files."""
    (tmp_path / "data").mkdir(exist_ok=True)
    opts = tmp_path / "data" / "options.json"
    opts.write_text(options if isinstance(options, str) else json.dumps(options))
    cfg = tmp_path / "config" / "vigil.yaml"
    cfg.parent.mkdir(exist_ok=True)
    if config is not None:
        cfg.write_text(config)
    return subprocess.run(
        [ENGINE_PYTHON, "-m", "vigil_engine", "--config", str(cfg), "--app-options", str(opts),
         "--data", str(tmp_path / "data"), "--check"],
        capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)


def camera_yaml(footage: Path) -> str:
    return yaml.safe_dump({"cameras": {"plaza": {
        "inputs": [{"url": str(footage), "roles": ["detect"], "loop": True}]}}})


def test_first_start_writes_a_commented_example(tmp_path: Path) -> None:
    proc = check(tmp_path, {"config_file": "vigil.yaml", "log_level": "info"}, None)
    example = (tmp_path / "config" / "vigil.yaml").read_text()
    assert example == EXAMPLE_CONFIG
    assert "wrote a commented example" in proc.stderr
    assert "cameras: required option is missing" in proc.stderr
    assert proc.returncode == 2
    # A second start keeps what the user wrote.
    (tmp_path / "config" / "vigil.yaml").write_text("cameras: {}\n")
    proc = check(tmp_path, {}, None)
    assert (tmp_path / "config" / "vigil.yaml").read_text() == "cameras: {}\n"
    assert "wrote a commented example" not in proc.stderr


def test_the_example_is_valid_once_uncommented(tmp_path: Path) -> None:
    text = "\n".join(line[2:] for line in EXAMPLE_CONFIG.splitlines() if line.startswith("# "))
    doc = yaml.safe_load(text)
    config = parse_config(doc, data_dir=tmp_path)
    assert list(config.cameras) == ["front_door"]
    assert config.cameras["front_door"].record.enabled


@pytest.mark.parametrize(("options", "problem"), [
    ({"llm_provider": "gpt"}, "options.llm_provider: must be one of rules, openai, ollama"),
    ({"llm_provider": "openai", "llm_base_url": "ollama.local:11434"},
     "options.llm_base_url: must be a URL like http://"),
    ({"llm_model": "qwen2.5:7b"}, "options.llm_model: set llm_provider to openai or ollama"),
    ({"frigate_url": "frigate:5000"}, "options.frigate_url: must be a URL like http://"),
    ({"config_file": "../homeassistant/secrets.yaml"}, "options.config_file: must be a .yaml"),
    ({"log_level": "verbose"}, "options.log_level: must be one of debug, info"),
    ({"llm_model": 7, "llm_provider": "ollama"}, "options.llm_model: must be text"),
    ("{not json", "the app options are not valid JSON"),
])
def test_bad_options_are_named(tmp_path: Path, footage_mp4: Path, options: dict[str, object],
                               problem: str) -> None:
    proc = check(tmp_path, options, camera_yaml(footage_mp4))
    assert problem in proc.stderr
    assert proc.returncode == 2
    assert not (tmp_path / "data" / "vigil.db").exists()


def test_llm_options_override_the_yaml_and_keep_the_key_out(
        tmp_path: Path, footage_mp4: Path) -> None:
    doc = yaml.safe_load(camera_yaml(footage_mp4))
    doc["risk"] = {"provider": "rules", "openai": {"model": "old", "timeout": 30}}
    opts = AppOptions(llm_provider="openai", llm_base_url="http://192.168.1.20:8080/v1",
                      llm_model="qwen2.5:7b", llm_api_key="sk-secret-1234")
    merged = apply_options(doc, opts)
    config = parse_config(merged, data_dir=tmp_path)
    assert config.risk.provider == "openai"
    assert config.risk.openai.base_url == "http://192.168.1.20:8080/v1"
    assert config.risk.openai.model == "qwen2.5:7b"
    assert config.risk.openai.timeout == 30  # the YAML's other settings stay
    assert config.risk.openai.api_key_env == "VIGIL_LLM_API_KEY"
    assert "sk-secret-1234" not in json.dumps(merged)
    assert doc["risk"]["openai"]["model"] == "old"  # the user's document is not modified
    # Through the CLI: valid, and the key is never printed.
    proc = check(tmp_path, {"llm_provider": "openai", "llm_model": "m",
                            "llm_base_url": "http://127.0.0.1:8080/v1",
                            "llm_api_key": "sk-secret-1234"}, camera_yaml(footage_mp4))
    assert proc.returncode == 0, proc.stderr
    assert "sk-secret-1234" not in proc.stdout + proc.stderr


def test_unset_options_leave_the_yaml_alone(footage_mp4: Path) -> None:
    doc = yaml.safe_load(camera_yaml(footage_mp4))
    doc["risk"] = {"provider": "ollama", "ollama": {"model": "llama3.2"}}
    assert apply_options(doc, AppOptions()) == doc


def test_frigate_url_option(footage_mp4: Path) -> None:
    """The Frigate URL becomes a frigate: server (schema of the Frigate bridge, issue 9)."""
    merged = apply_options({}, AppOptions(frigate_url="http://ccab4aaf-frigate:5000"))
    assert merged["frigate"] == [{"name": "frigate", "frigate_url": "http://ccab4aaf-frigate:5000"}]
    doc = {"frigate": [{"name": "garage", "frigate_url": "http://old:5000", "min_score": 0.7}]}
    merged = apply_options(doc, AppOptions(frigate_url="http://new:5000"))
    assert merged["frigate"] == [{"name": "garage", "frigate_url": "http://new:5000",
                                  "min_score": 0.7}]
