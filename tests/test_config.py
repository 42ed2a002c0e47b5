"""A bad configuration is refused with the field path and reason, never half-started."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from vigil_engine.config import ConfigError, load_config, parse_config

GOOD_CAMERA: dict[str, Any] = {
    "inputs": [{"url": "rtsp://127.0.0.1:8554/cam", "roles": ["detect"]}],
    "detect": {"fps": 5, "width": 640, "height": 360},
}


def good(**overrides: Any) -> dict[str, Any]:
    cam = {**GOOD_CAMERA, **overrides}
    return {"data_dir": "/tmp/vigil-test", "cameras": {"front_door": cam}}


def problems(raw: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(raw, source=Path("/tmp/config.yaml"))
    return info.value.problems


def test_full_contract_shape_parses_into_typed_objects() -> None:
    raw = {
        "data_dir": "/srv/vigil",
        "api": {"host": "127.0.0.1", "port": 8765, "token": "x" * 32},
        "detector": {"threads": 2},
        "cameras": {
            "front_door": {
                "inputs": [{"url": "rtsp://user:pw@cam/stream", "roles": ["detect"]}],
                "detect": {"fps": 5, "width": 640, "height": 360},
                "objects": {
                    "track": ["person", "car", "dog", "cat"],
                    "filters": {"person": {"min_score": 0.5, "min_area": 500}},
                },
                "motion": {"mask": [[0, 0], [100, 0], [100, 50]]},
                "zones": {
                    "porch": {
                        "coordinates": [[0, 200], [300, 200], [300, 360], [0, 360]],
                        "objects": ["person"],
                        "loitering_time": 30,
                    }
                },
            }
        },
    }
    cfg = parse_config(raw)
    cam = cfg.cameras["front_door"]
    assert cfg.data_dir == Path("/srv/vigil")
    assert cfg.api.token == "x" * 32
    assert cam.detect.fps == 5.0 and (cam.detect.width, cam.detect.height) == (640, 360)
    assert cam.objects.filter_for("person").min_area == 500
    assert cam.objects.filter_for("car").min_score == 0.5  # default filter
    assert len(cam.motion.mask) == 1 and len(cam.motion.mask[0]) == 3
    assert cam.zones["porch"].loitering_time == 30
    assert cam.zones["porch"].objects == ("person",)
    assert cam.input_for("detect") is not None and cam.input_for("record") is None
    assert cam.events.idle_timeout == 30.0


def test_frigate_style_polygon_strings_and_polygon_lists() -> None:
    cfg = parse_config(good(motion={"mask": ["0,0,10,0,10,10", [[20, 20], [30, 20], [30, 30]]]},
                            zones={"yard": {"coordinates": "0,0,640,0,640,100"}}))
    cam = cfg.cameras["front_door"]
    assert len(cam.motion.mask) == 2
    assert cam.zones["yard"].coordinates[1] == (640.0, 0.0)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (good(zones={"porch": {"coordinates": [[0, 0], [10, 10]]}}),
         "cameras.front_door.zones.porch.coordinates: needs at least 3 points"),
        (good(zones={"porch": {"coordinates": [[0, 0], [10, 10], [9999, 10]]}}),
         "cameras.front_door.zones.porch.coordinates[2]: point (9999, 10) is outside"),
        (good(detect={"fps": 0}), "cameras.front_door.detect.fps:"),
        (good(detect={"fps": "fast"}), "cameras.front_door.detect.fps:"),
        (good(objects={"track": ["persn"]}),
         "cameras.front_door.objects.track[0]: unknown label 'persn'"),
        (good(objects={"filters": {"dog": {"min_score": 0.5}}, "track": ["person"]}),
         "cameras.front_door.objects.filters.dog: label is not in objects.track"),
        (good(objects={"filters": {"person": {"min_score": 2}}}),
         "cameras.front_door.objects.filters.person.min_score:"),
        (good(inputs=[]), "cameras.front_door.inputs: needs at least one input"),
        (good(inputs=[{"url": "rtsp://x/y", "roles": ["record"]}]),
         "cameras.front_door.inputs: no input has the 'detect' role"),
        (good(inputs=[{"url": "rtsp://x/y", "roles": ["watch"]}]),
         "cameras.front_door.inputs[0].roles[0]: role must be one of detect, record"),
        (good(inputs=[{"url": "/no/such/file.mp4"}]),
         "cameras.front_door.inputs[0].url: file not found"),
        (good(frobnicate=1), "cameras.front_door.frobnicate: unknown option"),
        (good(motion={"mask": [[0, 0], [1, "a"], [2, 2]]}),
         "cameras.front_door.motion.mask[1]: point must be [x, y] numbers"),
        ({"cameras": {"Front Door": GOOD_CAMERA}, "data_dir": "/x"},
         "cameras.Front Door: must be lowercase letters"),
        ({"data_dir": "/x", "cameras": {}}, "cameras: needs at least one camera"),
        ({"data_dir": "/x"}, "cameras: required option is missing"),
        ({"data_dir": "/x", "api": {"port": 70000}, "cameras": {"a": GOOD_CAMERA}}, "api.port:"),
        ({"data_dir": "/x", "api": {"token": "short"}, "cameras": {"a": GOOD_CAMERA}},
         "api.token: must be at least 16 characters"),
        ({"cameras": {"a": GOOD_CAMERA}}, "data_dir: required option is missing"),
        (good(events={"idle_timeout": 60, "max_length": 10}),
         "cameras.front_door.events.max_length: must be at least idle_timeout"),
        ("just a string", "(top level): must be a mapping"),
    ],
)
def test_errors_name_the_field_path(raw: Any, expected: str) -> None:
    found = problems(raw)
    assert any(p.startswith(expected) for p in found), found


def test_every_problem_is_reported_at_once() -> None:
    raw = good(detect={"fps": 0, "width": 10})
    found = problems(raw)
    assert any(p.startswith("cameras.front_door.detect.fps") for p in found)
    assert any(p.startswith("cameras.front_door.detect.width") for p in found)


BAD_FILES = {
    "short_zone.yaml": (good(zones={"porch": {"coordinates": [[0, 0], [1, 1]]}}),
                        "cameras.front_door.zones.porch.coordinates: needs at least 3 points"),
    "bad_label.yaml": (good(objects={"track": ["person", "unicorn"]}),
                       "cameras.front_door.objects.track[1]: unknown label 'unicorn'"),
    "bad_port.yaml": ({**good(), "api": {"port": "http"}}, "api.port:"),
    "no_cameras.yaml": ({"data_dir": "/tmp/x"}, "cameras: required option is missing"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_cli_refuses_bad_files_without_starting(tmp_path: Path, name: str) -> None:
    raw, expected = BAD_FILES[name]
    data = tmp_path / "data"
    raw = {**raw, "data_dir": str(data)} if isinstance(raw, dict) else raw
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw))
    proc = subprocess.run([sys.executable, "-m", "vigil_engine", "--config", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert expected in proc.stderr
    assert not data.exists(), "nothing may be started or created for a bad config"


def test_cli_reports_yaml_syntax_errors_with_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("cameras:\n  front_door: {inputs: [\n")
    proc = subprocess.run([sys.executable, "-m", "vigil_engine", "--config", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "invalid YAML at line" in proc.stderr


def test_cli_reports_missing_config_file(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "vigil_engine", "--config",
                           str(tmp_path / "nope.yaml")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "cannot read config file" in proc.stderr


def test_relative_paths_resolve_against_the_config_file(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"")
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({
        "data_dir": "data",
        "cameras": {"demo": {"inputs": [{"url": "clip.mp4", "loop": True}]}},
    }))
    cfg = load_config(path)
    assert cfg.data_dir == tmp_path / "data"
    assert cfg.cameras["demo"].inputs[0].url == str(clip)


def test_storage_reconcile_interval_defaults_to_an_hour_and_is_checked() -> None:
    assert parse_config(good()).storage.reconcile_seconds == 3600.0
    cfg = parse_config({**good(), "storage": {"reconcile_seconds": 600}})
    assert cfg.storage.reconcile_seconds == 600.0
    for bad in (0, 2, 30 * 86400, "often"):
        found = problems({**good(), "storage": {"reconcile_seconds": bad}})
        assert any("storage.reconcile_seconds" in p for p in found), (bad, found)
