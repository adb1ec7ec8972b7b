"""Kafka's secrets: the local CA, the broker's certificate and a SCRAM password per principal,
made once in the state dir; docker-compose.yml's Kafka reads the same files."""

from __future__ import annotations

import json
import secrets
import shutil

from stack_base import ADMIN, PRINCIPALS, Config, StackError, run_quiet, say

BROKER_CN = "intake-kafka-broker"


def kafka_passwords(config: Config) -> dict[str, str]:
    """Every principal's SCRAM password, made by `up` (ensure_kafka_secrets)."""
    path = config.secrets_dir / "kafka-users.json"
    if not path.exists():
        raise StackError("kafka", "no credentials yet: run `deploy/stack.sh up` first", path)
    return dict(json.loads(path.read_text()))


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
