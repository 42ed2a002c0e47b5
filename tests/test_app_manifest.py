"""The app store entry: what the Supervisor reads before any image is built.

A repository the Supervisor rejects, or options the UI offers that the engine
does not read, show up only on a user's HA OS box; these checks catch them here.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import yaml
from PIL import Image

from vigil_engine.app_options import AppOptions

ROOT = Path(__file__).resolve().parents[1]
ADDON = ROOT / "addon"


def manifest() -> dict:
    return yaml.safe_load((ADDON / "config.yaml").read_text())


def test_repository_can_be_added() -> None:
    repo = yaml.safe_load((ROOT / "repository.yaml").read_text())
    assert repo["name"] and repo["url"].startswith("https://") and repo["maintainer"]
    for name, size in (("icon.png", (128, 128)), ("logo.png", (250, 100))):
        with Image.open(ADDON / name) as img:
            assert img.format == "PNG" and img.size == size
    for doc in ("DOCS.md", "CHANGELOG.md"):
        assert (ADDON / doc).read_text().startswith("# ")
    assert manifest()["version"] in (ADDON / "CHANGELOG.md").read_text()


def test_manifest_follows_2026_conventions() -> None:
    m = manifest()
    maps = {entry["type"]: entry for entry in m["map"]}
    assert set(maps) == {"app_config", "media"}  # not the legacy addon_config / config
    assert maps["app_config"]["read_only"] is False
    assert maps["media"]["read_only"] is True
    assert "hassio_api" not in m and "homeassistant_api" not in m
    assert m["services"] == ["mqtt:want"]
    assert m["discovery"] == ["vigil"]
    assert m["ingress"] is True and m["ingress_port"] == 8765
    assert m["init"] is False  # tini in the image is PID 1
    assert set(m["arch"]) == {"amd64", "aarch64"}
    excluded = " ".join(m["backup_exclude"])
    for folder in ("recordings", "clips", "snapshots"):
        assert folder in excluded
    assert "vigil.db" not in excluded and "token" not in excluded
    assert 'io.hass.type="app"' in (ADDON / "Dockerfile").read_text()


def test_every_option_is_read_by_the_engine_and_translated() -> None:
    m = manifest()
    engine_fields = {f.name for f in fields(AppOptions)}
    assert set(m["schema"]) == engine_fields
    assert set(m["options"]) <= set(m["schema"])
    assert m["schema"]["llm_api_key"] == "password?"
    translated = yaml.safe_load((ADDON / "translations" / "en.yaml").read_text())
    assert set(translated["configuration"]) == engine_fields
