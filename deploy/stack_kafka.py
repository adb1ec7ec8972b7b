"""Kafka: its pinned jars, its properties (SASL/SCRAM over TLS, ACLs, the admin as super user),
its KRaft storage with the principals' SCRAM users, and its start, readiness and stop."""

from __future__ import annotations

import base64
import hashlib
import shutil
import socket
import ssl
import struct
import subprocess
import uuid
from pathlib import Path

import processes
from stack_base import (
    ADMIN,
    DEPLOY,
    Config,
    StackError,
    port_open,
    run_quiet,
    say,
    stop_server,
    wait_until,
)
from stack_kafka_secrets import BROKER_CN, ensure_kafka_secrets, kafka_passwords

KAFKA_VERSION = "4.1.1"
KAFKA_JAR_HASHES = DEPLOY / "kafka" / "jars.sha256"


def ensure_kafka_jars(config: Config) -> None:
    pom, libs = DEPLOY / "kafka" / "pom.xml", config.kafka_dir / "libs"
    # Jars fetched for this pom were checked against KAFKA_JAR_HASHES when they were fetched.
    stamp, digest = libs / ".pom.sha256", hashlib.sha256(pom.read_bytes()).hexdigest()
    jar = libs / f"kafka_2.13-{KAFKA_VERSION}.jar"
    if stamp.exists() and stamp.read_text().strip() == digest and jar.exists():
        return
    log = config.kafka_dir / "logs" / "maven.log"
    if shutil.which("mvn") is None:
        raise StackError("kafka", "mvn not found (needed once to fetch the Kafka jars)", pom)
    say(f"fetching Kafka {KAFKA_VERSION} jars with Maven into {libs}")
    staging = libs.with_name("libs.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    # --strict-checksums: a download that fails Maven Central's own checksum is an error.
    argv = ["mvn", "-q", "-B", "--strict-checksums", "-f", str(pom), "dependency:copy-dependencies"]
    if not run_quiet([*argv, f"-DoutputDirectory={staging}"], log):
        raise StackError("kafka", "Maven could not fetch the Kafka jars", log)
    problems = jar_problems(staging, KAFKA_JAR_HASHES.read_text())
    if problems:
        shutil.rmtree(staging, ignore_errors=True)
        reason = "Kafka jars differ from deploy/kafka/jars.sha256: " + "; ".join(problems[:5])
        raise StackError("kafka", reason, KAFKA_JAR_HASHES)
    shutil.rmtree(libs, ignore_errors=True)
    staging.rename(libs)
    stamp.write_text(digest + "\n")


def jar_problems(directory: Path, manifest: str) -> list[str]:
    """What keeps the jars in `directory` from being exactly those `manifest` pins
    (`sha256sum` lines: a hash, two spaces, a file name; `#` comments): a jar of another
    hash, one not pinned, one missing. Empty when they match."""
    pinned: dict[str, str] = {}
    for line in manifest.splitlines():
        if line.strip() and not line.startswith("#"):
            digest, name = line.split(maxsplit=1)
            pinned[name] = digest
    found = {path.name: path for path in directory.glob("*.jar")}
    problems = [f"{name}: not pinned" for name in sorted(set(found) - set(pinned))]
    problems += [f"{name}: missing" for name in sorted(set(pinned) - set(found))]
    for name in sorted(set(found) & set(pinned)):
        if hashlib.sha256(found[name].read_bytes()).hexdigest() != pinned[name]:
            problems.append(f"{name}: SHA-256 differs")
    return problems


def check_java(config: Config) -> None:
    probe = subprocess.run(
        [config.java, "-XshowSettings:properties", "-version"],
        capture_output=True,
        text=True,
        check=False,
    )
    found = next(
        (
            line.split("=", 1)[1].strip()
            for line in probe.stderr.splitlines()
            if "java.specification.version" in line
        ),
        "",
    )
    major = found.split(".")[0]
    if not major.isdigit() or int(major) < 17:
        reason = f"Kafka {KAFKA_VERSION} needs Java 17+, '{config.java}' reports '{found}'"
        raise StackError("kafka", reason, config.kafka_log)


def kafka_security_properties(config: Config) -> str:
    """SASL/SCRAM over TLS for clients, mutual TLS between the broker and its controller, and
    the StandardAuthorizer with nothing allowed unless an ACL grants it."""
    folder = config.secrets_dir
    admin_password = kafka_passwords(config)[ADMIN]
    store_password = (folder / "broker.p12.password").read_text().strip()
    jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required"
        f' username="{ADMIN}" password="{admin_password}";'
    )
    # The unauthenticated listener (bench only) acts as a super user: say so in the file.
    anonymous = ";User:ANONYMOUS" if config.kafka_plaintext_port else ""
    return f"""sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config={jaas}
ssl.keystore.type=PKCS12
ssl.keystore.location={folder / "broker.p12"}
ssl.keystore.password={store_password}
ssl.key.password={store_password}
ssl.truststore.type=PEM
ssl.truststore.location={config.kafka_ca}
listener.name.controller.ssl.client.auth=required
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:{ADMIN};User:CN={BROKER_CN}{anonymous}
"""


def kafka_properties(config: Config) -> str:
    """Written on every start so changed ports take effect. A static single-voter KRaft quorum
    keeps the controller address out of the metadata log, so the ports stay changeable."""
    kafka, controller = config.kafka_port, config.kafka_controller_port
    listeners = [f"SASL_SSL://127.0.0.1:{kafka}", f"CONTROLLER://127.0.0.1:{controller}"]
    advertised = [f"SASL_SSL://127.0.0.1:{kafka}"]
    protocols = ["CONTROLLER:SSL", "SASL_SSL:SASL_SSL"]
    if config.kafka_plaintext_port:
        listeners.append(f"PLAINTEXT://127.0.0.1:{config.kafka_plaintext_port}")
        advertised.append(f"PLAINTEXT://127.0.0.1:{config.kafka_plaintext_port}")
        protocols.append("PLAINTEXT:PLAINTEXT")
    return f"""# Generated by deploy/stack_kafka.py on each start; edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller}
listeners={",".join(listeners)}
advertised.listeners={",".join(advertised)}
controller.listener.names=CONTROLLER
inter.broker.listener.name=SASL_SSL
listener.security.protocol.map={",".join(protocols)}
{kafka_security_properties(config)}log.dirs={config.kafka_dir / "data"}
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
"""


def new_kafka_cluster_id() -> str:
    """`kafka-storage random-uuid`'s format (base64url of 16 bytes, never starting with '-'),
    without paying for another JVM start."""
    while True:
        value = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not value.startswith("-"):
            return value


def kafka_java(config: Config, *extra: str) -> list[str]:
    logs = config.kafka_dir / "logs"
    return [
        config.java,
        *extra,
        f"-Dlog4j2.configurationFile={DEPLOY / 'kafka' / 'log4j2.yaml'}",
        f"-Dkafka.logs.dir={logs}",
    ]


def scram_marker(config: Config) -> str:
    """Which credentials the storage was formatted with (the SCRAM users live in its log)."""
    users = (config.secrets_dir / "kafka-users.json").read_bytes()
    return hashlib.sha256(users).hexdigest()


def format_kafka_storage(config: Config) -> None:
    """KRaft storage is formatted once, with a cluster id kept in the state dir and every
    principal's SCRAM credentials. Storage formatted before (without them, or with other ones)
    is made again: a local stack's topics are re-created by provisioning."""
    kafka = config.kafka_dir
    marker = kafka / "data" / ".intake-scram"
    if (kafka / "data" / "meta.properties").exists():
        if marker.exists() and marker.read_text().strip() == scram_marker(config):
            return
        say("Kafka storage has no SCRAM users of this stack: formatting it again (topics go)")
        shutil.rmtree(kafka / "data")
        (kafka / "data").mkdir()
    id_file = kafka / "cluster.id"
    if not id_file.exists() or not id_file.read_text().strip():
        id_file.write_text(new_kafka_cluster_id() + "\n")
    cluster_id = id_file.read_text().strip()
    say(f"formatting Kafka storage (cluster id {cluster_id})")
    log = kafka / "logs" / "format.log"
    tool = [
        *kafka_java(config, "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"),
        "-Dkafka.log.name=tools.log",
        "-cp",
        f"{kafka / 'libs'}/*",
    ]
    storage = ["kafka.tools.StorageTool", "format", "--cluster-id", cluster_id]
    for user, password in kafka_passwords(config).items():
        storage += ["--add-scram", f"SCRAM-SHA-512=[name={user},password={password}]"]
    command = [*tool, *storage, "--config", str(kafka / "server.properties")]
    # A wedged JVM must not hang `up`.
    if not run_quiet(["timeout", "120", *command], log):
        raise StackError("kafka", "storage format failed", log)
    marker.write_text(scram_marker(config) + "\n")


def kafka_pid(config: Config) -> int | None:
    return processes.owned_pid(config.kafka_dir / "kafka.pid", config.marker())


def start_kafka(config: Config) -> None:
    properties = config.kafka_dir / "server.properties"
    if kafka_pid(config) is not None:
        if "StandardAuthorizer" in properties.read_text():
            return
        say("Kafka runs without SASL and ACLs (started by an older stack.sh): restarting it")
        stop_kafka(config)
    for port in (config.kafka_port, config.kafka_controller_port):
        if port_open(port):
            reason = f"port {port} is already used by another process"
            raise StackError("kafka", reason, config.kafka_log)
    check_java(config)
    kafka = config.kafka_dir
    (kafka / "logs").mkdir(parents=True, exist_ok=True)
    (kafka / "data").mkdir(parents=True, exist_ok=True)
    ensure_kafka_secrets(config)
    properties.touch(mode=0o600)
    properties.write_text(kafka_properties(config))
    format_kafka_storage(config)
    say(f"starting Kafka {KAFKA_VERSION} on 127.0.0.1:{config.kafka_port}")
    gc = ["-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:+ExitOnOutOfMemoryError"]
    argv = kafka_java(config, *config.kafka_heap, *gc, "-Djava.awt.headless=true")
    argv += ["-cp", f"{kafka / 'libs'}/*", "kafka.Kafka", str(kafka / "server.properties")]
    processes.spawn(argv, kafka / "logs" / "kafka.out", kafka / "kafka.pid")


def kafka_answers(port: int, ca: Path) -> bool:
    """A raw ApiVersions v0 request over TLS (~0.1 s) instead of a Kafka CLI JVM (~2-5 s): the
    one request a SASL listener answers before login, once the broker serves clients."""
    client = b"intake-stack"
    request = struct.pack(">hhih", 18, 0, 42, len(client)) + client
    context = ssl.create_default_context(cafile=str(ca))
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as connection,
        ):
            connection.sendall(struct.pack(">i", len(request)) + request)
            data = b""
            while len(data) < 4 or len(data) < 4 + struct.unpack(">i", data[:4])[0]:
                chunk = connection.recv(65536)
                if not chunk:
                    return False
                data += chunk
    except OSError:
        return False
    correlation_id, error_code = struct.unpack(">ih", data[4:10])
    return bool(correlation_id == 42 and error_code == 0)


def wait_kafka(config: Config) -> None:
    wait_until(
        lambda: kafka_answers(config.kafka_port, config.kafka_ca),
        config.ready_timeout_s,
        "kafka",
        config.kafka_log,
        lambda: kafka_pid(config) is not None,
    )


def stop_kafka(config: Config) -> None:
    stop_server("Kafka", config.kafka_dir / "kafka.pid", config.marker(), 60)
