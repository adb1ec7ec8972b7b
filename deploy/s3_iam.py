"""S3 identities: the AWS policy documents of deploy/iam/, rendered for a bucket, and the
SeaweedFS configuration the local stack derives from them.

    python3 deploy/s3_iam.py render initiation|completion|cleanup|bucket-policy
                             --bucket NAME [--account ID]
    python3 deploy/s3_iam.py compose-config > deploy/compose/s3.json

The documents are the single source: AWS gets them rendered (deploy/iam/README.md), and the
local S3 gets the same statements plus what SeaweedFS needs to refuse what AWS refuses (see
`seaweed_policy` and `seaweed_bucket_policy`). Standard library only: native_stack.py runs
before any virtualenv exists.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

IAM_DIR = Path(__file__).resolve().parent / "iam"
# Each service with S3 access, under its role (AWS) or identity (local S3) `intake-<service>`.
# The gateway and audit have no S3 identity at all.
SERVICES = ("initiation", "completion", "cleanup")
NO_S3 = ("gateway", "audit")
# Placeholders of the documents, not secrets.
BUCKET_TOKEN = "INTAKE_BUCKET"  # noqa: S105
ACCOUNT_TOKEN = "AWS_ACCOUNT_ID"  # noqa: S105
# The account the local S3 puts Intake's identities in (their principal ARNs name it).
LOCAL_ACCOUNT = "000000000000"
# SeaweedFS lets s3:PutObject also do these on the same keys; AWS does not (they are actions
# of their own there). Where a document grants PutObject but not one of them, the local copy
# denies it explicitly.
IMPLIED_BY_PUT = ("s3:AbortMultipartUpload", "s3:ListMultipartUploadParts")

Document = dict[str, Any]


def role(service: str) -> str:
    return f"intake-{service}"


def render(name: str, bucket: str, account: str = LOCAL_ACCOUNT) -> Document:
    """deploy/iam/<name>.json with the bucket (and account) filled in.

    Raises:
        ValueError: no such document.
    """
    path = IAM_DIR / f"{name}.json"
    if not path.is_file():
        raise ValueError(f"no policy document {name!r} in {IAM_DIR}")
    text = path.read_text().replace(BUCKET_TOKEN, bucket).replace(ACCOUNT_TOKEN, account)
    document: Document = json.loads(text)
    return document


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def seaweed_policy(document: Document) -> Document:
    """The identity policy as SeaweedFS must hold it to refuse what AWS refuses: SeaweedFS
    treats s3:PutObject as granting AbortMultipartUpload and ListMultipartUploadParts on the
    same keys, so each of those a document does not grant where it grants PutObject is denied
    explicitly."""
    allowed: dict[str, set[str]] = {}
    for statement in document["Statement"]:
        if statement["Effect"] == "Allow":
            for action in _listed(statement["Action"]):
                allowed.setdefault(action, set()).update(_listed(statement.get("Resource", [])))
    denies = []
    for action in IMPLIED_BY_PUT:
        extra = sorted(allowed.get("s3:PutObject", set()) - allowed.get(action, set()))
        if extra:
            denies.append(
                {
                    "Sid": f"LocalS3Only{action.removeprefix('s3:')}",
                    "Effect": "Deny",
                    "Action": action,
                    "Resource": extra,
                }
            )
    return {**document, "Statement": [*document["Statement"], *denies]}


def seaweed_bucket_policy(document: Document) -> Document:
    """The bucket policy as the local S3 holds it.

    - Its principals are identities (users), not roles.
    - The statement on aws:SecureTransport is left out: the local S3 speaks plain HTTP on
      loopback, and it would refuse every request.
    - A Deny of s3:PutObject is narrowed to the requests that write (PUT, POST): SeaweedFS
      would otherwise deny every multipart action with it, AbortMultipartUpload and
      ListMultipartUploadParts included, which AWS keeps apart from PutObject.

    Raises:
        ValueError: a Deny names s3:PutObject beside other actions (split it).
    """
    statements = []
    for statement in document["Statement"]:
        if "aws:SecureTransport" in json.dumps(statement.get("Condition", {})):
            continue
        local: Document = json.loads(
            json.dumps(statement).replace(":role/intake-", ":user/intake-")
        )
        actions = _listed(local["Action"])
        if local["Effect"] == "Deny" and "s3:PutObject" in actions:
            if actions != ["s3:PutObject"]:
                raise ValueError(f"{local.get('Sid')}: deny s3:PutObject in a statement of its own")
            condition = local.setdefault("Condition", {})
            condition.setdefault("StringEquals", {})["s3:RequestMethod"] = ["PUT", "POST"]
        statements.append(local)
    return {**document, "Statement": statements}


def service_keys(path: Path) -> dict[str, dict[str, str]]:
    """Each service's access key and secret, made once under the state folder (never in
    the repo) and read back afterwards."""
    if path.exists():
        keys: dict[str, dict[str, str]] = json.loads(path.read_text())
        if set(keys) == set(SERVICES):
            return keys
    keys = {
        service: {
            "access_key": f"{role(service)}-{secrets.token_hex(6)}",
            "secret_key": secrets.token_urlsafe(30),
        }
        for service in SERVICES
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(json.dumps(keys, indent=2) + "\n")
    return keys


def seaweed_config(
    admin: Mapping[str, str], keys: Mapping[str, Mapping[str, str]], bucket: str
) -> Document:
    """The s3.json of the local S3: the stack's admin identity (the stack's own set-up and the
    tests' inspection; no service runs with it) and one identity per service holding only its
    policy, derived from deploy/iam/."""
    account = {"id": LOCAL_ACCOUNT, "displayName": "intake"}
    admin_identity = {
        "name": "intake",
        # One account, as on AWS: what one identity started (a multipart upload) another may
        # finish or abort, as its policy allows.
        "account": account,
        "credentials": [{"accessKey": admin["access_key"], "secretKey": admin["secret_key"]}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    services = [
        {
            "name": role(service),
            "account": account,
            "credentials": [
                {"accessKey": keys[service]["access_key"], "secretKey": keys[service]["secret_key"]}
            ],
            "policyNames": [role(service)],
        }
        for service in SERVICES
    ]
    policies = [
        {"name": role(service), "content": json.dumps(seaweed_policy(render(service, bucket)))}
        for service in SERVICES
    ]
    return {"identities": [admin_identity, *services], "policies": policies}


# LOCAL DEVELOPMENT DEFAULTS for docker-compose (deploy/compose/s3.json), not secrets: the
# native stack makes random keys instead (service_keys).
COMPOSE_ADMIN = {"access_key": "intake-dev-access-key", "secret_key": "intake-dev-secret-key"}
COMPOSE_KEYS = {
    service: {
        "access_key": f"intake-dev-{service}-key",
        "secret_key": f"intake-dev-{service}-secret",
    }
    for service in SERVICES
}
COMPOSE_BUCKET = "intake-uploads"


def set_up_bucket(client: Any, bucket: str) -> None:
    """Create the shared bucket when missing and give it the local bucket policy (a boto3
    client with the admin identity)."""
    names = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    if bucket not in names:
        client.create_bucket(Bucket=bucket)
    policy = seaweed_bucket_policy(render("bucket-policy", bucket))
    client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))


def _set_up_compose_bucket() -> int:  # pragma: no cover - runs in the compose set-up container
    """The compose stack's one-shot set-up: its S3 from the environment, retried until ready."""
    import time  # noqa: PLC0415

    import boto3  # noqa: PLC0415 - only where boto3 is installed

    client = boto3.client(
        "s3",
        endpoint_url=os.environ["AWS_ENDPOINT_URL"],
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
    )
    stop_at = time.monotonic() + 120
    while True:
        try:
            set_up_bucket(client, os.environ.get("AWS_BUCKET", COMPOSE_BUCKET))
        except Exception as error:
            if time.monotonic() > stop_at:
                print(f"s3 set-up failed: {error}", file=sys.stderr)
                return 1
            time.sleep(1)
        else:
            return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Render a policy document of deploy/iam/.")
    sub = parser.add_subparsers(dest="command", required=True)
    rendering = sub.add_parser("render")
    rendering.add_argument("name", choices=[*SERVICES, "bucket-policy"])
    rendering.add_argument("--bucket", default=os.environ.get("AWS_BUCKET", "intake-uploads"))
    rendering.add_argument("--account", default=LOCAL_ACCOUNT, help="the roles' AWS account")
    sub.add_parser("compose-config", help="deploy/compose/s3.json (local development keys)")
    sub.add_parser("set-up-bucket", help="create the bucket, set its policy (compose)")
    args = parser.parse_args(argv)
    if args.command == "compose-config":
        config = seaweed_config(COMPOSE_ADMIN, COMPOSE_KEYS, COMPOSE_BUCKET)
        print(json.dumps(config, indent=2))
        return 0
    if args.command == "set-up-bucket":
        return _set_up_compose_bucket()
    print(json.dumps(render(args.name, args.bucket, args.account), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
