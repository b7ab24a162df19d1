#!/usr/bin/env bash
# The test command of ioc-monitor: installs what the suite needs, starts Apache Kafka, runs
# ruff, mypy and pytest, stops Kafka. Extra arguments go to pytest:
#
#   scripts/test.sh                      everything
#   scripts/test.sh -k broker -x         a subset
#   IOC_TEST_BROKER=embedded scripts/test.sh    the suite on the embedded broker instead
#
# Environment: KAFKA_VERSION (3.9.1 default, or 4.1.1), IOC_TEST_LINT=0 skips ruff and mypy,
# PYTHON picks the interpreter that creates .venv (default python3.11, else python3).
# Exit status: pytest's, or 1 when pytest passed but ruff or mypy found errors.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"
VENV="${ROOT}/.venv"
BROKER="${IOC_TEST_BROKER:-kafka}"

say() { echo "test.sh: $*"; }
die() { echo "test.sh: error: $*" >&2; exit 1; }

case "${BROKER}" in
    kafka|embedded) ;;
    *) die "IOC_TEST_BROKER must be 'kafka' or 'embedded', got '${BROKER}'" ;;
esac

# --- Python environment ------------------------------------------------------------------------
if [[ ! -x "${VENV}/bin/python" ]]; then
    py="${PYTHON:-}"
    if [[ -z "${py}" ]]; then
        py="$(command -v python3.11 || command -v python3 || true)"
    fi
    [[ -n "${py}" ]] || die "no python3 found to create ${VENV}"
    say "creating ${VENV} with $("${py}" --version 2>&1)"
    "${py}" -m venv "${VENV}"
fi
# Reinstall only when the project's dependency declaration changed since the last install.
stamp="${VENV}/.ioc-installed-dev"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [[ ! -f "${stamp}" || "$(cat "${stamp}")" != "${want}" ]]; then
    say "installing ioc-monitor with its dev extra into ${VENV}"
    "${VENV}/bin/python" -m pip install -q --disable-pip-version-check -e '.[dev]'
    echo "${want}" > "${stamp}"
fi

# --- system packages: headless Chromium (browser tests) and Prometheus (rule/scrape tests) --------
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v prometheus >/dev/null || missing+=(prometheus)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v mosquitto >/dev/null || [[ -x /usr/sbin/mosquitto ]] || missing+=(mosquitto)
if (( ${#missing[@]} )); then
    if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null; then
        say "warning: ${missing[*]} missing and cannot apt-get install as non-root; tests that need them will skip"
    else
        say "installing ${missing[*]} with apt-get"
        export DEBIAN_FRONTEND=noninteractive
        apt_install() { apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; }
        if ! apt_install; then
            apt-get update -q >/dev/null
            apt_install || die "apt-get could not install ${missing[*]}"
        fi
    fi
fi

# --- lint and types: ruff and mypy run while the services start (their output is shown after) --
lint_pid=""
lint_log=""
if [[ "${IOC_TEST_LINT:-1}" != 0 ]]; then
    lint_log="$(mktemp)"
    (
        status=0
        echo "test.sh: ruff check"
        "${VENV}/bin/ruff" check . || status=1
        echo "test.sh: mypy"
        "${VENV}/bin/mypy" || status=1
        exit "${status}"
    ) > "${lint_log}" 2>&1 &
    lint_pid=$!
fi

# --- the broker and the database ----------------------------------------------------------------
state=""
pg_state=""
mqtt_state=""
stop_services() {
    if [[ -n "${lint_pid}" ]]; then kill "${lint_pid}" 2>/dev/null || true; fi
    if [[ -n "${mqtt_state}" ]]; then
        mkdir -p "${ROOT}/test-artifacts"
        cp "${mqtt_state}/mosquitto.log" "${ROOT}/test-artifacts/mosquitto.log" 2>/dev/null || true
        MQTT_STATE_DIR="${mqtt_state}" MQTT_PORT="${MQTT_PORT}" "${ROOT}/scripts/mosquitto.sh" stop || true
        mqtt_state=""
    fi
    if [[ -n "${pg_state}" ]]; then
        mkdir -p "${ROOT}/test-artifacts"
        cp "${pg_state}/postgres.log" "${ROOT}/test-artifacts/postgres.log" 2>/dev/null || true
        PG_STATE_DIR="${pg_state}" PG_PORT="${PG_PORT}" "${ROOT}/scripts/postgres.sh" stop || true
        pg_state=""
    fi
    stop_kafka
}
stop_kafka() {
    if [[ -n "${state}" ]]; then
        KAFKA_STATE_DIR="${state}" KAFKA_PORT="${KAFKA_PORT}" "${ROOT}/scripts/kafka.sh" stop \
            >/dev/null || true
        mkdir -p "${ROOT}/test-artifacts"
        cp "${state}/kafka.log" "${ROOT}/test-artifacts/kafka.log" 2>/dev/null || true
        rm -rf "${state}"
        state=""
    fi
}
trap stop_services EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ "${BROKER}" == kafka ]]; then
    "${ROOT}/scripts/kafka.sh" fetch
    read -r KAFKA_PORT KAFKA_CONTROLLER_PORT < <("${VENV}/bin/python" - <<'EOF'
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
EOF
)
    export KAFKA_PORT KAFKA_CONTROLLER_PORT
    state="$(mktemp -d /tmp/ioc-test-kafka.XXXXXX)"
    KAFKA_STATE_DIR="${state}" "${ROOT}/scripts/kafka.sh" start
    export IOC_TEST_BOOTSTRAP="127.0.0.1:${KAFKA_PORT}"
    say "Apache Kafka ${KAFKA_VERSION:-3.9.1} at ${IOC_TEST_BOOTSTRAP}"
else
    unset IOC_TEST_BOOTSTRAP
    say "embedded broker (started by the test session)"
fi
export IOC_TEST_BROKER="${BROKER}"

# PostgreSQL: the archive's tests run on it and on SQLite
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    PG_PORT="$("${VENV}/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    export PG_PORT
    pg_state="$(mktemp -d /tmp/ioc-test-postgres.XXXXXX)"
    PG_STATE_DIR="${pg_state}" "${ROOT}/scripts/postgres.sh" start
    IOC_TEST_DATABASE_URL="$(PG_STATE_DIR="${pg_state}" "${ROOT}/scripts/postgres.sh" url)"
    export IOC_TEST_DATABASE_URL
    export IOC_TEST_PG_STATE_DIR="${pg_state}"   # the outage test halts and resumes it
else
    say "warning: no PostgreSQL server; the archive's PostgreSQL tests will skip"
fi

# Mosquitto: the MQTT bridge's tests (ingest) run on it
if command -v mosquitto >/dev/null || [[ -x /usr/sbin/mosquitto ]]; then
    MQTT_PORT="$("${VENV}/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    export MQTT_PORT
    mqtt_state="$(mktemp -d /tmp/ioc-test-mosquitto.XXXXXX)"
    MQTT_STATE_DIR="${mqtt_state}" "${ROOT}/scripts/mosquitto.sh" start
    export IOC_TEST_MQTT_URL="mqtt://127.0.0.1:${MQTT_PORT}"
    export IOC_TEST_MQTT_STATE_DIR="${mqtt_state}"
else
    say "warning: no Mosquitto; the MQTT bridge's tests will skip"
fi

# --- lint and types (started above, beside the services' start-up), then the tests -------------
lint_status=0
if [[ -n "${lint_pid}" ]]; then
    wait "${lint_pid}" || lint_status=1
    cat "${lint_log}"
    rm -f "${lint_log}"
fi

# The tests that start no service (no broker, browser or Prometheus) and are quick run on
# every core (pytest-xdist); then the rest one at a time, as before: the services they start
# would compete for a small machine. Arguments with their own -m or -n run as given, serially.
PURE="not kafka and not browser and not prometheus and not slow and not soak"
own_split=0
for a in "$@"; do
    case "${a}" in -m|-m*|-n|-n*|--numprocesses*) own_split=1 ;; esac
done
set +e
if (( own_split )); then
    say "pytest $*"
    "${VENV}/bin/pytest" "$@"
    status=$?
else
    cores="$(nproc 2>/dev/null || echo 2)"
    say "pytest (pure tests on ${cores} cores) $*"
    "${VENV}/bin/pytest" -n "${cores}" -m "${PURE}" "$@"
    pure_status=$?
    say "pytest (tests with services, serially) $*"
    "${VENV}/bin/pytest" -m "not (${PURE}) and not soak" "$@"
    status=$?
    # 5: a phase collected nothing (a subset given as arguments), fine if the other ran
    if (( status == 5 && pure_status != 5 )); then
        status=${pure_status}
    elif (( pure_status != 0 && pure_status != 5 )); then
        status=${pure_status}
    fi
fi
set -e

if (( status == 0 && lint_status != 0 )); then
    say "pytest passed, but ruff or mypy reported errors (see above)"
    status=1
fi
exit "${status}"
