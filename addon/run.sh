#!/usr/bin/env bash
# Start the engine inside Home Assistant: options from /data/options.json, the
# camera configuration from the app's config folder, ingress trusted, and the
# integration told where to find the engine (Supervisor discovery).
set -euo pipefail

OPTIONS=/data/options.json
CONFIG_DIR=/config
config_file="$(jq -r '.config_file // "vigil.yaml"' "$OPTIONS")"
log_level="$(jq -r '.log_level // "info"' "$OPTIONS")"
llm_key="$(jq -r '.llm_api_key // empty' "$OPTIONS")"
config_path="$CONFIG_DIR/$config_file"

if [ ! -f "$config_path" ]; then
    echo "[vigil] $config_path does not exist yet: writing an example to edit" >&2
    cat > "$config_path" <<'YAML'
# Vigil configuration: see the app's Documentation tab.
cameras:
  front_door:
    inputs:
      - {url: "rtsp://user:password@192.0.2.10:554/stream2", roles: [detect]}
      - {url: "rtsp://user:password@192.0.2.10:554/stream1", roles: [record]}
    detect: {fps: 5, width: 640, height: 360}
    record: {enabled: true}
YAML
fi

if [ -n "$llm_key" ]; then
    export VIGIL_LLM_API_KEY="$llm_key"  # reference it with risk.openai.api_key_env
fi

# The token is generated once into /data/token by the engine; make sure it
# exists before announcing the engine to Home Assistant.
python -m vigil_engine --config "$config_path" --data /data --check >/dev/null
python - <<'PY'
from pathlib import Path
from vigil_engine.api.auth import load_or_create_token
load_or_create_token(Path("/data"), None)
PY
token="$(cat /data/token)"

announce() {
    local host
    host="$(hostname)"
    for _ in $(seq 1 30); do
        if curl -sf "http://127.0.0.1:8765/api/health" -H "Authorization: Bearer $token" \
            >/dev/null; then
            curl -sf -X POST "http://supervisor/discovery" \
                -H "Authorization: Bearer ${SUPERVISOR_TOKEN}" \
                -H "Content-Type: application/json" \
                -d "$(jq -n --arg host "$host" --arg token "$token" \
                    '{service: "vigil", config: {host: $host, port: 8765, token: $token}}')" \
                >/dev/null && echo "[vigil] announced to Home Assistant" >&2
            return 0
        fi
        sleep 2
    done
    echo "[vigil] engine did not come up; not announced" >&2
}
announce &

exec python -m vigil_engine --config "$config_path" --data /data --host 0.0.0.0 \
    --port 8765 --ingress --log-level "$log_level"
