"""The Kubernetes manifests (deploy/k8s) as they are rendered, checked offline.

Each overlay is rendered by the pinned kustomize (`deploy/k8s/kustomize.sh`, built from the Go
module proxy by `make bootstrap`), every object is validated against the Kubernetes API schemas
that kubernetes-validate ships, and the rules of a deployment are checked against the code they
must match: the console scripts, the settings each service reads and refuses to start without,
the consumer groups and their partitions, the memory measured by `make bench`, the image's user.
"""

import base64
import functools
import json
import re
import subprocess
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import s3_iam
import yaml
from pydantic_settings import BaseSettings
from referencing import Registry, Resource

from intake_audit import handlers as audit_handlers
from intake_cleanup import handlers as cleanup_handlers
from intake_contracts import topics
from intake_runtime.ops import cli, setup
from intake_runtime.settings import PostgresSettings, ServiceSettings
from tests.unit.test_compose import INFRASTRUCTURE, settings_class

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("production", "staging")
# The oldest Kubernetes the manifests claim, and the newest the validator knows: a field
# either one lacks fails.
KUBERNETES_VERSIONS = ("1.29", kubernetes_validate.utils.latest_version())
SERVICES = ("gateway", "initiation", "completion", "cleanup", "audit")
CONSUMERS = ("initiation", "completion", "cleanup", "audit")
STORAGE = ("initiation", "completion", "cleanup")
KEDA = "keda.sh/v1alpha1"
# Secrets an overlay leaves to the cluster's secret manager (none rendered, so an apply never
# overwrites a real one), with the keys the services read from each.
FROM_THE_CLUSTER: dict[str, dict[str, str]] = {
    "production": {
        **{
            f"intake-{service}-database": {"DATABASE_URL": "<from the secret manager>"}
            for service in CONSUMERS
        },
        **{
            f"intake-{principal}-kafka" if principal in SERVICES else f"intake-kafka-{principal}": {
                "KAFKA_SASL_USERNAME": principal,
                "KAFKA_SASL_PASSWORD": "<from the secret manager>",
                **(
                    {"KEDA_SASL": "scram_sha512", "KEDA_TLS": "enable"}
                    if principal == "ops"
                    else {}
                ),
            }
            for principal in (*SERVICES, "admin", "ops")
        },
    },
    "staging": {},
}

# Every consumer group the services subscribe with: its service, its topics, and the settings
# field giving its consumers per process (None: one, as for every batch subscriber).
CONSUMER_GROUPS: dict[str, tuple[str, tuple[str, ...], str | None]] = {
    topics.CONSUMER_GROUPS["initiation"]: (
        "initiation",
        topics.COMMAND_TOPICS["initiation"],
        "command_workers",
    ),
    topics.CONSUMER_GROUPS["completion"]: (
        "completion",
        topics.COMMAND_TOPICS["completion"],
        "command_workers",
    ),
    topics.CONSUMER_GROUPS["cleanup"]: ("cleanup", (topics.CLEANUP_COMMANDS,), "command_workers"),
    cleanup_handlers.INDEX_GROUP: ("cleanup", (topics.UPLOAD_EVENTS,), None),
    cleanup_handlers.ASSETS_GROUP: ("cleanup", (topics.ASSET_EVENTS,), None),
    topics.CONSUMER_GROUPS["audit"]: ("audit", tuple(audit_handlers.EVENT_TOPICS), None),
    # intake_audit.app subscribes the queries as "<audit group>-queries".
    f"{topics.CONSUMER_GROUPS['audit']}-queries": (
        "audit",
        (topics.AUDIT_QUERIES,),
        "query_workers",
    ),
}


@dataclass
class Rendered:
    overlay: str
    objects: list[dict[str, Any]]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def get(self, kind: str, name: str) -> dict[str, Any]:
        [found] = [o for o in self.of_kind(kind) if o["metadata"]["name"] == name]
        return found

    def workloads(self) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
        """Every Deployment and Job with its pod spec."""
        for obj in self.of_kind("Deployment") + self.of_kind("Job"):
            yield obj, obj["spec"]["template"]["spec"]

    def deployment(self, service: str) -> dict[str, Any]:
        return self.get("Deployment", f"intake-{service}")

    @property
    def secrets_from_the_cluster(self) -> dict[str, dict[str, str]]:
        return FROM_THE_CLUSTER[self.overlay]

    def data(self, kind: str, name: str) -> dict[str, str]:
        if kind == "Secret" and name in self.secrets_from_the_cluster:
            return dict(self.secrets_from_the_cluster[name])
        obj = self.get(kind, name)
        values = dict(obj.get("stringData", {}))
        for key, value in obj.get("data", {}).items():
            values[key] = base64.b64decode(value).decode() if kind == "Secret" else value
        return values

    def env(self, container: dict[str, Any]) -> dict[str, str]:
        """The variables a container starts with (envFrom in order, then env)."""
        values: dict[str, str] = {}
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                values |= self.data("ConfigMap", source["configMapRef"]["name"])
            else:
                values |= self.data("Secret", source["secretRef"]["name"])
        for variable in container.get("env", []):
            values[variable["name"]] = variable.get("value", "<from the pod>")
        return values

    def common(self) -> dict[str, str]:
        [common] = [
            o
            for o in self.of_kind("ConfigMap")
            if o["metadata"]["name"].startswith("intake-common")
        ]
        return dict(common["data"])


def render(overlay: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        ["bash", str(K8S / "kustomize.sh"), "build", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, f"kustomize build {overlay} failed:\n{result.stderr}"
    return [o for o in yaml.safe_load_all(result.stdout) if o]


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request: pytest.FixtureRequest) -> Rendered:
    return Rendered(request.param, render(request.param))


@functools.cache
def _definitions(folder: str) -> Resource[Any]:
    return Resource.from_contents(
        kubernetes_validate.utils.schema_contents(f"{folder}/_definitions.json", folder)
    )


@functools.cache
def _validator(version: str, kind: str, api_version: str) -> jsonschema.Draft202012Validator:
    """kubernetes_validate.validate's strict validator, built once per kind and version.

    The library builds it anew on every call, parsing the multi-megabyte definitions file and
    resolving every reference from scratch: that was 20 of `make unit`'s 30 seconds. Same
    schema files, same draft, same registry, so the same verdicts.
    """
    utils = kubernetes_validate.utils
    wanted = utils.major_minor(version)
    schema_version = [v for v in utils.all_versions() if utils.major_minor(v) <= wanted][-1]
    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    folder = f"kubernetes-json-schema/v{schema_version}-local-strict"
    schema = utils.schema_contents(f"{folder}/{kind.lower()}-{group}.json", version)
    registry = Resource.from_contents(schema) @ (_definitions(folder) @ Registry())
    return jsonschema.Draft202012Validator(schema, registry=registry)


def validate(obj: dict[str, Any], version: str) -> None:
    """Raises kubernetes_validate.ValidationError as kubernetes_validate.validate does."""
    try:
        _validator(version, obj["kind"], obj["apiVersion"]).validate(obj)
    except jsonschema.ValidationError as error:
        raise kubernetes_validate.ValidationError(error, version) from error


def only_container(pod: dict[str, Any]) -> dict[str, Any]:
    [container] = pod["containers"]
    return dict(container)


def mebibytes(quantity: str) -> float:
    match = re.fullmatch(r"(\d+)(Mi|Gi)", quantity)
    assert match, f"memory {quantity!r} is not in Mi or Gi"
    return int(match[1]) * (1024 if match[2] == "Gi" else 1)


def aliases(settings: type[BaseSettings]) -> set[str]:
    return {(field.alias or name).upper() for name, field in settings.model_fields.items()}


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Kubernetes label-selector semantics for matchLabels and In/NotIn/Exists."""
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        value = labels.get(expression["key"])
        operator = expression["operator"]
        if operator == "In" and value not in expression["values"]:
            return False
        if operator == "NotIn" and value in expression["values"]:
            return False
        if operator == "Exists" and value is None:
            return False
    return True


# -- the render itself ---------------------------------------------------------------------


def test_every_object_is_valid_against_the_kubernetes_api_schemas(rendered: Rendered) -> None:
    validated = 0
    for obj in rendered.objects:
        if obj["apiVersion"] == KEDA:
            continue  # a CRD: checked field by field below
        name = f"{obj['kind']}/{obj['metadata']['name']}"
        for version in KUBERNETES_VERSIONS:
            try:
                validate(obj, version)
            except kubernetes_validate.ValidationError as error:
                where = list(error.path)
                pytest.fail(f"{rendered.overlay}: {name} on {version}: {error.message} at {where}")
        validated += 1
    assert validated >= 30, "too few objects rendered"


def test_the_validator_rejects_what_the_api_server_would(rendered: Rendered) -> None:
    misspelt = json.loads(json.dumps(rendered.deployment("gateway")))
    container = misspelt["spec"]["template"]["spec"]["containers"][0]
    container["imagePulPolicy"] = container.pop("imagePullPolicy")
    mistyped = json.loads(json.dumps(rendered.deployment("gateway")))
    mistyped["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] = "yes"
    for broken in (misspelt, mistyped):
        with pytest.raises(kubernetes_validate.ValidationError):
            validate(broken, KUBERNETES_VERSIONS[0])
        with pytest.raises(kubernetes_validate.ValidationError):  # the library agrees
            kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[0], strict=True)


def test_every_reference_resolves_within_the_render(rendered: Rendered) -> None:
    names = {(o["kind"], o["metadata"]["name"]) for o in rendered.objects}
    names |= {("Secret", name) for name in rendered.secrets_from_the_cluster}
    [namespace] = rendered.of_kind("Namespace")
    for obj in rendered.objects:
        if obj["kind"] != "Namespace":
            assert obj["metadata"].get("namespace") == namespace["metadata"]["name"], obj
    for obj, pod in rendered.workloads():
        assert ("ServiceAccount", pod["serviceAccountName"]) in names
        for container in pod["containers"]:
            for source in container.get("envFrom", []):
                [(kind, reference)] = source.items()
                wanted = "ConfigMap" if kind == "configMapRef" else "Secret"
                assert (wanted, reference["name"]) in names, f"{obj['metadata']['name']}: {source}"
                assert not reference.get("optional"), "a missing source must stop the pod"
    for scaled in rendered.of_kind("ScaledObject"):
        assert ("Deployment", scaled["spec"]["scaleTargetRef"]["name"]) in names
    for hpa in rendered.of_kind("HorizontalPodAutoscaler"):
        assert ("Deployment", hpa["spec"]["scaleTargetRef"]["name"]) in names


# -- Deployments ---------------------------------------------------------------------------


def test_each_service_runs_its_console_script_from_the_one_image(rendered: Rendered) -> None:
    deployments = {d["metadata"]["name"] for d in rendered.of_kind("Deployment")}
    assert deployments == {f"intake-{service}" for service in SERVICES}
    kustomization = yaml.safe_load(
        (K8S / "overlays" / rendered.overlay / "kustomization.yaml").read_text()
    )
    [image] = kustomization["images"]
    expected_image = (
        f"{image['newName']}@{image['digest']}"
        if "digest" in image
        else f"{image['newName']}:{image['newTag']}"
    )
    if rendered.overlay == "production":  # what production pulls cannot be moved under it
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", image.get("digest", "")), image
    for service in SERVICES:
        container = only_container(rendered.deployment(service)["spec"]["template"]["spec"])
        scripts = tomllib.loads((ROOT / "services" / service / "pyproject.toml").read_text())
        assert container["command"] == [f"intake-{service}"]
        assert f"intake-{service}" in scripts["project"]["scripts"]
        assert container["image"] == expected_image
    for _, pod in rendered.workloads():
        assert {c["image"] for c in pod["containers"]} == {expected_image}


def test_probes_ask_the_health_endpoints_on_the_port_the_process_listens_on(
    rendered: Rendered,
) -> None:
    for service in SERVICES:
        container = only_container(rendered.deployment(service)["spec"]["template"]["spec"])
        env = rendered.env(container)
        health = env["INTAKE_METRICS_HOST"], int(env["INTAKE_METRICS_PORT"])
        # The gateway's liveness is on its API port too; readiness only on the health port.
        live = health
        if service == "gateway":
            live = env["INTAKE_GATEWAY_HOST"], int(env["INTAKE_GATEWAY_PORT"])
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        probes = {
            "startupProbe": ("/healthz", live),
            "livenessProbe": ("/healthz", live),
            "readinessProbe": ("/readyz", health),
        }
        for probe, (path, (host, port)) in probes.items():
            assert host == "0.0.0.0", f"{service} listens only inside its pod"  # noqa: S104
            get = container[probe]["httpGet"]
            assert get["path"] == path, f"{service} {probe}"
            assert ports[get["port"]] == port, f"{service} {probe} asks port {get['port']}"
        annotations = rendered.deployment(service)["spec"]["template"]["metadata"]["annotations"]
        assert int(annotations["prometheus.io/port"]) == health[1], service
        # The health endpoint opens after migrations and Kafka: the start-up probe must wait
        # at least as long as the services wait for Postgres and Kafka (60 s each).
        startup = container["startupProbe"]
        assert startup["periodSeconds"] * startup["failureThreshold"] >= 120


def test_memory_follows_the_rss_measured_by_the_benchmark(rendered: Rendered) -> None:
    figures = json.loads((ROOT / "bench" / "results" / "control_plane.json").read_text())
    measured = figures["figures"]["service_rss_mib"]
    for service in SERVICES:
        container = only_container(rendered.deployment(service)["spec"]["template"]["spec"])
        rss = measured[f"{service}_peak"]
        request = mebibytes(container["resources"]["requests"]["memory"])
        limit = mebibytes(container["resources"]["limits"]["memory"])
        assert 1.3 * rss <= request <= 2 * rss, f"{service}: request {request} for RSS {rss}"
        assert limit == 2 * request, service
        assert container["resources"]["requests"]["cpu"]
        assert container["resources"]["limits"]["cpu"] == "1"
    for obj, pod in rendered.workloads():
        for container in pod["containers"]:
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), obj
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), obj


def test_every_pod_runs_as_the_image_s_user_without_privileges(rendered: Rendered) -> None:
    uid = re.search(r"useradd [^\n]*--uid (\d+)", (ROOT / "deploy" / "Dockerfile").read_text())
    assert uid
    for obj, pod in rendered.workloads():
        name = obj["metadata"]["name"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] == int(uid[1]), name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert pod["automountServiceAccountToken"] is False, name
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["capabilities"] == {"drop": ["ALL"]}, name
    [namespace] = rendered.of_kind("Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_a_disruption_budget_guards_each_deployment_without_blocking_a_drain(
    rendered: Rendered,
) -> None:
    budgets = rendered.of_kind("PodDisruptionBudget")
    for service in SERVICES:
        labels = rendered.deployment(service)["spec"]["template"]["metadata"]["labels"]
        [budget] = [b for b in budgets if selects(b["spec"]["selector"], labels)]
        assert budget["spec"].get("maxUnavailable") == 1, service
    assert len(budgets) == len(SERVICES)


def test_the_gateway_service_reaches_the_gateway_s_http_port(rendered: Rendered) -> None:
    service = rendered.get("Service", "intake-gateway")
    pod = rendered.deployment("gateway")["spec"]["template"]
    assert selects({"matchLabels": service["spec"]["selector"]}, pod["metadata"]["labels"])
    [port] = service["spec"]["ports"]
    container_ports = {p["name"]: p["containerPort"] for p in only_container(pod["spec"])["ports"]}
    assert container_ports[port["targetPort"]] == 8000
    for consumer in (*CONSUMERS, "gateway"):
        metrics = rendered.get("Service", f"intake-{consumer}-metrics")
        labels = rendered.deployment(consumer)["spec"]["template"]["metadata"]["labels"]
        assert selects({"matchLabels": metrics["spec"]["selector"]}, labels)
        assert metrics["spec"]["ports"][0]["targetPort"] == "metrics"


# -- settings ------------------------------------------------------------------------------


def workload_settings(
    rendered: Rendered,
) -> Iterator[tuple[str, type[BaseSettings], dict[str, str]]]:
    for service in SERVICES:
        container = only_container(rendered.deployment(service)["spec"]["template"]["spec"])
        yield service, settings_class(service), rendered.env(container)
    for container in rendered.get("Job", "intake-migrations")["spec"]["template"]["spec"][
        "containers"
    ]:
        yield container["name"], PostgresSettings, rendered.env(container)
    topics_job = rendered.get("Job", "intake-topics")["spec"]["template"]["spec"]
    yield "intake-topics", ServiceSettings, rendered.env(only_container(topics_job))


def test_every_variable_given_is_one_the_process_reads(rendered: Rendered) -> None:
    for name, settings, env in workload_settings(rendered):
        unknown = set(env) - aliases(settings)
        assert not unknown, f"{name} is given variables it never reads: {unknown}"


def test_every_process_starts_in_production_mode_with_what_it_needs(
    rendered: Rendered, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, settings, env in workload_settings(rendered):
        assert env["INTAKE_ENV"] == "production", name
        needed = {
            variable for field, variable in INFRASTRUCTURE.items() if field in settings.model_fields
        }
        # No endpoint and no keys: AWS itself, with the service account's role; no JWT secret:
        # RS256 (checked below).
        needed -= {
            "AWS_ENDPOINT_URL",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "INTAKE_JWT_SECRET",
        }
        assert needed <= set(env), f"{name} lacks {needed - set(env)}"
        with monkeypatch.context() as patched:
            for variable in aliases(settings) | set(env):  # nothing from the developer's shell
                patched.delenv(variable, raising=False)
            for variable, value in env.items():
                patched.setenv(variable, value)
            loaded = settings()  # raises on a value its settings refuse
        refusals = getattr(loaded, "refusals", None)  # production checks, where present
        if refusals is not None:
            assert refusals() == [], name


def test_storage_services_use_the_role_of_their_service_account(rendered: Rendered) -> None:
    gateway = rendered.deployment("gateway")["spec"]["template"]["spec"]
    origins = rendered.env(only_container(gateway))["INTAKE_CORS_ORIGINS"]
    for service in STORAGE:
        pod = rendered.deployment(service)["spec"]["template"]["spec"]
        env = rendered.env(only_container(pod))
        assert env["INTAKE_CORS_ORIGINS"] == origins, "the bucket's CORS rule as the gateway's"
        assert not {"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} & set(env)
        assert {"AWS_BUCKET", "AWS_REGION", "AWS_EXPECTED_BUCKET_OWNER"} <= set(env)


def test_each_service_runs_as_its_own_service_account_with_its_own_s3_role(
    rendered: Rendered,
) -> None:
    """The role is the one deploy/iam/<service>.json is attached to and the bucket policy
    names; the gateway and audit have no S3 role at all."""
    bucket_policy = json.dumps(s3_iam.render("bucket-policy", "intake-uploads"))
    for service in STORAGE:
        pod = rendered.deployment(service)["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == f"intake-{service}"
        account = rendered.get("ServiceAccount", pod["serviceAccountName"])
        role = account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
        assert re.fullmatch(rf"arn:aws:iam::\d{{12}}:role/intake-{service}", role), role
        assert f":role/intake-{service}" in bucket_policy
    for service in ("gateway", "audit"):
        pod = rendered.deployment(service)["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == f"intake-{service}"
        account = rendered.get("ServiceAccount", pod["serviceAccountName"])
        assert not account["metadata"].get("annotations"), f"{service} needs no S3 role"
        env = rendered.env(only_container(pod))
        assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ROLE_ARN"} & set(env)


def test_the_gateway_checks_tokens_like_production_requires(rendered: Rendered) -> None:
    env = rendered.env(only_container(rendered.deployment("gateway")["spec"]["template"]["spec"]))
    assert env["INTAKE_JWT_ISSUER"]
    assert env["INTAKE_JWT_AUDIENCE"]
    assert env["INTAKE_CORS_ORIGINS"].startswith("https://")
    if env.get("INTAKE_JWT_ALGORITHM", "HS256") == "RS256":
        assert env.get("INTAKE_JWT_JWKS_URL", "").startswith("https://") or env.get(
            "INTAKE_JWT_PUBLIC_KEY"
        )
    else:
        assert len(env.get("INTAKE_JWT_SECRET", "").encode()) >= 32


def test_secrets_hold_placeholders_only(rendered: Rendered) -> None:
    secrets = rendered.of_kind("Secret")
    kafka = {f"intake-{s}-kafka" for s in SERVICES} | {"intake-kafka-admin", "intake-kafka-ops"}
    expected = {f"intake-{service}-database" for service in CONSUMERS} | kafka
    # Production renders none: a placeholder applied there would overwrite the real Secret.
    assert {s["metadata"]["name"] for s in secrets} == expected - set(
        rendered.secrets_from_the_cluster
    )
    assert set(rendered.secrets_from_the_cluster) in (set(), expected)
    for secret in secrets:
        values = rendered.data("Secret", secret["metadata"]["name"])
        if secret["metadata"]["name"] in kafka:
            assert "REPLACE-ME" in values["KAFKA_SASL_PASSWORD"]
            continue
        for value in values.values():
            assert "REPLACE-ME" in value
            hosts = re.findall(r"@([^:/?]+)", value)
            assert hosts, value
            assert all(host.endswith(".invalid") for host in hosts), value
    for config in rendered.of_kind("ConfigMap"):
        for key in config["data"]:
            assert not re.search(r"SECRET|PASSWORD|ACCESS_KEY|DATABASE_URL", key), key


# -- jobs ----------------------------------------------------------------------------------


def test_the_jobs_run_the_setup_commands_once_per_schema(rendered: Rendered) -> None:
    migrations = rendered.get("Job", "intake-migrations")["spec"]["template"]["spec"]
    commands = {c["name"]: c["command"] for c in migrations["containers"]}
    assert sorted(commands.values()) == sorted(
        ["intake-ops", "migrate", service] for service in setup.MIGRATING_SERVICES
    )
    for container in migrations["containers"]:
        service = container["command"][-1]
        secrets = [s["secretRef"]["name"] for s in container["envFrom"] if "secretRef" in s]
        assert secrets == [f"intake-{service}-database"], "each schema with its own role"
        cli.parse_args(container["command"][1:])  # the command line the CLI accepts
    topics_job = only_container(rendered.get("Job", "intake-topics")["spec"]["template"]["spec"])
    assert topics_job["command"] == ["intake-ops", "provision-topics"]
    cli.parse_args(topics_job["command"][1:])
    runtime = tomllib.loads((ROOT / "libs" / "runtime" / "pyproject.toml").read_text())
    assert "intake-ops" in runtime["project"]["scripts"]
    for job in rendered.of_kind("Job"):
        assert job["spec"]["template"]["spec"]["restartPolicy"] in {"OnFailure", "Never"}
        assert job["spec"]["backoffLimit"] >= 1
        assert job["spec"]["activeDeadlineSeconds"] > 0


# -- Kafka principals ----------------------------------------------------------------------


def secret_refs(container: dict[str, Any]) -> set[str]:
    return {s["secretRef"]["name"] for s in container.get("envFrom", []) if "secretRef" in s}


def test_every_process_reaches_kafka_as_its_own_principal_over_tls(rendered: Rendered) -> None:
    common = rendered.common()
    assert common["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert common["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    kafka_secrets = {f"intake-{service}-kafka" for service in SERVICES}
    for service in SERVICES:
        container = only_container(rendered.deployment(service)["spec"]["template"]["spec"])
        assert secret_refs(container) & (kafka_secrets | {"intake-kafka-admin"}) == {
            f"intake-{service}-kafka"
        }, service
        assert rendered.env(container)["KAFKA_SASL_USERNAME"], service
    topics_job = only_container(rendered.get("Job", "intake-topics")["spec"]["template"]["spec"])
    assert "intake-kafka-admin" in secret_refs(topics_job), "topics and ACLs need the admin"
    for container in rendered.get("Job", "intake-migrations")["spec"]["template"]["spec"][
        "containers"
    ]:
        assert not secret_refs(container) & (kafka_secrets | {"intake-kafka-admin"})


def test_keda_reads_the_lag_with_sasl_over_tls(rendered: Rendered) -> None:
    [auth] = rendered.of_kind("TriggerAuthentication")
    assert auth["apiVersion"] == KEDA
    refs = {ref["parameter"]: ref for ref in auth["spec"]["secretTargetRef"]}
    assert set(refs) == {"username", "password", "sasl", "tls"}
    secret = rendered.data("Secret", refs["sasl"]["name"])
    assert secret[refs["sasl"]["key"]] == "scram_sha512"
    assert secret[refs["tls"]["key"]] == "enable"
    for scaled in rendered.of_kind("ScaledObject"):
        for trigger in scaled["spec"]["triggers"]:
            assert trigger["authenticationRef"] == {"name": auth["metadata"]["name"]}


# -- scaling -------------------------------------------------------------------------------


def test_every_consumer_group_scales_on_its_lag_within_its_partitions(rendered: Rendered) -> None:
    common = rendered.common()
    partitions = int(common["INTAKE_TOPIC_PARTITIONS"])
    assert partitions == 12
    assert int(common["INTAKE_TOPIC_REPLICATION"]) >= 3, "one lost broker must lose no message"
    # The scalers watch the plain group names: a namespace would prefix them.
    assert common.get("INTAKE_NAMESPACE", "") == ""
    triggers: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for scaled in rendered.of_kind("ScaledObject"):
        for trigger in scaled["spec"]["triggers"]:
            assert trigger["type"] == "kafka"
            group = trigger["metadata"]["consumerGroup"]
            assert group not in triggers, f"{group} has two scalers"
            triggers[group] = (scaled, trigger)
    assert set(triggers) == set(CONSUMER_GROUPS), "a scaler per consumer group, and no other"
    for group, (service, group_topics, workers_field) in CONSUMER_GROUPS.items():
        scaled, trigger = triggers[group]
        metadata = trigger["metadata"]
        assert scaled["spec"]["scaleTargetRef"]["name"] == f"intake-{service}", group
        assert metadata["bootstrapServers"] == common["KAFKA_BOOTSTRAP_SERVERS"], group
        if len(group_topics) == 1:
            assert metadata["topic"] == group_topics[0], group
        else:
            assert "topic" not in metadata, f"{group} reads {len(group_topics)} topics"
        assert metadata.get("allowIdleConsumers", "false") == "false"
        assert metadata["offsetResetPolicy"] == "earliest"  # as the services' consumers
        assert int(metadata["lagThreshold"]) >= 1
        # The consumers one pod adds to the group; more than the partitions would sit idle.
        settings = settings_class(service)
        container = only_container(rendered.deployment(service)["spec"]["template"]["spec"])
        consumers = 1
        if workers_field:
            field = settings.model_fields[workers_field]
            env = rendered.env(container)
            consumers = int(env.get(str(field.alias), field.default))
        maximum = scaled["spec"]["maxReplicaCount"]
        assert maximum <= partitions
        assert maximum * consumers <= partitions, f"{group}: {maximum} pods x {consumers}"


def test_scalers_are_well_formed_keda_objects(rendered: Rendered) -> None:
    for scaled in rendered.of_kind("ScaledObject"):
        spec = scaled["spec"]
        assert scaled["apiVersion"] == KEDA
        assert set(spec) <= {
            "scaleTargetRef",
            "minReplicaCount",
            "maxReplicaCount",
            "pollingInterval",
            "cooldownPeriod",
            "advanced",
            "triggers",
            "fallback",
        }
        # Commands wait for these consumers: never scaled to zero.
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
        for trigger in spec["triggers"]:
            assert all(isinstance(value, str) for value in trigger["metadata"].values()), (
                "KEDA trigger metadata is a map of strings"
            )
        deployment = rendered.get("Deployment", spec["scaleTargetRef"]["name"])
        assert "replicas" not in deployment["spec"], "the scaler owns the replica count"
    assert "replicas" not in rendered.deployment("gateway")["spec"]
    assert rendered.get("HorizontalPodAutoscaler", "intake-gateway")["spec"]["minReplicas"] >= 1


# -- network -------------------------------------------------------------------------------


def policies_for(
    rendered: Rendered, labels: dict[str, str], direction: str
) -> list[dict[str, Any]]:
    return [
        policy["spec"]
        for policy in rendered.of_kind("NetworkPolicy")
        if direction in policy["spec"]["policyTypes"]
        and selects(policy["spec"]["podSelector"], labels)
    ]


def test_only_the_gateway_is_reachable_from_outside(rendered: Rendered) -> None:
    denying = [
        p["spec"]
        for p in rendered.of_kind("NetworkPolicy")
        if p["spec"]["podSelector"] == {}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    ]
    assert denying, "no default deny"
    assert set(denying[0]["policyTypes"]) == {"Ingress", "Egress"}
    for obj, _ in rendered.workloads():
        name = obj["metadata"]["name"]
        labels = obj["spec"]["template"]["metadata"]["labels"]
        rules = [
            rule
            for spec in policies_for(rendered, labels, "Ingress")
            for rule in spec.get("ingress", [])
        ]
        if name == "intake-gateway":
            open_rules = [rule for rule in rules if not rule.get("from")]
            assert [rule["ports"] for rule in open_rules] == [[{"port": 8000, "protocol": "TCP"}]]
            continue
        for rule in rules:
            assert rule.get("from"), f"{name} admits anyone"
            for peer in rule["from"]:
                assert set(peer) == {"namespaceSelector"}, f"{name}: {peer}"
                assert peer["namespaceSelector"] == {
                    "matchLabels": {"kubernetes.io/metadata.name": "monitoring"}
                }
            assert rule["ports"] == [{"port": 8100, "protocol": "TCP"}], name
        if obj["kind"] == "Job":
            assert not rules, f"{name} accepts connections"


def test_egress_is_limited_to_kafka_postgres_https_and_dns(rendered: Rendered) -> None:
    kafka, postgres, https, dns = 9092, 5432, 443, 53
    expected = {
        "intake-gateway": {kafka, https, dns},  # JWKS over HTTPS
        "intake-initiation": {kafka, postgres, https, dns},
        "intake-completion": {kafka, postgres, https, dns},
        "intake-cleanup": {kafka, postgres, https, dns},
        "intake-audit": {kafka, postgres, dns},
        "intake-migrations": {postgres, dns},
        "intake-topics": {kafka, dns},
    }
    for obj, _ in rendered.workloads():
        name = obj["metadata"]["name"]
        labels = obj["spec"]["template"]["metadata"]["labels"]
        ports: set[int] = set()
        for spec in policies_for(rendered, labels, "Egress"):
            for rule in spec.get("egress", []):
                assert rule.get("to"), f"{name}: egress to anywhere"
                assert rule.get("ports"), f"{name}: egress on any port"
                ports |= {port["port"] for port in rule["ports"]}
                for peer in rule["to"]:
                    if "ipBlock" in peer and peer["ipBlock"]["cidr"] == "0.0.0.0/0":
                        assert "169.254.169.254/32" in peer["ipBlock"]["except"], name
        assert ports == expected[name], name
