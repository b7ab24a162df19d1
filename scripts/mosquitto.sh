#!/usr/bin/env bash
# A throw-away Mosquitto MQTT broker for ioc-monitor's tests (the bridge's integration tests).
#
#   scripts/mosquitto.sh start    write a config, start mosquitto on 127.0.0.1 in the background
#   scripts/mosquitto.sh stop     stop it (SIGTERM, then SIGKILL) and delete its files
#   scripts/mosquitto.sh url      print the broker's address (mqtt://127.0.0.1:PORT)
#
# Anonymous clients, persistence on (sessions and queued QoS 1 messages survive a restart),
# no limit on the messages queued for an offline persistent session (Mosquitto's default of
# 1000 would drop the rest while a bridge is down) and 1000 in flight per client.
#
# Environment (all optional):
#   MQTT_PORT        port on 127.0.0.1 (default 11883)
#   MQTT_STATE_DIR   config, log, pid and persistence (default /tmp/ioc-mosquitto-$MQTT_PORT)
set -euo pipefail

MQTT_PORT="${MQTT_PORT:-11883}"
MQTT_STATE_DIR="${MQTT_STATE_DIR:-/tmp/ioc-mosquitto-${MQTT_PORT}}"

say() { echo "mosquitto.sh: $*"; }
die() { echo "mosquitto.sh: error: $*" >&2; exit 1; }

url() { echo "mqtt://127.0.0.1:${MQTT_PORT}"; }

start() {
    local bin
    bin="$(command -v mosquitto || ls /usr/sbin/mosquitto 2>/dev/null || true)"
    [[ -n "${bin}" ]] || die "mosquitto not found (apt-get install mosquitto)"
    rm -rf "${MQTT_STATE_DIR}"
    mkdir -p "${MQTT_STATE_DIR}"
    cat > "${MQTT_STATE_DIR}/mosquitto.conf" <<CONF
user $(id -un)
listener ${MQTT_PORT} 127.0.0.1
allow_anonymous true
persistence true
persistence_location ${MQTT_STATE_DIR}/
max_queued_messages 0
max_inflight_messages 1000
log_dest file ${MQTT_STATE_DIR}/mosquitto.log
CONF
    "${bin}" -c "${MQTT_STATE_DIR}/mosquitto.conf" >/dev/null 2>&1 &
    echo $! > "${MQTT_STATE_DIR}/mosquitto.pid"
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/${MQTT_PORT}") 2>/dev/null; then
            say "Mosquitto $("${bin}" -h 2>/dev/null | head -1 | awk '{print $3}') on 127.0.0.1:${MQTT_PORT} (state ${MQTT_STATE_DIR})"
            return
        fi
        kill -0 "$(cat "${MQTT_STATE_DIR}/mosquitto.pid")" 2>/dev/null || break
        sleep 0.1
    done
    cat "${MQTT_STATE_DIR}/mosquitto.log" >&2 2>/dev/null || true
    die "mosquitto did not start on port ${MQTT_PORT}"
}

stop() {
    local pid
    if [[ -f "${MQTT_STATE_DIR}/mosquitto.pid" ]]; then
        pid="$(cat "${MQTT_STATE_DIR}/mosquitto.pid")"
        kill "${pid}" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "${pid}" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "${pid}" 2>/dev/null || true
    fi
    rm -rf "${MQTT_STATE_DIR}"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    url) url ;;
    *) die "usage: scripts/mosquitto.sh start|stop|url" ;;
esac
