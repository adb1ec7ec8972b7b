"""The stack as each Kafka principal reaches it: its SASL login, its own S3 identity (or none),
the database; what `stack.sh env [PRINCIPAL]` prints and Python callers read."""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping

import s3_iam
from stack_base import ADMIN, PRINCIPALS, Config, StackError
from stack_kafka_secrets import kafka_passwords


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


def service_s3_env(config: Config, service: str) -> dict[str, str]:
    """The S3 keys `service` runs with on this stack: its own identity's, none for a service
    without S3 access (gateway, audit). The stack's admin key never reaches a service."""
    if service not in s3_iam.SERVICES:
        return {}
    if not config.s3_keys.exists():
        raise StackError("s3", "no service keys yet: run deploy/stack.sh up", config.s3_keys)
    keys = s3_iam.service_keys(config.s3_keys)[service]
    return {"AWS_ACCESS_KEY_ID": keys["access_key"], "AWS_SECRET_ACCESS_KEY": keys["secret_key"]}
