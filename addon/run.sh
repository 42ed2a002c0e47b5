#!/usr/bin/env bash
# Start the engine inside Home Assistant. tini is PID 1: it forwards `docker
# stop`'s SIGTERM to the engine (this script execs it) and reaps orphans.
#   /data/options.json   the app's options (LLM, Frigate URL, log level)
#   /config/<file>.yaml  cameras, zones, policies (commented example on first start)
# The Supervisor's MQTT service (services: mqtt:want) reaches the engine as
# VIGIL_MQTT_HOST/PORT/USERNAME/PASSWORD/SSL; the integration is told where the
# engine is through the Supervisor's discovery API, with retries.
set -euo pipefail

SUPERVISOR=http://supervisor
OPTIONS=/data/options.json
PORT=8765

log() { echo "[vigil] $*" >&2; }

[ -f "$OPTIONS" ] || echo '{}' > "$OPTIONS"
# Bad options are reported by the engine itself, with their field names.
config_file="$(jq -r '.config_file // "vigil.yaml"' "$OPTIONS" 2>/dev/null || echo vigil.yaml)"
log_level="$(jq -r '.log_level // "info"' "$OPTIONS" 2>/dev/null || echo info)"
case "$log_level" in debug|info|warning|error) ;; *) log_level=info ;; esac

supervisor_get() {
    # supervisor_get PATH: the response's data object (exit 1 on any failure).
    curl -sS --fail --connect-timeout 5 --max-time 10 \
        -H "Authorization: Bearer ${SUPERVISOR_TOKEN}" "$SUPERVISOR$1" | jq -e '.data'
}

mqtt_from_supervisor() {
    local info
    if ! info="$(supervisor_get /services/mqtt 2>/dev/null)"; then
        log "no MQTT service from the Supervisor (install the Mosquitto broker app for the Frigate bridge, or set mqtt_host in the YAML)"
        return 0
    fi
    VIGIL_MQTT_HOST="$(jq -r '.host // empty' <<<"$info")"
    VIGIL_MQTT_PORT="$(jq -r '.port // 1883' <<<"$info")"
    VIGIL_MQTT_USERNAME="$(jq -r '.username // empty' <<<"$info")"
    VIGIL_MQTT_PASSWORD="$(jq -r '.password // empty' <<<"$info")"
    VIGIL_MQTT_SSL="$(jq -r '.ssl // false' <<<"$info")"
    export VIGIL_MQTT_HOST VIGIL_MQTT_PORT VIGIL_MQTT_USERNAME VIGIL_MQTT_PASSWORD VIGIL_MQTT_SSL
    log "MQTT broker from the Supervisor: ${VIGIL_MQTT_HOST}:${VIGIL_MQTT_PORT}" \
        "(user ${VIGIL_MQTT_USERNAME:-none})$([ "$VIGIL_MQTT_SSL" = true ] && echo ', over TLS')"
}

announce() {
    # Wait for the engine's API, then tell Home Assistant host, port and token.
    local token="" host tries=0 delay=2 code reason
    host="$(hostname)"
    for _ in $(seq 1 150); do
        if [ -s /data/token ]; then
            token="$(head -n1 /data/token)"
            curl -sf --max-time 5 -H "Authorization: Bearer $token" \
                "http://127.0.0.1:$PORT/api/health" >/dev/null && break
        fi
        token=""
        sleep 2
    done
    if [ -z "$token" ]; then
        log "the engine's API did not come up within 5 minutes: not announced to Home Assistant"
        return 0
    fi
    local body
    body="$(jq -cn --arg host "$host" --argjson port "$PORT" --arg token "$token" \
        '{service: "vigil", config: {host: $host, port: $port, token: $token}}')"
    while [ "$tries" -lt 8 ]; do
        tries=$((tries + 1))
        code="$(curl -sS -o /tmp/discovery.json -w '%{http_code}' --connect-timeout 5 \
            --max-time 15 -X POST "$SUPERVISOR/discovery" \
            -H "Authorization: Bearer ${SUPERVISOR_TOKEN}" \
            -H "Content-Type: application/json" -d "$body" 2>/tmp/discovery.err)" || true
        if [ "$code" = 200 ] && jq -e '.result == "ok"' /tmp/discovery.json >/dev/null 2>&1; then
            log "announced to Home Assistant as $host:$PORT (discovery $(jq -r '.data.uuid // "?"' /tmp/discovery.json))"
            return 0
        fi
        reason="HTTP ${code:-none}"
        [ -s /tmp/discovery.err ] && reason="$reason, $(head -c 200 /tmp/discovery.err)"
        log "announcing to Home Assistant failed (attempt $tries/8: $reason); retrying in ${delay}s"
        sleep "$delay"
        delay=$((delay * 2 > 60 ? 60 : delay * 2))
    done
    log "gave up announcing: add the Vigil integration by hand (host $host, port $PORT)"
}

if [ -n "${SUPERVISOR_TOKEN:-}" ]; then
    mqtt_from_supervisor
    # Detached (double fork): the orphan is reaped by tini, not left to the engine.
    ( announce & )
else
    log "no SUPERVISOR_TOKEN: not running under the Supervisor, nothing announced"
fi

exec python -m vigil_engine --config "/config/$config_file" --app-options "$OPTIONS" \
    --data /data --host 0.0.0.0 --port "$PORT" --ingress --log-level "$log_level"
