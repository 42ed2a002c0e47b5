"""``GET /metrics`` in Prometheus text format."""

from __future__ import annotations

import sqlite3
from typing import Any

from aiohttp import web

from .common import ENGINE_KEY


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class _Out:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def metric(self, name: str, kind: str, help_: str,
               samples: list[tuple[dict[str, str], float]]) -> None:
        self.lines.append(f"# HELP {name} {help_}")
        self.lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            lbl = ",".join(f'{k}="{_esc(v)}"' for k, v in labels.items())
            self.lines.append(f"{name}{{{lbl}}} {value:g}" if lbl else f"{name} {value:g}")


def _event_counts(c: sqlite3.Connection) -> list[tuple[str, str, str, int]]:
    rows = c.execute(
        "SELECT camera, j.value, COALESCE(json_extract(risk, '$.risk_level'), 'none'), COUNT(*) "
        "FROM events, json_each(events.labels) AS j GROUP BY 1, 2, 3").fetchall()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


async def metrics(request: web.Request) -> web.Response:
    engine = request.app[ENGINE_KEY]
    out = _Out()
    out.metric("vigil_up", "gauge", "The engine is running.", [({}, 1)])
    st = engine.pool.stats
    out.metric("vigil_inference_ms", "gauge", "Moving average of one inference.",
               [({}, round(st.inference_ms, 3))])
    out.metric("vigil_inferences_total", "counter", "Model invocations.", [({}, st.inferences)])
    out.metric("vigil_detector_queue", "gauge", "Detection jobs waiting.",
               [({}, engine.pool.queue_depth)])
    cams: dict[str, Any] = {name: p.status() for name, p in engine.pipelines.items()}
    per = [("vigil_camera_online", "gauge", "Camera delivers frames.",
            lambda s: int(s["status"] == "online")),
           ("vigil_camera_fps", "gauge", "Decoded frames per second.", lambda s: s["fps"]),
           ("vigil_camera_detect_fps", "gauge", "Detection runs per second.",
            lambda s: s["detect_fps"]),
           ("vigil_camera_motion_percent", "gauge", "Share of recent frames with motion.",
            lambda s: s["motion"]["percent"]),
           ("vigil_camera_dropped_frames_total", "counter", "Frames dropped when behind.",
            lambda s: s["stats"]["dropped"]),
           ("vigil_camera_process_ms", "gauge", "Time to process one frame.",
            lambda s: s["stats"]["process_ms"]),
           ("vigil_camera_snapshot_frames_held", "gauge",
            "Decoded frames held for snapshots not yet written.",
            lambda s: s["stats"]["snapshot_frames_held"])]
    for name, kind, help_, get in per:
        out.metric(name, kind, help_, [({"camera": c}, float(get(s))) for c, s in cams.items()])
    counts = await engine.store.read(_event_counts)
    out.metric("vigil_events_total", "counter", "Events by camera, label and risk level.",
               [({"camera": c, "label": lab, "risk_level": lvl}, n)
                for c, lab, lvl, n in counts])
    rs = engine.risk.stats
    jobs = await engine.risk.jobs.counts()
    out.metric("vigil_llm_calls_total", "counter", "LLM requests answered.", [({}, rs.llm_calls)])
    out.metric("vigil_llm_errors_total", "counter", "LLM requests that failed.",
               [({}, rs.llm_errors)])
    out.metric("vigil_llm_invalid_total", "counter", "LLM answers that broke the schema.",
               [({}, rs.llm_invalid)])
    out.metric("vigil_llm_latency_ms", "gauge", "Moving average of LLM latency.",
               [({}, round(rs.llm_latency_ms, 1))])
    out.metric("vigil_risk_fallbacks_total", "counter", "Rules assessments stored for an LLM.",
               [({}, rs.fallbacks)])
    out.metric("vigil_risk_jobs", "gauge", "Scoring jobs by status.",
               [({"status": k}, v) for k, v in sorted(jobs.items())])
    usage = await engine.recording_index.usage()
    out.metric("vigil_storage_bytes", "gauge", "Recorded footage on disk.",
               [({"camera": c}, u["bytes"]) for c, u in usage.items()])
    out.metric("vigil_ws_clients", "gauge", "Connected WebSocket clients.",
               [({}, len(engine.ws_clients))])
    _frigate_metrics(out, engine)
    return web.Response(text="\n".join(out.lines) + "\n", content_type="text/plain",
                        charset="utf-8", headers={"X-Content-Type-Options": "nosniff"})


def _frigate_metrics(out: _Out, engine: Any) -> None:
    bridges = engine.frigate
    if not bridges:
        return
    out.metric("vigil_frigate_mqtt_connected", "gauge", "Listening to the Frigate broker.",
               [({"server": n}, int(b.mqtt_connected)) for n, b in bridges.items()])
    out.metric("vigil_frigate_reachable", "gauge", "Frigate's HTTP API answers.",
               [({"server": n}, int(b.http.reachable)) for n, b in bridges.items()])
    out.metric("vigil_frigate_messages_total", "counter", "MQTT messages received.",
               [({"server": n}, b.stats.messages) for n, b in bridges.items()])
    out.metric("vigil_frigate_events_total", "counter", "Vigil events opened from Frigate.",
               [({"server": n}, b.stats.events_opened) for n, b in bridges.items()])
    out.metric("vigil_frigate_bad_messages_total", "counter",
               "Messages refused (reason: too_large, not_json, not_object, unknown_type, "
               "missing_after, missing_field, wrong_type, failed).",
               [({"server": n, "reason": r}, c) for n, b in bridges.items()
                for r, c in sorted(b.stats.bad.items())])
    out.metric("vigil_frigate_filtered_total", "counter", "Objects the filters left out.",
               [({"server": n, "filter": r}, c) for n, b in bridges.items()
                for r, c in sorted(b.stats.filtered.items())])
    out.metric("vigil_frigate_duplicates_total", "counter", "Repeated end messages ignored.",
               [({"server": n}, b.stats.duplicates) for n, b in bridges.items()])
    out.metric("vigil_frigate_clips_total", "counter", "Clips downloaded from Frigate.",
               [({"server": n}, b.stats.clips) for n, b in bridges.items()])
    out.metric("vigil_frigate_clip_failures_total", "counter",
               "Clip downloads that failed and were queued for retry.",
               [({"server": n}, b.stats.clip_failures) for n, b in bridges.items()])
