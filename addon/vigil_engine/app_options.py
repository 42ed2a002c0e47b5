"""Home Assistant app options (``/data/options.json``) applied to the engine's YAML.

What users set in the app's Configuration tab (LLM, Frigate URL, log level)
lives in options.json; cameras, zones and alert policy stay in the YAML file
in the app's config folder, which gets a commented example on first start. An
option that is set wins over the same setting in the YAML; an unset option
leaves the YAML alone. Every problem is reported with its field path
(``options.llm_base_url: ...``) like the YAML's own errors.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import PROVIDERS, Config, ConfigError, parse_config, read_document

_LOGGER = logging.getLogger(__name__)

# The key travels in the environment, never in a file or a log line.
ENV_LLM_API_KEY = "VIGIL_LLM_API_KEY"
LOG_LEVELS = ("debug", "info", "warning", "error")
_URL_RE = re.compile(r"^https?://[^/\s?#]+(/\S*)?$")
_FILE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*\.ya?ml$")

EXAMPLE_CONFIG = """\
## Vigil cameras. Written by the app on first start: remove the leading '# '
## from the lines below (keep the '## ' notes), fill in your camera, save and
## restart the app. The LLM, the Frigate URL and the log level are set in the
## app's Configuration tab; the full format is in the Documentation tab.
#
# cameras:
#   front_door:
#     description: "front door and path"
#     inputs:
#       ## the camera's sub stream (about 640x360) for detection ...
#       - {url: "rtsp://user:password@192.0.2.10:554/stream2", roles: [detect]}
#       ## ... and its main stream for recording (copied, never re-encoded)
#       - {url: "rtsp://user:password@192.0.2.10:554/stream1", roles: [record]}
#     detect: {fps: 5, width: 640, height: 360}
#     objects:
#       track: [person, car, dog, cat]
#     zones:
#       porch:
#         coordinates: [[0, 200], [300, 200], [300, 360], [0, 360]]
#         objects: [person]
#         loitering_time: 30
#     record: {enabled: true, retain: {days: 7}}
#
# location: {timezone: Europe/London}  ## night = sunset..sunrise with latitude/longitude
# storage: {max_size_gb: 200, min_free_gb: 10}
"""


@dataclass(frozen=True)
class AppOptions:
    """The app's options as the Supervisor writes them (unset ones are absent)."""

    config_file: str = "vigil.yaml"
    log_level: str = "info"
    llm_provider: str | None = None
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = None
    frigate_url: str | None = None


def read_options(path: Path) -> AppOptions:
    """Read and check options.json; a ConfigError names each bad option."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError([f"{path}: cannot read the app options ({err.strerror})"]) from None
    except ValueError as err:
        raise ConfigError([f"{path}: the app options are not valid JSON ({err})"]) from None
    if not isinstance(raw, dict):
        raise ConfigError([f"{path}: the app options must be a JSON object"])
    problems: list[str] = []
    values: dict[str, str | None] = {}
    for key in AppOptions.__dataclass_fields__:
        value = raw.get(key)
        if isinstance(value, str):
            value = value.strip() or None
        if value is not None and not isinstance(value, str):
            problems.append(f"options.{key}: must be text")
            continue
        values[key] = value
    _check(values, problems)
    if problems:
        raise ConfigError(problems)
    return AppOptions(**{k: v for k, v in values.items() if v is not None})


def _check(v: dict[str, str | None], problems: list[str]) -> None:
    if v.get("config_file") and not _FILE_RE.match(v["config_file"] or ""):
        problems.append("options.config_file: must be a .yaml file name in the app's config "
                        "folder (no folders)")
    if v.get("log_level") and v["log_level"] not in LOG_LEVELS:
        problems.append(f"options.log_level: must be one of {', '.join(LOG_LEVELS)}")
    provider = v.get("llm_provider")
    if provider and provider not in PROVIDERS:
        problems.append(f"options.llm_provider: must be one of {', '.join(PROVIDERS)}")
    for key, example in (("llm_base_url", "http://192.168.1.20:11434/v1"),
                         ("frigate_url", "http://ccab4aaf-frigate:5000")):
        if v.get(key) and not _URL_RE.match(v[key] or ""):
            problems.append(f"options.{key}: must be a URL like {example}")
    llm_set = [k for k in ("llm_base_url", "llm_model", "llm_api_key") if v.get(k)]
    if llm_set and provider in (None, "rules"):
        problems.append(f"options.{llm_set[0]}: set llm_provider to openai or ollama to use it")


def apply_options(doc: Any, options: AppOptions) -> dict[str, Any]:
    """A copy of the YAML document with the set options written into it."""
    out: dict[str, Any] = dict(doc) if isinstance(doc, dict) else {}
    if doc is not None and not isinstance(doc, dict):
        raise ConfigError(["(top level): must be a mapping with at least 'cameras'"])
    if options.llm_provider:
        risk = dict(out.get("risk") or {})
        risk["provider"] = options.llm_provider
        if options.llm_provider != "rules":
            llm = dict(risk.get(options.llm_provider) or {})
            if options.llm_base_url:
                llm["base_url"] = options.llm_base_url
            if options.llm_model:
                llm["model"] = options.llm_model
            if options.llm_api_key:
                llm["api_key_env"] = ENV_LLM_API_KEY
            risk[options.llm_provider] = llm
        out["risk"] = risk
    if options.frigate_url:
        servers = [dict(s) if isinstance(s, dict) else s for s in out.get("frigate") or []]
        if servers and isinstance(servers[0], dict):
            servers[0]["frigate_url"] = options.frigate_url
        else:
            servers = [{"name": "frigate", "frigate_url": options.frigate_url}]
        out["frigate"] = servers
    return out


def write_example(path: Path) -> bool:
    """Write the commented example unless a configuration exists; True if written."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(EXAMPLE_CONFIG, encoding="utf-8")
    tmp.replace(path)
    return True


def load_app_config(config_path: Path, options: AppOptions, *,
                    data_dir: Path | None = None) -> Config:
    """The engine configuration of the app: the YAML file with the options applied."""
    if write_example(config_path):
        _LOGGER.warning(
            "No configuration yet: wrote a commented example to %s (Home Assistant shows "
            "this folder as /addon_configs/<slug>). Add your cameras there and restart the app.",
            config_path)
    doc = apply_options(read_document(config_path), options)
    return parse_config(doc, source=config_path.resolve(), data_dir=data_dir)
