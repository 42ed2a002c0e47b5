"""The ``frigate:`` and ``mqtt:`` options: names, defaults, ranges and field-path errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from vigil_engine.config import ConfigError, parse_config


def frigate(**fields: Any) -> dict[str, Any]:
    return {"data_dir": "/tmp/vigil-test",
            "frigate": [{"name": "home", "frigate_url": "http://frigate:5000", **fields}]}


def problems(raw: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(raw, source=Path("/tmp/config.yaml"))
    return info.value.problems


def test_defaults_follow_the_spec_and_the_issue(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("VIGIL_MQTT_HOST", "VIGIL_MQTT_PORT", "VIGIL_MQTT_USERNAME",
                "VIGIL_MQTT_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    cfg = parse_config(frigate())
    assert cfg.cameras == {}, "cameras: is optional once frigate: is set"
    f = cfg.frigate[0]
    assert (f.name, f.url(), f.mqtt_host, f.mqtt_port) == (
        "home", "http://frigate:5000", "localhost", 1883)
    assert f.mqtt_topic_prefix == "frigate" and f.mqtt_username is None
    assert f.cameras is None and f.zones is None and f.labels == ("person",)
    assert f.min_score == 0.7 and f.min_duration_s == 1.0
    assert f.clip_format == "mp4" and f.retain_clips and f.download_timeout_s == 30.0
    assert f.bypass_filter and f.include_frigate_metadata
    assert f.reconnect_delay_s == 5.0
    assert f.max_reconnect_attempts == 0, "a security system never stops listening"
    assert f.output_dir is None, "clips go under the data folder"
    assert f.write_back_description and f.camera_overrides == {}
    # MQTT out follows the Frigate broker unless configured otherwise.
    assert cfg.mqtt.enabled and cfg.mqtt.host == "localhost" and cfg.mqtt.topic_prefix == "vigil"


def test_every_field_parses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRIGATE_URL", "http://10.0.0.5:5000/")
    monkeypatch.setenv("MQTT_PASSWORD", "s3cret")
    cfg = parse_config(frigate(
        frigate_url="", frigate_url_env="FRIGATE_URL", mqtt_host="mqtt.local", mqtt_port=1884,
        mqtt_username="vigil", mqtt_password_env="MQTT_PASSWORD", mqtt_topic_prefix="nvr",
        mqtt_client_id="vigil-1", cameras=["front_door", "driveway"], labels=["person", "car"],
        min_score=0.75, zones=["entrance"], min_duration_s=2, output_dir=str(tmp_path / "c"),
        clip_format="original", retain_clips=False, download_timeout_s=10,
        bypass_filter=False, include_frigate_metadata=False, reconnect_delay_s=2,
        max_reconnect_attempts=5, write_back_description=False,
        camera_overrides={"front_door": {"description": "porch, parcels left here",
                                         "alerts": {"min_risk_level": "low"}}}),
        source=tmp_path / "config.yaml")
    f = cfg.frigate[0]
    assert f.url() == "http://10.0.0.5:5000" and f.password() == "s3cret"
    assert (f.mqtt_host, f.mqtt_port, f.mqtt_username, f.mqtt_topic_prefix,
            f.mqtt_client_id) == ("mqtt.local", 1884, "vigil", "nvr", "vigil-1")
    assert f.cameras == ("front_door", "driveway") and f.labels == ("person", "car")
    assert f.zones == ("entrance",) and f.min_score == 0.75 and f.min_duration_s == 2.0
    assert f.output_dir == tmp_path / "c" and f.clip_format == "original"
    assert not f.retain_clips and not f.bypass_filter and not f.include_frigate_metadata
    assert f.max_reconnect_attempts == 5 and not f.write_back_description
    assert f.camera_overrides["front_door"].alerts.min_risk_level == "low"
    assert "parcels" in f.camera_overrides["front_door"].description


def test_frigate_plus_labels_are_accepted() -> None:
    cfg = parse_config(frigate(labels=["person", "package", "license_plate"]))
    assert cfg.frigate[0].labels == ("person", "package", "license_plate")


def test_supervisor_mqtt_service_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The HA app passes the Supervisor's broker: users type only the Frigate URL."""
    monkeypatch.setenv("VIGIL_MQTT_HOST", "core-mosquitto")
    monkeypatch.setenv("VIGIL_MQTT_PORT", "1883")
    monkeypatch.setenv("VIGIL_MQTT_USERNAME", "addons")
    monkeypatch.setenv("VIGIL_MQTT_PASSWORD", "pw")
    cfg = parse_config(frigate())
    f = cfg.frigate[0]
    assert (f.mqtt_host, f.mqtt_username, f.password()) == ("core-mosquitto", "addons", "pw")
    assert cfg.mqtt.enabled and cfg.mqtt.host == "core-mosquitto"
    assert cfg.mqtt.password() == "pw"
    # What the YAML says wins over the environment.
    f2 = parse_config(frigate(mqtt_host="broker.lan")).frigate[0]
    assert f2.mqtt_host == "broker.lan" and f2.mqtt_username is None


def test_mqtt_out_can_be_switched_off_or_pointed_elsewhere() -> None:
    off = parse_config({**frigate(), "mqtt": {"enabled": False}})
    assert not off.mqtt.enabled
    other = parse_config({**frigate(),
                          "mqtt": {"host": "nodered.lan", "topic_prefix": "home/vigil/"}})
    assert (other.mqtt.host, other.mqtt.topic_prefix) == ("nodered.lan", "home/vigil")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"data_dir": "/x"}, "cameras: required option is missing (or configure frigate:)"),
        ({"data_dir": "/x", "frigate": []}, "frigate: needs at least one Frigate server"),
        (frigate(frigate_url=""), "frigate[0].frigate_url: required"),
        (frigate(frigate_url="", frigate_url_env="NO_SUCH_VAR_X1"),
         "frigate[0].frigate_url_env: variable NO_SUCH_VAR_X1 is not set"),
        (frigate(frigate_url="frigate:5000"), "frigate[0].frigate_url: must start with http"),
        (frigate(mqtt_port=0), "frigate[0].mqtt_port:"),
        (frigate(mqtt_port=70000), "frigate[0].mqtt_port:"),
        (frigate(min_score=1.5), "frigate[0].min_score:"),
        (frigate(min_duration_s=-1), "frigate[0].min_duration_s:"),
        (frigate(download_timeout_s=2), "frigate[0].download_timeout_s:"),
        (frigate(reconnect_delay_s=0.5), "frigate[0].reconnect_delay_s:"),
        (frigate(max_reconnect_attempts=-1), "frigate[0].max_reconnect_attempts:"),
        (frigate(clip_format="mkv"), "frigate[0].clip_format: must be mp4 or original"),
        (frigate(labels=["Person!"]), "frigate[0].labels[0]: must be a Frigate label"),
        (frigate(labels=["person", "package"], bypass_filter=False),
         "frigate[0].labels[1]: Vigil's detector does not know 'package'"),
        (frigate(labels=[]), "frigate[0].labels:"),
        (frigate(mqtt_topic_prefix="frigate/#"), "frigate[0].mqtt_topic_prefix:"),
        (frigate(mqtt_password_env="not a var"), "frigate[0].mqtt_password_env:"),
        (frigate(bogus=1), "frigate[0].bogus: unknown option"),
        (frigate(name="Front Door"), "frigate[0].name: must be lowercase"),
        (frigate(cameras=["front"], camera_overrides={"back": {}}),
         "frigate[0].camera_overrides.back: not in this server's cameras"),
        (frigate(camera_overrides={"front": {"alerts": {"min_risk_level": "extreme"}}}),
         "frigate[0].camera_overrides.front.alerts.min_risk_level:"),
        ({"data_dir": "/x", "frigate": [{"name": "a", "frigate_url": "http://a"},
                                        {"name": "a", "frigate_url": "http://b"}]},
         "frigate[1].name: 'a' is used twice"),
        ({**frigate(), "mqtt": {"port": "x"}}, "mqtt.port:"),
    ],
)
def test_errors_name_the_field_path(raw: Any, expected: str) -> None:
    found = problems(raw)
    assert any(p.startswith(expected) for p in found), found
