#!/usr/bin/env bash
# Single-node Apache Kafka (KRaft, broker+controller) for ioc-monitor's tests.
#
#   scripts/kafka.sh fetch    download the broker jars once (Maven), into a cache outside git
#   scripts/kafka.sh start    fetch if needed, format fresh storage, start, wait until ready
#   scripts/kafka.sh stop     stop the broker started by `start` and wait for it to exit
#   scripts/kafka.sh status   "running ..." (exit 0) or "not running" (exit 3)
#
# Environment (all optional):
#   KAFKA_VERSION          3.9.1 (default) or 4.1.1
#   KAFKA_PORT             client port on 127.0.0.1 (default 19092)
#   KAFKA_CONTROLLER_PORT  KRaft controller port (default 19093)
#   KAFKA_STATE_DIR        config, data, log and pid file (default /tmp/ioc-kafka-$KAFKA_PORT)
#   KAFKA_CACHE_DIR        jar cache root (default ~/.cache/ioc-monitor); jars go to
#                          $KAFKA_CACHE_DIR/kafka-$KAFKA_VERSION/libs
#   KAFKA_START_TIMEOUT    seconds to wait for readiness (default 120)
#   JAVA, MVN              the java and mvn commands (default: from PATH)
set -euo pipefail

KAFKA_VERSION="${KAFKA_VERSION:-3.9.1}"
KAFKA_PORT="${KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19093}"
KAFKA_STATE_DIR="${KAFKA_STATE_DIR:-/tmp/ioc-kafka-${KAFKA_PORT}}"
KAFKA_CACHE_DIR="${KAFKA_CACHE_DIR:-${HOME}/.cache/ioc-monitor}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-120}"
JAVA="${JAVA:-java}"
MVN="${MVN:-mvn}"

LIBS="${KAFKA_CACHE_DIR}/kafka-${KAFKA_VERSION}/libs"
PID_FILE="${KAFKA_STATE_DIR}/kafka.pid"
LOG_FILE="${KAFKA_STATE_DIR}/kafka.log"
DATA_DIR="${KAFKA_STATE_DIR}/data"
PROPS="${KAFKA_STATE_DIR}/server.properties"

say() { echo "kafka.sh: $*"; }
die() { echo "kafka.sh: error: $*" >&2; exit 1; }

major() { echo "${KAFKA_VERSION%%.*}"; }

# The logging backend the broker's POM leaves out (see shared/KAFKA.md).
logging_dependencies() {
    if [[ "$(major)" -ge 4 ]]; then
        local v="${KAFKA_LOG4J2_VERSION:-2.24.3}"
        for a in log4j-api log4j-core log4j-slf4j-impl; do
            echo "org.apache.logging.log4j:${a}:${v}"
        done
    else
        echo "org.slf4j:slf4j-reload4j:1.7.36"
        echo "ch.qos.reload4j:reload4j:1.2.25"
    fi
}

write_pom() {
    local dir="$1" deps="" g a v
    while IFS=: read -r g a v; do
        deps+="    <dependency><groupId>${g}</groupId><artifactId>${a}</artifactId><version>${v}</version></dependency>
"
    done < <(echo "org.apache.kafka:kafka_2.13:${KAFKA_VERSION}"; logging_dependencies)
    cat > "${dir}/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>ioc-monitor</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>${KAFKA_VERSION}</version>
  <packaging>pom</packaging>
  <dependencies>
${deps}  </dependencies>
</project>
EOF
}

fetched() { [[ -f "${LIBS}/.complete" ]]; }

cmd_fetch() {
    if fetched; then
        return 0
    fi
    command -v "${MVN}" >/dev/null || die "maven ('${MVN}') is needed to fetch Kafka ${KAFKA_VERSION} jars"
    mkdir -p "$(dirname "${LIBS}")"
    # One fetch at a time per version; a second caller waits and then finds the cache.
    exec 9>"$(dirname "${LIBS}")/.fetch.lock"
    if command -v flock >/dev/null; then
        flock -w 900 9 || die "timed out waiting for another fetch of Kafka ${KAFKA_VERSION}"
    fi
    if fetched; then
        return 0
    fi
    say "fetching Kafka ${KAFKA_VERSION} jars into ${LIBS}"
    local work
    work="$(mktemp -d)"
    write_pom "${work}"
    rm -rf "${LIBS}.partial"
    if ! (cd "${work}" && "${MVN}" -B -q -Dstyle.color=never \
            org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
            -DincludeScope=runtime -DoutputDirectory="${LIBS}.partial"); then
        rm -rf "${work}" "${LIBS}.partial"
        die "maven could not fetch Kafka ${KAFKA_VERSION}"
    fi
    rm -rf "${work}"
    ls "${LIBS}.partial"/kafka_2.13-*.jar >/dev/null 2>&1 \
        || die "the fetch of Kafka ${KAFKA_VERSION} produced no kafka_2.13 jar"
    touch "${LIBS}.partial/.complete"
    rm -rf "${LIBS}"
    mv "${LIBS}.partial" "${LIBS}"
    say "fetched $(ls "${LIBS}" | wc -l) jars"
}

running_pid() {
    [[ -f "${PID_FILE}" ]] || return 1
    local pid
    pid="$(cat "${PID_FILE}")"
    [[ -n "${pid}" ]] && kill -0 "${pid}" 2>/dev/null || return 1
    echo "${pid}"
}

port_in_use() {
    # bash's /dev/tcp: a successful connect means something listens there.
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

cluster_id() {
    # 16 random bytes, URL-safe base64; passed as --cluster-id=ID since one in 64 starts
    # with '-', which the tool's argument parser would take for an option
    head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'
}

write_config() {
    cat > "${PROPS}" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${KAFKA_CONTROLLER_PORT}
listeners=PLAINTEXT://127.0.0.1:${KAFKA_PORT},CONTROLLER://127.0.0.1:${KAFKA_CONTROLLER_PORT}
advertised.listeners=PLAINTEXT://127.0.0.1:${KAFKA_PORT}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=${DATA_DIR}
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
EOF
    if [[ "$(major)" -ge 4 ]]; then
        cat >> "${PROPS}" <<EOF
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
EOF
        cat > "${KAFKA_STATE_DIR}/log4j2.properties" <<EOF
status = warn
shutdownHook = disable
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = warn
logger.state.name = state.change.logger
logger.state.level = warn
EOF
    else
        cat > "${KAFKA_STATE_DIR}/log4j.properties" <<EOF
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
EOF
    fi
}

java_args() {
    local logging
    if [[ "$(major)" -ge 4 ]]; then
        logging="-Dlog4j2.configurationFile=${KAFKA_STATE_DIR}/log4j2.properties"
    else
        logging="-Dlog4j.configuration=file:${KAFKA_STATE_DIR}/log4j.properties"
    fi
    echo "-Xms256m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true ${logging}"
    echo "-Dkafka.logs.dir=${KAFKA_STATE_DIR}/logs"
}

cmd_start() {
    local pid
    if pid="$(running_pid)"; then
        say "already running (pid ${pid}, bootstrap 127.0.0.1:${KAFKA_PORT})"
        return 0
    fi
    command -v "${JAVA}" >/dev/null || die "java ('${JAVA}') is needed to run Kafka"
    for p in "${KAFKA_PORT}" "${KAFKA_CONTROLLER_PORT}"; do
        port_in_use "${p}" && die "port ${p} on 127.0.0.1 is already in use (set KAFKA_PORT / KAFKA_CONTROLLER_PORT)"
    done
    cmd_fetch
    mkdir -p "${KAFKA_STATE_DIR}"
    rm -rf "${DATA_DIR}" "${KAFKA_STATE_DIR}/logs"
    write_config
    # shellcheck disable=SC2046
    if ! "${JAVA}" $(java_args) -cp "${LIBS}/*" kafka.tools.StorageTool format \
            --cluster-id="$(cluster_id)" -c "${PROPS}" > "${KAFKA_STATE_DIR}/format.log" 2>&1; then
        tail -n 20 "${KAFKA_STATE_DIR}/format.log" >&2
        die "formatting KRaft storage failed (see ${KAFKA_STATE_DIR}/format.log)"
    fi
    : > "${LOG_FILE}"
    local launcher=()
    command -v setsid >/dev/null && launcher=(setsid)
    # shellcheck disable=SC2046
    nohup "${launcher[@]}" "${JAVA}" $(java_args) -cp "${LIBS}/*" kafka.Kafka "${PROPS}" \
        >> "${LOG_FILE}" 2>&1 < /dev/null &
    pid=$!
    echo "${pid}" > "${PID_FILE}"
    local deadline=$((SECONDS + KAFKA_START_TIMEOUT))
    while true; do
        if grep -q "Kafka Server started" "${LOG_FILE}" 2>/dev/null; then
            say "Kafka ${KAFKA_VERSION} running on 127.0.0.1:${KAFKA_PORT} (pid ${pid}, state ${KAFKA_STATE_DIR})"
            return 0
        fi
        if ! kill -0 "${pid}" 2>/dev/null; then
            rm -f "${PID_FILE}"
            echo "--- last lines of ${LOG_FILE} ---" >&2
            tail -n 30 "${LOG_FILE}" >&2
            die "Kafka ${KAFKA_VERSION} exited during start-up"
        fi
        if (( SECONDS >= deadline )); then
            echo "--- last lines of ${LOG_FILE} ---" >&2
            tail -n 30 "${LOG_FILE}" >&2
            cmd_stop >/dev/null 2>&1 || true
            die "Kafka ${KAFKA_VERSION} not ready after ${KAFKA_START_TIMEOUT}s"
        fi
        sleep 0.5
    done
}

cmd_stop() {
    local pid
    if ! pid="$(running_pid)"; then
        rm -f "${PID_FILE}"
        say "not running (port ${KAFKA_PORT})"
        return 0
    fi
    kill -TERM "${pid}" 2>/dev/null || true
    local deadline=$((SECONDS + ${KAFKA_STOP_TIMEOUT:-30}))
    while kill -0 "${pid}" 2>/dev/null; do
        if (( SECONDS >= deadline )); then
            say "pid ${pid} still alive after SIGTERM; sending SIGKILL"
            kill -KILL "${pid}" 2>/dev/null || true
            sleep 0.5
            break
        fi
        sleep 0.2
    done
    rm -f "${PID_FILE}"
    say "stopped (pid ${pid})"
}

cmd_status() {
    local pid
    if pid="$(running_pid)"; then
        say "running (pid ${pid}, bootstrap 127.0.0.1:${KAFKA_PORT}, state ${KAFKA_STATE_DIR})"
        return 0
    fi
    say "not running (port ${KAFKA_PORT})"
    return 3
}

case "${1:-}" in
    fetch) cmd_fetch; fetched && say "jars ready in ${LIBS}" ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) echo "usage: scripts/kafka.sh fetch|start|stop|status  (env: KAFKA_VERSION, KAFKA_PORT, ...)" >&2
       exit 2 ;;
esac
