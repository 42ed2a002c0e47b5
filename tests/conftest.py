"""Shared fixtures: real footage, the real model, the engine CLI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOOTAGE_DIR = Path(os.environ.get("VIGIL_FOOTAGE_DIR", ROOT / "var" / "footage"))


def _need(path: Path) -> Path:
    if not path.is_file():
        pytest.fail(f"{path} is missing: run scripts/test (it fetches footage and the model)")
    return path


@pytest.fixture(scope="session")
def footage_mp4() -> Path:
    """vtest.avi from Debian's opencv-doc, as H.264 MP4 (768x576, 10 fps, 79.5 s)."""
    return _need(FOOTAGE_DIR / "vtest.mp4")


@pytest.fixture(scope="session")
def footage_ts() -> Path:
    """The same footage as MPEG-TS, which the RTSP feeder can loop."""
    return _need(FOOTAGE_DIR / "vtest.ts")


@pytest.fixture(scope="session")
def model_path() -> Path:
    from vigil_engine.detect.model import MODEL_NAME, default_model_dir

    return _need(default_model_dir() / MODEL_NAME)


@pytest.fixture(scope="session")
def footage_720_ts(footage_mp4: Path) -> Path:
    """The footage upscaled to 1280x720 H.264 (a camera's main stream), built once."""
    from tests.support.rtsp import make_ts

    return make_ts(footage_mp4, FOOTAGE_DIR / "vtest720.ts", width=1280, height=720, gop=10)
