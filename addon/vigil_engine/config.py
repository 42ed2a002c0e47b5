"""YAML configuration -> validated, typed objects.

The YAML shape is a contract. Every error names the field path and the reason
(``cameras.front_door.zones.porch.coordinates: needs at least 3 points``) so a
user can fix the file without reading code; the engine refuses to start on any.
"""

from __future__ import annotations

import os
import re
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import voluptuous as vol
import yaml

from .detect.labels import COCO_LABELS

Point = tuple[float, float]
Polygon = tuple[Point, ...]

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_]{0,62}$")
DEFAULT_TRACK = ("person", "car", "dog", "cat")
# Labels that cannot open an event while they keep the place they were first seen in
# (parked vehicles); anything else in view at start-up or reconnect is reported.
DEFAULT_IGNORE_STILL = ("car", "truck", "motorcycle")
ROLES = ("detect", "record")


class ConfigError(Exception):
    """One or more problems in the configuration; ``str()`` lists them all."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


# --------------------------------------------------------------------------- dataclasses


@dataclass(frozen=True)
class ApiConfig:
    host: str = "127.0.0.1"
    port: int = 8765
    token: str | None = None
    ingress: bool = False  # running as an HA app: trust the Supervisor's ingress proxy
    ingress_proxies: tuple[str, ...] = ("172.30.32.2",)
    cors_origins: tuple[str, ...] = ()
    failed_auth_limit: int = 30  # per address per 5 min; responses slow down from a sixth
    tls_cert: Path | None = None  # api.tls: HTTPS so the token never crosses the LAN in clear
    tls_key: Path | None = None


@dataclass(frozen=True)
class DetectorConfig:
    model: Path | None = None
    labels: Path | None = None
    threads: int = 2


@dataclass(frozen=True)
class InputConfig:
    url: str
    roles: tuple[str, ...]
    loop: bool = False
    transport: str = "tcp"

    @property
    def is_file(self) -> bool:
        return "://" not in self.url


@dataclass(frozen=True)
class DetectConfig:
    enabled: bool = True
    fps: float = 5.0
    width: int = 640
    height: int = 360
    min_frames: int = 3
    max_disappeared: float = 3.0
    stationary_seconds: float = 10.0


@dataclass(frozen=True)
class ObjectFilter:
    min_score: float = 0.5
    threshold: float = 0.65
    min_area: int = 0
    max_area: int = 10_000_000
    mask: tuple[Polygon, ...] = ()


@dataclass(frozen=True)
class ObjectsConfig:
    track: tuple[str, ...] = DEFAULT_TRACK
    filters: dict[str, ObjectFilter] = field(default_factory=dict)
    ignore_still_from_start: tuple[str, ...] = DEFAULT_IGNORE_STILL

    def filter_for(self, label: str) -> ObjectFilter:
        return self.filters.get(label, ObjectFilter())


@dataclass(frozen=True)
class MotionConfig:
    threshold: int = 25
    min_area: int = 100
    mask: tuple[Polygon, ...] = ()


@dataclass(frozen=True)
class ZoneConfig:
    name: str
    coordinates: Polygon
    objects: tuple[str, ...] = ()
    loitering_time: float = 0.0
    description: str = ""
    sensitivity: str = "normal"  # low | normal | high


@dataclass(frozen=True)
class EventsConfig:
    idle_timeout: float = 30.0
    max_length: float = 300.0


RISK_LEVELS = ("low", "medium", "high", "critical")
ACTIVITY_TYPES = (
    "passerby", "delivery", "resident_activity", "visitor", "vehicle_arrival",
    "vehicle_departure", "loitering", "suspicious_behavior", "intrusion", "animal", "unknown",
)
ARM_MODES = ("disarmed", "home", "away", "night", "vacation")
PROVIDERS = ("rules", "openai", "ollama")


@dataclass(frozen=True)
class AlertConfig:
    min_risk_level: str = "medium"
    always: tuple[str, ...] = ()  # activity types that always notify
    never: tuple[str, ...] = ()  # activity types that never notify
    quiet_hours: tuple[str, str] | None = None  # ("23:00", "06:00") local time
    cooldown_minutes: float = 10.0


@dataclass(frozen=True)
class LocationConfig:
    latitude: float | None = None
    longitude: float | None = None
    timezone: str | None = None
    night_start: str = "21:00"  # used when no latitude/longitude is configured
    night_end: str = "06:00"


@dataclass(frozen=True)
class LLMConfig:
    base_url: str = ""
    model: str = ""
    api_key_env: str | None = None
    timeout: float = 60.0
    vision: bool = False
    keep_alive: str = "10m"
    temperature: float = 0.2
    max_tokens: int = 500


@dataclass(frozen=True)
class RiskConfig:
    provider: str = "rules"
    openai: LLMConfig = field(default_factory=LLMConfig)
    ollama: LLMConfig = field(default_factory=LLMConfig)
    batch_window: float = 90.0
    max_concurrency: int = 1
    calls_per_day: int = 1000
    tokens_per_day: int = 2_000_000
    audit: bool = True
    max_attempts: int = 8
    retry_seconds: float = 15.0
    circuit_failures: int = 3
    circuit_cooldown: float = 60.0

    @property
    def llm(self) -> LLMConfig | None:
        return {"openai": self.openai, "ollama": self.ollama}.get(self.provider)


@dataclass(frozen=True)
class RecordConfig:
    enabled: bool = False
    mode: str = "continuous"  # continuous | events
    segment_seconds: float = 10.0
    pre_capture: float = 5.0
    post_capture: float = 5.0
    retain_days: float = 7.0  # continuous footage
    event_retain_days: float = 30.0  # footage that overlaps an event
    risk_retain_days: dict[str, float] = field(default_factory=dict)  # by risk level


@dataclass(frozen=True)
class StorageConfig:
    max_size_gb: float | None = None
    min_free_gb: float | None = None
    check_seconds: float = 10.0
    # How often the recordings index is checked against the disk (files deleted, added
    # or resized behind the engine's back); the quota counts the index's sizes.
    reconcile_seconds: float = 3600.0


@dataclass(frozen=True)
class CameraConfig:
    name: str
    inputs: tuple[InputConfig, ...]
    detect: DetectConfig
    objects: ObjectsConfig
    motion: MotionConfig
    zones: dict[str, ZoneConfig]
    events: EventsConfig
    record: RecordConfig = field(default_factory=RecordConfig)
    enabled: bool = True
    description: str = ""
    alerts: AlertConfig = field(default_factory=AlertConfig)

    def input_for(self, role: str) -> InputConfig | None:
        return next((i for i in self.inputs if role in i.roles), None)


@dataclass(frozen=True)
class FrigateCameraOverride:
    """Per Frigate camera: what Vigil's own cameras configure in ``description``/``alerts``."""

    description: str = ""
    alerts: AlertConfig = field(default_factory=AlertConfig)


@dataclass(frozen=True)
class MqttTls:
    """TLS to a broker (port 8883, usually): verified against ``ca_cert`` (else the
    system's CAs); ``insecure`` skips verification, for a self-signed broker by IP."""

    ca_cert: Path | None = None
    insecure: bool = False


@dataclass(frozen=True)
class FrigateConfig:
    """One Frigate server (field names follow frigate-events-source.md; see the README)."""

    name: str
    frigate_url: str = ""
    frigate_url_env: str | None = None
    mqtt_host: str = "localhost"
    mqtt_port: int = 1883
    mqtt_username: str | None = None
    mqtt_password_env: str | None = None
    mqtt_topic_prefix: str = "frigate"
    mqtt_client_id: str = "vigil-frigate"
    mqtt_tls: MqttTls | None = None  # None: plain MQTT
    cameras: tuple[str, ...] | None = None  # None: every Frigate camera
    labels: tuple[str, ...] = ("person",)
    min_score: float = 0.7
    zones: tuple[str, ...] | None = None  # None: any zone, or none at all
    min_duration_s: float = 1.0
    output_dir: Path | None = None  # None: <data_dir>/frigate/<name>
    clip_format: str = "mp4"  # mp4 | original
    retain_clips: bool = True
    download_timeout_s: float = 30.0
    bypass_filter: bool = True
    include_frigate_metadata: bool = True
    reconnect_delay_s: float = 5.0
    max_reconnect_attempts: int = 0  # 0: never give up
    write_back_description: bool = True
    camera_overrides: dict[str, FrigateCameraOverride] = field(default_factory=dict)

    def url(self) -> str:
        """The HTTP API base, from the environment variable when one is named and set."""
        if self.frigate_url_env:
            value = os.environ.get(self.frigate_url_env, "").strip()
            if value:
                return value.rstrip("/")
        return self.frigate_url.rstrip("/")

    def password(self) -> str | None:
        if self.mqtt_password_env:
            return os.environ.get(self.mqtt_password_env) or None
        return None


@dataclass(frozen=True)
class MqttConfig:
    """MQTT out (every event change under ``topic_prefix``); also the default broker."""

    enabled: bool = False
    host: str = "localhost"
    port: int = 1883
    username: str | None = None
    password_env: str | None = None
    topic_prefix: str = "vigil"
    client_id: str = "vigil-engine"
    tls: MqttTls | None = None  # None: plain MQTT

    def password(self) -> str | None:
        if self.password_env:
            return os.environ.get(self.password_env) or None
        return None


@dataclass(frozen=True)
class Config:
    data_dir: Path
    api: ApiConfig
    detector: DetectorConfig
    cameras: dict[str, CameraConfig]
    storage: StorageConfig = field(default_factory=StorageConfig)
    risk: RiskConfig = field(default_factory=RiskConfig)
    location: LocationConfig = field(default_factory=LocationConfig)
    source: Path | None = None
    frigate: tuple[FrigateConfig, ...] = ()
    mqtt: MqttConfig = field(default_factory=MqttConfig)


# --------------------------------------------------------------------------- schema


def _name(value: Any) -> str:
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise vol.Invalid(
            "must be lowercase letters, digits and underscores (start with a letter or digit)"
        )
    return value


def _point(value: Any) -> Point:
    if (
        not isinstance(value, list | tuple)
        or len(value) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    ):
        raise vol.Invalid(f"point must be [x, y] numbers, got {value!r}")
    return (float(value[0]), float(value[1]))


def _polygon(value: Any) -> Polygon:
    """A polygon as ``[[x, y], ...]`` or Frigate's ``"x,y,x,y,..."`` string."""
    if isinstance(value, str):
        try:
            nums = [float(v) for v in value.split(",")]
        except ValueError as err:
            raise vol.Invalid(f"not a list of numbers: {value!r}") from err
        if len(nums) % 2:
            raise vol.Invalid("needs an even count of numbers (x,y pairs)")
        value = [nums[i : i + 2] for i in range(0, len(nums), 2)]
    if not isinstance(value, list):
        raise vol.Invalid("must be a list of [x, y] points")
    points = []
    for idx, p in enumerate(value):
        try:
            points.append(_point(p))
        except vol.Invalid as err:
            raise vol.Invalid(err.msg, path=[idx]) from err
    if len(points) < 3:
        raise vol.Invalid("needs at least 3 points")
    return tuple(points)


def _polygons(value: Any) -> tuple[Polygon, ...]:
    """One polygon or a list of polygons."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (_polygon(value),)
    if not isinstance(value, list) or not value:
        raise vol.Invalid("must be a polygon ([[x, y], ...]) or a list of polygons")
    first = value[0]
    is_single = isinstance(first, list | tuple) and len(first) == 2 and all(
        isinstance(v, int | float) for v in first
    )
    if is_single:
        return (_polygon(value),)
    polys = []
    for idx, poly in enumerate(value):
        try:
            polys.append(_polygon(poly))
        except vol.Invalid as err:
            raise vol.Invalid(err.msg, path=[idx, *err.path]) from err
    return tuple(polys)


def _label(value: Any) -> str:
    if value not in COCO_LABELS:
        raise vol.Invalid(
            f"unknown label {value!r} (the model knows COCO labels, e.g. person, car)"
        )
    return str(value)


_positive = vol.All(vol.Coerce(float), vol.Range(min=0, min_included=False))
_non_negative = vol.All(vol.Coerce(float), vol.Range(min=0))
_score = vol.All(vol.Coerce(float), vol.Range(min=0, max=1))

INPUT_SCHEMA = vol.Schema(
    {
        vol.Required("url"): vol.All(str, vol.Length(min=1)),
        vol.Optional("roles", default=["detect"]): vol.All(
            [vol.In(ROLES, msg=f"role must be one of {', '.join(ROLES)}")], vol.Length(min=1)
        ),
        vol.Optional("loop", default=False): bool,
        vol.Optional("transport", default="tcp"): vol.In(("tcp", "udp")),
    }
)

FILTER_SCHEMA = vol.Schema(
    {
        vol.Optional("min_score", default=0.5): _score,
        vol.Optional("threshold", default=0.65): _score,
        vol.Optional("min_area", default=0): vol.All(int, vol.Range(min=0)),
        vol.Optional("max_area", default=10_000_000): vol.All(int, vol.Range(min=1)),
        vol.Optional("mask"): _polygons,
    }
)

ZONE_SCHEMA = vol.Schema(
    {
        vol.Required("coordinates"): _polygon,
        vol.Optional("objects", default=[]): [_label],
        vol.Optional("loitering_time", default=0): _non_negative,
        vol.Optional("description", default=""): vol.All(str, vol.Length(max=200)),
        vol.Optional("sensitivity", default="normal"): vol.In(
            ("low", "normal", "high"), msg="must be low, normal or high"
        ),
    }
)


def _clock(value: Any) -> str:
    if not isinstance(value, str) or not re.match(r"^([01]\d|2[0-3]):[0-5]\d$", value):
        raise vol.Invalid(f"must be a time of day as HH:MM, got {value!r}")
    return value


_activity = vol.In(ACTIVITY_TYPES, msg=f"must be one of {', '.join(ACTIVITY_TYPES)}")

ALERTS_SCHEMA = vol.Schema(
    {
        vol.Optional("min_risk_level", default="medium"): vol.In(
            RISK_LEVELS, msg=f"must be one of {', '.join(RISK_LEVELS)}"
        ),
        vol.Optional("always", default=[]): [_activity],
        vol.Optional("never", default=[]): [_activity],
        vol.Optional("quiet_hours"): vol.Schema(
            {vol.Required("start"): _clock, vol.Required("end"): _clock}
        ),
        vol.Optional("cooldown", default=10): _non_negative,
    }
)


def _llm_schema(default_url: str) -> vol.Schema:
    return vol.Schema(
        {
            vol.Optional("base_url", default=default_url): vol.All(
                str, vol.Match(r"^https?://", msg="must start with http:// or https://")
            ),
            vol.Optional("model", default=""): str,
            vol.Optional("api_key_env"): vol.All(str, vol.Match(r"^[A-Za-z_][A-Za-z0-9_]*$",
                                                                msg="must be a variable name")),
            vol.Optional("timeout", default=60): vol.All(
                vol.Coerce(float), vol.Range(min=1, max=600)
            ),
            vol.Optional("vision", default=False): bool,
            vol.Optional("keep_alive", default="10m"): str,
            vol.Optional("temperature", default=0.2): vol.All(
                vol.Coerce(float), vol.Range(min=0, max=2)
            ),
            vol.Optional("max_tokens", default=500): vol.All(int, vol.Range(min=1, max=8192)),
        }
    )


RISK_SCHEMA = vol.Schema(
    {
        vol.Optional("provider", default="rules"): vol.In(
            PROVIDERS, msg=f"must be one of {', '.join(PROVIDERS)}"
        ),
        vol.Optional("openai", default={}): _llm_schema("http://127.0.0.1:11434/v1"),
        vol.Optional("ollama", default={}): _llm_schema("http://127.0.0.1:11434"),
        vol.Optional("batch_window", default=90): vol.All(
            vol.Coerce(float), vol.Range(min=5, max=3600)
        ),
        vol.Optional("max_concurrency", default=1): vol.All(int, vol.Range(min=1, max=16)),
        vol.Optional("budget", default={}): vol.Schema(
            {
                vol.Optional("calls_per_day", default=1000): vol.All(int, vol.Range(min=0)),
                vol.Optional("tokens_per_day", default=2_000_000): vol.All(int, vol.Range(min=0)),
            }
        ),
        vol.Optional("audit", default=True): bool,
        vol.Optional("retry", default={}): vol.Schema(
            {
                vol.Optional("max_attempts", default=8): vol.All(int, vol.Range(min=1, max=100)),
                vol.Optional("seconds", default=15): vol.All(
                    vol.Coerce(float), vol.Range(min=0.1, max=3600)
                ),
            }
        ),
        vol.Optional("circuit", default={}): vol.Schema(
            {
                vol.Optional("failures", default=3): vol.All(int, vol.Range(min=1, max=100)),
                vol.Optional("cooldown", default=60): vol.All(
                    vol.Coerce(float), vol.Range(min=0.5, max=3600)
                ),
            }
        ),
    }
)

LOCATION_SCHEMA = vol.Schema(
    {
        vol.Optional("latitude"): vol.All(vol.Coerce(float), vol.Range(min=-90, max=90)),
        vol.Optional("longitude"): vol.All(vol.Coerce(float), vol.Range(min=-180, max=180)),
        vol.Optional("timezone"): str,
        vol.Optional("night", default={}): vol.Schema(
            {
                vol.Optional("start", default="21:00"): _clock,
                vol.Optional("end", default="06:00"): _clock,
            }
        ),
    }
)

EVENTS_SCHEMA = vol.Schema(
    {
        vol.Optional("idle_timeout"): _positive,
        vol.Optional("max_length"): _positive,
    }
)

RETAIN_SCHEMA = vol.Schema({vol.Optional("days"): _non_negative})

RECORD_SCHEMA = vol.Schema(
    {
        vol.Optional("enabled", default=False): bool,
        vol.Optional("mode", default="continuous"): vol.In(
            ("continuous", "events"), msg="must be continuous or events"
        ),
        vol.Optional("segment_seconds", default=10): vol.All(
            vol.Coerce(float), vol.Range(min=2, max=300)
        ),
        vol.Optional("pre_capture", default=5): vol.All(
            vol.Coerce(float), vol.Range(min=0, max=60)
        ),
        vol.Optional("post_capture", default=5): vol.All(
            vol.Coerce(float), vol.Range(min=0, max=300)
        ),
        vol.Optional("retain", default={}): RETAIN_SCHEMA,
        vol.Optional("events", default={}): vol.Schema(
            {
                vol.Optional("retain", default={}): vol.Schema(
                    {
                        vol.Optional("days"): _non_negative,
                        vol.Optional("risk", default={}): {vol.In(RISK_LEVELS): _non_negative},
                    }
                )
            }
        ),
    }
)

CAMERA_SCHEMA = vol.Schema(
    {
        vol.Optional("enabled", default=True): bool,
        vol.Required("inputs"): vol.All(
            [INPUT_SCHEMA], vol.Length(min=1, msg="needs at least one input")
        ),
        vol.Optional("detect", default={}): vol.Schema(
            {
                vol.Optional("enabled", default=True): bool,
                vol.Optional("fps", default=5): vol.All(
                    vol.Coerce(float), vol.Range(min=0.2, max=30)
                ),
                vol.Optional("width", default=640): vol.All(int, vol.Range(min=64, max=3840)),
                vol.Optional("height", default=360): vol.All(int, vol.Range(min=64, max=2160)),
                vol.Optional("min_frames", default=3): vol.All(int, vol.Range(min=1, max=30)),
                vol.Optional("max_disappeared", default=3.0): _positive,
                vol.Optional("stationary_seconds", default=10.0): _positive,
            }
        ),
        vol.Optional("objects", default={}): vol.Schema(
            {
                vol.Optional("track", default=list(DEFAULT_TRACK)): vol.All(
                    [_label], vol.Length(min=1)
                ),
                vol.Optional("filters", default={}): {_label: FILTER_SCHEMA},
                vol.Optional("ignore_still_from_start",
                             default=list(DEFAULT_IGNORE_STILL)): [_label],
            }
        ),
        vol.Optional("motion", default={}): vol.Schema(
            {
                vol.Optional("threshold", default=25): vol.All(int, vol.Range(min=1, max=255)),
                vol.Optional("min_area", default=100): vol.All(int, vol.Range(min=1)),
                vol.Optional("mask"): _polygons,
            }
        ),
        vol.Optional("zones", default={}): {_name: ZONE_SCHEMA},
        vol.Optional("events", default={}): EVENTS_SCHEMA,
        vol.Optional("record", default={}): RECORD_SCHEMA,
        vol.Optional("description", default=""): vol.All(str, vol.Length(max=300)),
        vol.Optional("alerts", default={}): ALERTS_SCHEMA,
    }
)

_env_name = vol.All(str, vol.Match(r"^[A-Za-z_][A-Za-z0-9_]*$", msg="must be a variable name"))
_names = vol.All([vol.All(str, vol.Length(min=1, max=100))], vol.Length(min=1))
_topic = vol.All(str, vol.Match(r"^[^#+\s]+$", msg="must be a topic without wildcards or spaces"),
                 vol.Length(max=100))

def _http_url(value: Any) -> str:
    if not isinstance(value, str):
        raise vol.Invalid("must be a URL like http://frigate:5000")
    if value and not re.match(r"^https?://[^\s/]+", value):
        raise vol.Invalid("must start with http:// or https:// (e.g. http://frigate:5000)")
    return value


FRIGATE_SCHEMA = vol.Schema(
    {
        vol.Required("name"): _name,
        vol.Optional("frigate_url", default=""): _http_url,
        vol.Optional("frigate_url_env"): _env_name,
        vol.Optional("mqtt_host"): vol.All(str, vol.Length(min=1)),
        vol.Optional("mqtt_port"): vol.All(int, vol.Range(min=1, max=65535)),
        vol.Optional("mqtt_username"): vol.Any(None, str),
        vol.Optional("mqtt_password_env"): _env_name,
        vol.Optional("mqtt_topic_prefix", default="frigate"): _topic,
        vol.Optional("mqtt_client_id"): vol.All(str, vol.Length(min=1, max=64)),
        vol.Optional("mqtt_tls"): bool,
        vol.Optional("mqtt_tls_ca_cert"): vol.All(str, vol.Length(min=1)),
        vol.Optional("mqtt_tls_insecure", default=False): bool,
        vol.Optional("cameras"): vol.Any(None, _names),
        # Frigate's labels (Frigate+ adds package, face, ...), not only the COCO ones.
        vol.Optional("labels", default=["person"]): vol.All(
            [vol.All(str, vol.Match(r"^[a-z0-9_ ]{1,50}$", msg="must be a Frigate label "
                                    "like person, car, package"))], vol.Length(min=1)),
        vol.Optional("min_score", default=0.7): _score,
        vol.Optional("zones"): vol.Any(None, _names),
        vol.Optional("min_duration_s", default=1.0): _non_negative,
        vol.Optional("output_dir"): vol.All(str, vol.Length(min=1)),
        vol.Optional("clip_format", default="mp4"): vol.In(
            ("mp4", "original"), msg="must be mp4 or original"),
        vol.Optional("retain_clips", default=True): bool,
        vol.Optional("download_timeout_s", default=30.0): vol.All(
            vol.Coerce(float), vol.Range(min=5, max=3600)),
        vol.Optional("bypass_filter", default=True): bool,
        vol.Optional("include_frigate_metadata", default=True): bool,
        vol.Optional("reconnect_delay_s", default=5.0): vol.All(
            vol.Coerce(float), vol.Range(min=1, max=3600)),
        vol.Optional("max_reconnect_attempts", default=0): vol.All(int, vol.Range(min=0)),
        vol.Optional("write_back_description", default=True): bool,
        vol.Optional("camera_overrides", default={}): {
            vol.All(str, vol.Length(min=1, max=100)): vol.Schema({
                vol.Optional("description", default=""): vol.All(str, vol.Length(max=300)),
                vol.Optional("alerts", default={}): ALERTS_SCHEMA,
            })
        },
    }
)

MQTT_SCHEMA = vol.Schema(
    {
        vol.Optional("enabled"): bool,
        vol.Optional("host"): vol.All(str, vol.Length(min=1)),
        vol.Optional("port"): vol.All(int, vol.Range(min=1, max=65535)),
        vol.Optional("username"): vol.Any(None, str),
        vol.Optional("password_env"): _env_name,
        vol.Optional("topic_prefix", default="vigil"): _topic,
        vol.Optional("client_id", default="vigil-engine"): vol.All(str, vol.Length(min=1, max=64)),
        vol.Optional("tls"): bool,
        vol.Optional("tls_ca_cert"): vol.All(str, vol.Length(min=1)),
        vol.Optional("tls_insecure", default=False): bool,
    }
)

ROOT_SCHEMA = vol.Schema(
    {
        vol.Optional("data_dir"): str,
        vol.Optional("api", default={}): vol.Schema(
            {
                vol.Optional("host", default="127.0.0.1"): str,
                vol.Optional("port", default=8765): vol.All(int, vol.Range(min=1, max=65535)),
                vol.Optional("token"): vol.All(
                    str, vol.Length(min=16, msg="must be at least 16 characters")
                ),
                vol.Optional("ingress", default=False): bool,
                vol.Optional("failed_auth_limit", default=30): vol.All(
                    int, vol.Range(min=5, max=1_000_000)
                ),
                vol.Optional("ingress_proxies", default=["172.30.32.2"]): [str],
                vol.Optional("cors_origins", default=[]): [
                    vol.Match(r"^https?://[^/\s]+$", msg="must be an origin like https://host:port")
                ],
                vol.Optional("tls"): {vol.Required("cert"): str, vol.Required("key"): str},
            }
        ),
        vol.Optional("detector", default={}): vol.Schema(
            {
                vol.Optional("model"): str,
                vol.Optional("labels"): str,
                vol.Optional("threads", default=2): vol.All(int, vol.Range(min=1, max=16)),
            }
        ),
        vol.Optional("events", default={}): EVENTS_SCHEMA,
        vol.Optional("storage", default={}): vol.Schema(
            {
                vol.Optional("max_size_gb"): _positive,
                vol.Optional("min_free_gb"): _non_negative,
                vol.Optional("check_seconds", default=10): vol.All(
                    vol.Coerce(float), vol.Range(min=1, max=3600)
                ),
                vol.Optional("reconcile_seconds", default=3600): vol.All(
                    vol.Coerce(float), vol.Range(min=5, max=7 * 86400)
                ),
            }
        ),
        vol.Optional("risk", default={}): RISK_SCHEMA,
        vol.Optional("location", default={}): LOCATION_SCHEMA,
        vol.Optional("cameras"): vol.All(
            {_name: CAMERA_SCHEMA}, vol.Length(min=1, msg="needs at least one camera")
        ),
        vol.Optional("frigate"): vol.All(
            [FRIGATE_SCHEMA], vol.Length(min=1, msg="needs at least one Frigate server")
        ),
        vol.Optional("mqtt", default={}): MQTT_SCHEMA,
    }
)


# --------------------------------------------------------------------------- loading


def _fmt_path(path: list[Any]) -> str:
    out = ""
    for part in path:
        key = part.schema if isinstance(part, vol.Marker) else part
        if isinstance(key, int):
            out += f"[{key}]"
        else:
            out += ("." if out else "") + str(key)
    return out or "(top level)"


def _problem(err: vol.Invalid) -> str:
    msg = err.error_message or err.msg
    if msg == "extra keys not allowed":
        msg = "unknown option"
    elif msg == "required key not provided":
        msg = "required option is missing"
    elif msg.startswith("expected ") and err.path:
        msg = msg.replace("expected ", "must be ", 1)
    return f"{_fmt_path(err.path)}: {msg}"


def parse_config(
    raw: Any, *, source: Path | None = None, data_dir: Path | None = None
) -> Config:
    """Validate a parsed YAML document; raise ConfigError listing every problem."""
    if not isinstance(raw, dict):
        raise ConfigError(["(top level): must be a mapping with at least 'cameras'"])
    try:
        doc = ROOT_SCHEMA(raw)
    except vol.MultipleInvalid as err:
        raise ConfigError(sorted({_problem(e) for e in err.errors})) from None
    except vol.Invalid as err:
        raise ConfigError([_problem(err)]) from None

    problems: list[str] = []
    base = source.parent if source else Path.cwd()

    def resolve(p: str | None) -> Path | None:
        if p is None:
            return None
        path = Path(p).expanduser()
        return path if path.is_absolute() else (base / path).resolve()

    resolved_data = data_dir or resolve(doc.get("data_dir"))
    if resolved_data is None:
        problems.append("data_dir: required option is missing (or pass --data DIR)")

    detector_doc = doc["detector"]
    detector = DetectorConfig(
        model=resolve(detector_doc.get("model")),
        labels=resolve(detector_doc.get("labels")),
        threads=detector_doc["threads"],
    )
    for key in ("model", "labels"):
        path = getattr(detector, key)
        if path is not None and not path.is_file():
            problems.append(f"detector.{key}: file not found: {path}")

    if "cameras" not in doc and "frigate" not in doc:
        problems.append("cameras: required option is missing (or configure frigate:)")
    api_doc = dict(doc["api"])
    tls = api_doc.pop("tls", None) or {}
    for key in ("cert", "key"):
        path = resolve(tls.get(key))
        api_doc[f"tls_{key}"] = path
        if path is not None and not path.is_file():
            problems.append(f"api.tls.{key}: file not found: {path}")

    default_events = doc["events"]
    cameras: dict[str, CameraConfig] = {}
    for cam_name, cam in doc.get("cameras", {}).items():
        cameras[cam_name] = _build_camera(cam_name, cam, default_events, base, problems)
    env = os.environ
    mqtt = _build_mqtt(doc["mqtt"], env, resolve, problems)
    frigate = tuple(_build_frigate(i, f, resolve, env, problems)
                    for i, f in enumerate(doc.get("frigate", [])))
    seen_names: set[str] = set()
    for i, f in enumerate(frigate):
        if f.name in seen_names:
            problems.append(f"frigate[{i}].name: {f.name!r} is used twice")
        seen_names.add(f.name)
    if not mqtt.enabled and frigate and doc["mqtt"].get("enabled") is not False:
        # MQTT out goes to the first Frigate server's broker unless configured otherwise.
        f0 = frigate[0]
        mqtt = MqttConfig(enabled=True, host=f0.mqtt_host, port=f0.mqtt_port,
                          username=f0.mqtt_username, password_env=f0.mqtt_password_env,
                          topic_prefix=mqtt.topic_prefix, client_id=mqtt.client_id,
                          tls=f0.mqtt_tls)

    risk = _build_risk(doc["risk"], problems)
    location = _build_location(doc["location"], problems)

    if problems:
        raise ConfigError(problems)
    assert resolved_data is not None
    return Config(
        data_dir=resolved_data,
        api=ApiConfig(**{**api_doc, "ingress_proxies": tuple(api_doc["ingress_proxies"]),
                         "cors_origins": tuple(api_doc["cors_origins"])}),
        detector=detector,
        cameras=cameras,
        storage=StorageConfig(**doc["storage"]),
        risk=risk,
        location=location,
        source=source,
        frigate=frigate,
        mqtt=mqtt,
    )


# Environment variables a supervisor (e.g. the HA app's run.sh with the Supervisor's MQTT
# service) sets so users type nothing: they fill what the YAML leaves out.
ENV_MQTT_HOST = "VIGIL_MQTT_HOST"
ENV_MQTT_PORT = "VIGIL_MQTT_PORT"
ENV_MQTT_USERNAME = "VIGIL_MQTT_USERNAME"
ENV_MQTT_PASSWORD = "VIGIL_MQTT_PASSWORD"
ENV_MQTT_SSL = "VIGIL_MQTT_SSL"  # "true" when the Supervisor's broker speaks TLS


def _env_port(env: Any) -> int | None:
    raw = env.get(ENV_MQTT_PORT, "").strip()
    return int(raw) if raw.isdigit() and 0 < int(raw) < 65536 else None


def _build_tls(where: str, enabled: bool | None, ca_cert: str | None, insecure: bool,
               from_env: bool, env: Any, resolve: Any, problems: list[str]) -> MqttTls | None:
    """TLS when asked for, when a CA file is named, or when the Supervisor's broker uses it."""
    if enabled is None:
        enabled = bool(ca_cert) or (from_env and env.get(ENV_MQTT_SSL, "").lower() == "true")
    if not enabled:
        return None
    path = resolve(ca_cert)
    if path is not None and not path.is_file():
        problems.append(f"{where}: file not found: {path}")
    elif path is not None:
        try:
            ssl.create_default_context(cafile=str(path))
        except (ssl.SSLError, OSError, ValueError) as err:
            problems.append(f"{where}: not a PEM CA certificate: {path} ({err})")
    return MqttTls(ca_cert=path, insecure=insecure)


def _build_mqtt(m: dict[str, Any], env: Any, resolve: Any, problems: list[str]) -> MqttConfig:
    host = m.get("host") or env.get(ENV_MQTT_HOST) or None
    from_env = "host" not in m and bool(host)
    enabled = m.get("enabled", host is not None)
    return MqttConfig(
        enabled=bool(enabled) and host is not None, host=host or "localhost",
        port=m.get("port") or _env_port(env) or 1883,
        username=m["username"] if "username" in m else (
            env.get(ENV_MQTT_USERNAME) or None if from_env else None),
        password_env=m.get("password_env") or (
            ENV_MQTT_PASSWORD if from_env and env.get(ENV_MQTT_PASSWORD) else None),
        topic_prefix=m["topic_prefix"].rstrip("/"), client_id=m["client_id"],
        tls=_build_tls("mqtt.tls_ca_cert", m.get("tls"), m.get("tls_ca_cert"),
                       m["tls_insecure"], from_env, env, resolve, problems))


def _build_frigate(idx: int, f: dict[str, Any], resolve: Any, env: Any,
                   problems: list[str]) -> FrigateConfig:
    where = f"frigate[{idx}]"
    if not f["frigate_url"] and not f.get("frigate_url_env"):
        problems.append(f"{where}.frigate_url: required (or name a variable in frigate_url_env)")
    elif not f["frigate_url"] and not env.get(f["frigate_url_env"], "").strip():
        problems.append(f"{where}.frigate_url_env: variable {f['frigate_url_env']} is not set "
                        "and frigate_url is empty")
    # The broker: as given, else the Supervisor's (environment), else localhost.
    host = f.get("mqtt_host") or env.get(ENV_MQTT_HOST) or "localhost"
    from_env = "mqtt_host" not in f and bool(env.get(ENV_MQTT_HOST))
    overrides: dict[str, FrigateCameraOverride] = {}
    for cam, o in f["camera_overrides"].items():
        a = o["alerts"]
        quiet = a.get("quiet_hours")
        overrides[cam] = FrigateCameraOverride(
            description=o["description"],
            alerts=AlertConfig(min_risk_level=a["min_risk_level"], always=tuple(a["always"]),
                               never=tuple(a["never"]),
                               quiet_hours=(quiet["start"], quiet["end"]) if quiet else None,
                               cooldown_minutes=a["cooldown"]))
        both = set(a["always"]) & set(a["never"])
        if both:
            problems.append(f"{where}.camera_overrides.{cam}.alerts.never: "
                            f"{sorted(both)[0]} is also in alerts.always")
    if not f["bypass_filter"]:
        for i, label in enumerate(f["labels"]):
            if label not in COCO_LABELS:
                problems.append(f"{where}.labels[{i}]: Vigil's detector does not know "
                                f"{label!r}, so bypass_filter: false cannot confirm it")
    cameras = tuple(f["cameras"]) if f.get("cameras") else None
    if cameras is not None:
        for cam in overrides:
            if cam not in cameras:
                problems.append(f"{where}.camera_overrides.{cam}: not in this server's cameras")
    output = f.get("output_dir")
    return FrigateConfig(
        name=f["name"], frigate_url=f["frigate_url"], frigate_url_env=f.get("frigate_url_env"),
        mqtt_host=host, mqtt_port=f.get("mqtt_port") or (_env_port(env) if from_env else None)
        or 1883,
        mqtt_username=f["mqtt_username"] if "mqtt_username" in f else (
            env.get(ENV_MQTT_USERNAME) or None if from_env else None),
        mqtt_password_env=f.get("mqtt_password_env") or (
            ENV_MQTT_PASSWORD if from_env and env.get(ENV_MQTT_PASSWORD) else None),
        mqtt_topic_prefix=f["mqtt_topic_prefix"].rstrip("/"),
        mqtt_client_id=f.get("mqtt_client_id") or f"vigil-frigate-{f['name']}",
        mqtt_tls=_build_tls(f"{where}.mqtt_tls_ca_cert", f.get("mqtt_tls"),
                            f.get("mqtt_tls_ca_cert"), f["mqtt_tls_insecure"], from_env, env,
                            resolve, problems),
        cameras=cameras, labels=tuple(dict.fromkeys(f["labels"])), min_score=f["min_score"],
        zones=tuple(f["zones"]) if f.get("zones") else None,
        min_duration_s=f["min_duration_s"],
        output_dir=resolve(output) if output else None, clip_format=f["clip_format"],
        retain_clips=f["retain_clips"], download_timeout_s=f["download_timeout_s"],
        bypass_filter=f["bypass_filter"], include_frigate_metadata=f["include_frigate_metadata"],
        reconnect_delay_s=f["reconnect_delay_s"],
        max_reconnect_attempts=f["max_reconnect_attempts"],
        write_back_description=f["write_back_description"], camera_overrides=overrides)


def _build_risk(r: dict[str, Any], problems: list[str]) -> RiskConfig:
    llms = {name: LLMConfig(**r[name]) for name in ("openai", "ollama")}
    provider = r["provider"]
    if provider != "rules" and not llms[provider].model:
        problems.append(f"risk.{provider}.model: required when risk.provider is {provider}")
    return RiskConfig(
        provider=provider, openai=llms["openai"], ollama=llms["ollama"],
        batch_window=r["batch_window"], max_concurrency=r["max_concurrency"],
        calls_per_day=r["budget"]["calls_per_day"], tokens_per_day=r["budget"]["tokens_per_day"],
        audit=r["audit"], max_attempts=r["retry"]["max_attempts"],
        retry_seconds=r["retry"]["seconds"], circuit_failures=r["circuit"]["failures"],
        circuit_cooldown=r["circuit"]["cooldown"],
    )


def _build_location(loc: dict[str, Any], problems: list[str]) -> LocationConfig:
    tz = loc.get("timezone")
    if tz is not None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"location.timezone: unknown time zone {tz!r}")
    if ("latitude" in loc) != ("longitude" in loc):
        problems.append("location.latitude: latitude and longitude go together")
    return LocationConfig(latitude=loc.get("latitude"), longitude=loc.get("longitude"),
                          timezone=tz, night_start=loc["night"]["start"],
                          night_end=loc["night"]["end"])


def _check_polygons(
    where: str, polys: tuple[Polygon, ...], width: int, height: int, problems: list[str]
) -> None:
    for pi, poly in enumerate(polys):
        for idx, (x, y) in enumerate(poly):
            if not (0 <= x <= width and 0 <= y <= height):
                suffix = f"[{pi}][{idx}]" if len(polys) > 1 else f"[{idx}]"
                problems.append(
                    f"{where}{suffix}: point ({x:g}, {y:g}) is outside the "
                    f"{width}x{height} detect frame"
                )


def _build_camera(
    name: str, cam: dict[str, Any], default_events: dict[str, Any], base: Path,
    problems: list[str],
) -> CameraConfig:
    where = f"cameras.{name}"
    inputs = []
    for idx, inp in enumerate(cam["inputs"]):
        url = inp["url"]
        if "://" not in url:
            path = Path(url).expanduser()
            path = path if path.is_absolute() else (base / path).resolve()
            if not path.is_file():
                problems.append(f"{where}.inputs[{idx}].url: file not found: {path}")
            url = str(path)
        elif not re.match(r"^(rtsp|rtsps|rtmp|http|https|udp|tcp|srt)://", url):
            problems.append(
                f"{where}.inputs[{idx}].url: unsupported scheme (use rtsp://, http(s)://, ...)"
            )
        inputs.append(
            InputConfig(url=url, roles=tuple(inp["roles"]), loop=inp["loop"],
                        transport=inp["transport"])
        )
    if not any("detect" in i.roles for i in inputs):
        problems.append(f"{where}.inputs: no input has the 'detect' role")
    for role in ROLES:
        count = sum(role in i.roles for i in inputs)
        if count > 1:
            problems.append(f"{where}.inputs: {count} inputs have the '{role}' role (max one)")

    d = cam["detect"]
    detect = DetectConfig(**d)
    w, h = detect.width, detect.height

    o = cam["objects"]
    filters: dict[str, ObjectFilter] = {}
    for label, f in o["filters"].items():
        if label not in o["track"]:
            problems.append(
                f"{where}.objects.filters.{label}: label is not in objects.track"
            )
        mask = f.pop("mask", ())
        _check_polygons(f"{where}.objects.filters.{label}.mask", mask, w, h, problems)
        if f["min_area"] >= f["max_area"]:
            problems.append(f"{where}.objects.filters.{label}.min_area: must be below max_area")
        filters[label] = ObjectFilter(mask=mask, **f)
    objects = ObjectsConfig(track=tuple(dict.fromkeys(o["track"])), filters=filters,
                            ignore_still_from_start=tuple(o["ignore_still_from_start"]))

    m = cam["motion"]
    motion_mask = m.get("mask", ())
    _check_polygons(f"{where}.motion.mask", motion_mask, w, h, problems)
    motion = MotionConfig(threshold=m["threshold"], min_area=m["min_area"], mask=motion_mask)

    zones: dict[str, ZoneConfig] = {}
    for zname, z in cam["zones"].items():
        _check_polygons(f"{where}.zones.{zname}.coordinates", (z["coordinates"],), w, h, problems)
        for idx, label in enumerate(z["objects"]):
            if label not in objects.track:
                problems.append(
                    f"{where}.zones.{zname}.objects[{idx}]: '{label}' is not in objects.track"
                )
        zones[zname] = ZoneConfig(
            name=zname, coordinates=z["coordinates"], objects=tuple(z["objects"]),
            loitering_time=z["loitering_time"], description=z["description"],
            sensitivity=z["sensitivity"],
        )

    ev = {**EventsConfig().__dict__, **default_events, **cam["events"]}
    events = EventsConfig(idle_timeout=ev["idle_timeout"], max_length=ev["max_length"])
    if events.max_length < events.idle_timeout:
        problems.append(f"{where}.events.max_length: must be at least idle_timeout")

    r = cam["record"]
    ev_retain = r["events"]["retain"]
    record = RecordConfig(
        enabled=r["enabled"], mode=r["mode"], segment_seconds=r["segment_seconds"],
        pre_capture=r["pre_capture"], post_capture=r["post_capture"],
        retain_days=r["retain"].get("days", RecordConfig.retain_days),
        event_retain_days=ev_retain.get("days", RecordConfig.event_retain_days),
        risk_retain_days=dict(ev_retain["risk"]),
    )
    if record.enabled and not any("record" in i.roles for i in inputs):
        problems.append(f"{where}.record.enabled: no input has the 'record' role")

    a = cam["alerts"]
    quiet = a.get("quiet_hours")
    alerts = AlertConfig(
        min_risk_level=a["min_risk_level"], always=tuple(a["always"]), never=tuple(a["never"]),
        quiet_hours=(quiet["start"], quiet["end"]) if quiet else None,
        cooldown_minutes=a["cooldown"],
    )
    both = set(alerts.always) & set(alerts.never)
    if both:
        problems.append(f"{where}.alerts.never: {sorted(both)[0]} is also in alerts.always")

    return CameraConfig(
        name=name, inputs=tuple(inputs), detect=detect, objects=objects, motion=motion,
        zones=zones, events=events, record=record, enabled=cam["enabled"],
        description=cam["description"], alerts=alerts,
    )


def load_config(path: Path, *, data_dir: Path | None = None) -> Config:
    """Read and validate a YAML file; every failure is a ConfigError."""
    return parse_config(read_document(path), source=path.resolve(), data_dir=data_dir)


def read_document(path: Path) -> Any:
    """The parsed YAML of a configuration file, not yet validated."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError([f"{path}: cannot read config file ({err.strerror})"]) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(err, "problem", None) or str(err)
        raise ConfigError([f"{path}: invalid YAML{where}: {reason}"]) from None
