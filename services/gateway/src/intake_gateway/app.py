"""Composition root of the gateway: `create_app(settings)` builds the Litestar app."""

import contextlib
import logging
from collections.abc import AsyncIterator

import uvicorn
from litestar import Litestar, Request, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException, ValidationException
from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin
from litestar.plugins.prometheus import PrometheusConfig

from intake_contracts.commands import CommandType
from intake_contracts.envelope import Principal
from intake_contracts.errors import DomainError, TransientError
from intake_gateway import openapi, problems, security, web
from intake_gateway.api import BODY_MODELS
from intake_gateway.auth import TokenVerifier, require_upload_permission
from intake_gateway.outbound import KafkaOutboundCommands
from intake_gateway.ports import OutboundCommands
from intake_gateway.ratelimit import RateLimitedError, RateLimiter, per_client_address
from intake_gateway.routes import AssetsController, UploadsController
from intake_gateway.settings import SERVICE, GatewaySettings
from intake_gateway.uppy import UppyS3Controller
from intake_runtime.bootstrap import health_server, kafka_broker, readiness, reply_client
from intake_runtime.lifecycle import run_service
from intake_runtime.logs import tenant_in_scope
from intake_runtime.messaging.requests import (
    BrokerUnavailableError,
    CommandTooLargeError,
    ReplyTimeoutError,
)
from intake_runtime.telemetry import tracing_on

log = logging.getLogger(__name__)


def create_app(settings: GatewaySettings, commands: OutboundCommands | None = None) -> Litestar:
    """`commands` replaces the broker (unit tests of the routes): no Kafka is started."""
    verifier = TokenVerifier(settings)
    limiter = RateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst)
    addresses = RateLimiter(
        settings.client_rate_limit_per_s, settings.client_rate_limit_burst, whose="client address"
    )

    @contextlib.asynccontextmanager
    async def signing_keys(_: Litestar) -> AsyncIterator[None]:
        async with verifier.running():
            yield

    @contextlib.asynccontextmanager
    async def messaging(app: Litestar) -> AsyncIterator[None]:
        app.state.tenant_limiter = limiter
        if commands is not None:
            app.state.outbound = commands
            yield
            return
        async with kafka_broker(settings, SERVICE) as broker:
            await broker.start()
            async with (
                reply_client(settings, broker, SERVICE) as client,
                # /readyz and /metrics on a port of their own (INTAKE_METRICS_PORT), as every
                # service has: operators' answers stay off the public port.
                health_server(settings, readiness(broker, replies=client)),
            ):
                app.state.outbound = KafkaOutboundCommands(
                    client, {CommandType.COMPLETE: settings.complete_timeout_s}
                )
                yield

    async def principal(request: Request[object, object, State]) -> Principal:
        caller = await verifier.principal(request.headers.get("authorization"))
        require_upload_permission(caller)
        tenant_in_scope.set(caller.tenant_id)
        limiter.admit(caller.tenant_id)
        return caller

    @get("/healthz", include_in_schema=False, sync_to_thread=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    def complete_document(app: Litestar) -> None:
        openapi.restore_constraints(app.openapi_schema, BODY_MODELS)
        openapi.link_sessions(app.openapi_schema, ("/app/uploads/initiate", "post"))

    prometheus = PrometheusConfig(
        app_name="intake_gateway", prefix="intake_gateway", group_path=True
    )
    return Litestar(
        route_handlers=[
            UploadsController,
            AssetsController,
            UppyS3Controller,
            healthz,
            web.page_router(settings),
        ],
        cors_config=web.cors_config(settings),
        dependencies={"principal": Provide(principal)},
        on_startup=[complete_document],
        lifespan=[signing_keys, messaging],
        request_max_body_size=settings.max_body_bytes,
        # Server spans per request, only when spans are exported (telemetry.tracing_on).
        plugins=[OpenTelemetryPlugin(OpenTelemetryConfig())] if tracing_on() else [],
        logging_config=None,  # Litestar's default would replace the JSON root handler
        middleware=[per_client_address(addresses), prometheus.middleware],
        exception_handlers={
            DomainError: problems.on_domain_error,
            TransientError: problems.on_transient_error(settings.retry_after_s),
            ReplyTimeoutError: problems.on_timeout(settings.retry_after_s),
            BrokerUnavailableError: problems.on_broker_down(settings.retry_after_s),
            CommandTooLargeError: problems.on_command_too_large,
            RateLimitedError: problems.on_rate_limited,
            RecursionError: problems.on_too_deep,
            ValidationException: problems.on_validation,
            HTTPException: problems.on_http,
            Exception: problems.on_unexpected,
        },
        openapi_config=openapi.openapi_config(schema_pages=not settings.production),
        before_send=[security.security_headers(settings)],
    )


async def serve(settings: GatewaySettings) -> None:
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )
    await uvicorn.Server(config).serve()


def main() -> None:
    run_service(SERVICE, GatewaySettings, serve)
