"""How every Kafka client of Intake connects: the address, and who it is (SASL over TLS).

One value built from the settings, handed to each client a process builds (FastStream's broker,
aiokafka consumers, producers and admin clients), so that no client connects anonymously.
"""

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiokafka.helpers import create_ssl_context
from faststream.security import (
    BaseSecurity,
    SASLPlaintext,
    SASLScram256,
    SASLScram512,
)

from intake_runtime.settings import ServiceSettings

_SCRAM = {"SCRAM-SHA-512": SASLScram512, "SCRAM-SHA-256": SASLScram256}
# The variables KafkaAccess is read from, besides the bootstrap servers.
SECURITY_VARIABLES = (
    "KAFKA_SECURITY_PROTOCOL",
    "KAFKA_SASL_MECHANISM",
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
    "KAFKA_SSL_CAFILE",
)


@dataclass(frozen=True)
class KafkaAccess:
    bootstrap_servers: str
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "SCRAM-SHA-512"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    cafile: str | None = None

    @classmethod
    def of(cls, settings: ServiceSettings) -> "KafkaAccess":
        return cls(
            settings.kafka_bootstrap_servers,
            settings.kafka_security_protocol,
            settings.kafka_sasl_mechanism,
            settings.kafka_sasl_username,
            settings.kafka_sasl_password,
            settings.kafka_ssl_cafile,
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "KafkaAccess":
        """For tools and tests holding an environment (e.g. `deploy/stack.sh env`'s)."""
        wanted = ("KAFKA_BOOTSTRAP_SERVERS", *SECURITY_VARIABLES)
        return cls.of(ServiceSettings.model_validate({k: env[k] for k in wanted if env.get(k)}))

    @property
    def tls(self) -> bool:
        return self.security_protocol in {"SSL", "SASL_SSL"}

    @property
    def sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    def ssl_context(self) -> ssl.SSLContext | None:
        return create_ssl_context(cafile=self.cafile) if self.tls else None

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments of every aiokafka client (consumer, producer, admin)."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
        }
        if self.tls:
            options["ssl_context"] = self.ssl_context()
        if self.sasl:
            options |= {
                "sasl_mechanism": self.sasl_mechanism,
                "sasl_plain_username": self.username,
                "sasl_plain_password": self.password,
            }
        return options

    def security(self) -> BaseSecurity | None:
        """The same, as FastStream's broker takes it."""
        context = self.ssl_context()
        if not self.sasl:
            return BaseSecurity(context, use_ssl=True) if self.tls else None
        username, password = self.username or "", self.password or ""
        scram = _SCRAM.get(self.sasl_mechanism)
        if scram is None:
            return SASLPlaintext(username, password, ssl_context=context, use_ssl=self.tls)
        return scram(username, password, ssl_context=context, use_ssl=self.tls)
