"""deploy/iam/: the documents render for any bucket, stay inside Intake's prefixes, and derive
the local S3's configuration without granting what AWS would refuse."""

import json
import stat
from pathlib import Path

import pytest
import s3_iam

BUCKET = "acme-intake"
OBJECT_PREFIXES = ("temp/uploads/*", "tenants/*")


def resources(document: dict[str, object]) -> list[str]:
    found: list[str] = []
    for statement in document["Statement"]:  # type: ignore[attr-defined]
        for field in ("Resource", "NotResource"):
            value = statement.get(field, [])
            found += [value] if isinstance(value, str) else value
    return found


@pytest.mark.parametrize("name", [*s3_iam.SERVICES, "bucket-policy"])
def test_every_document_renders_with_no_placeholder_left(name: str) -> None:
    text = json.dumps(s3_iam.render(name, BUCKET, "123456789012"))
    assert s3_iam.BUCKET_TOKEN not in text
    assert s3_iam.ACCOUNT_TOKEN not in text
    assert json.loads(text)["Version"] == "2012-10-17"


@pytest.mark.parametrize("service", s3_iam.SERVICES)
def test_a_service_reaches_only_its_buckets_and_intakes_prefixes(service: str) -> None:
    """Bucket ARNs: the shared bucket and the per-tenant `{AWS_BUCKET}-{tenant}`; object ARNs
    only under temp/uploads/ and tenants/. ListAllMyBuckets takes no resource but `*`."""
    buckets = {f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}-*"}
    objects = {f"{bucket}/{prefix}" for bucket in buckets for prefix in OBJECT_PREFIXES}
    for resource in resources(s3_iam.render(service, BUCKET)):
        assert resource in buckets | objects | {"*"}, resource
    document = s3_iam.render(service, BUCKET)
    for statement in document["Statement"]:
        if statement["Resource"] == "*":
            assert statement["Action"] == "s3:ListAllMyBuckets"
        assert statement["Effect"] == "Allow"
        assert not any("*" in action for action in s3_iam._listed(statement["Action"]))


def test_the_gateway_and_audit_have_no_policy() -> None:
    for service in s3_iam.NO_S3:
        with pytest.raises(ValueError, match="no policy document"):
            s3_iam.render(service, BUCKET)


def test_the_local_copy_denies_what_seaweedfs_would_grant_with_put_object() -> None:
    """SeaweedFS lets PutObject abort and list parts on the same keys: completion may write
    temp/uploads/ (to complete uploads) but not abort there, and tenants/ but not list parts."""
    local = s3_iam.seaweed_policy(s3_iam.render("completion", BUCKET))
    denies = {
        statement["Action"]: statement["Resource"]
        for statement in local["Statement"]
        if statement["Effect"] == "Deny"
    }
    assert denies == {
        "s3:AbortMultipartUpload": [
            f"arn:aws:s3:::{BUCKET}-*/temp/uploads/*",
            f"arn:aws:s3:::{BUCKET}/temp/uploads/*",
        ],
        "s3:ListMultipartUploadParts": [
            f"arn:aws:s3:::{BUCKET}-*/tenants/*",
            f"arn:aws:s3:::{BUCKET}/tenants/*",
        ],
    }
    initiation = s3_iam.render("initiation", BUCKET)
    assert s3_iam.seaweed_policy(initiation) == initiation, "it may abort and list its uploads"


def test_the_local_bucket_policy_names_identities_and_narrows_put_denies() -> None:
    local = s3_iam.seaweed_bucket_policy(s3_iam.render("bucket-policy", BUCKET))
    text = json.dumps(local)
    assert ":role/" not in text
    assert f"arn:aws:iam::{s3_iam.LOCAL_ACCOUNT}:user/intake-initiation" in text
    assert "aws:SecureTransport" not in text, "the local S3 speaks HTTP on loopback"
    for statement in local["Statement"]:
        if statement["Action"] == "s3:PutObject":
            assert statement["Condition"]["StringEquals"]["s3:RequestMethod"] == ["PUT", "POST"]


def test_a_put_deny_beside_other_actions_is_refused() -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Mixed", "Effect": "Deny", "Action": ["s3:PutObject", "s3:DeleteObject"]}
        ],
    }
    with pytest.raises(ValueError, match="Mixed"):
        s3_iam.seaweed_bucket_policy(document)


def test_service_keys_are_made_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "seaweedfs" / "service-keys.json"
    made = s3_iam.service_keys(path)
    assert set(made) == set(s3_iam.SERVICES)
    assert len({keys["access_key"] for keys in made.values()}) == len(s3_iam.SERVICES)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert s3_iam.service_keys(path) == made


def test_the_local_s3_holds_one_identity_per_service_with_only_its_policy() -> None:
    admin = {"access_key": "admin-key", "secret_key": "admin-secret"}
    keys = {s: {"access_key": f"{s}-key", "secret_key": f"{s}-secret"} for s in s3_iam.SERVICES}
    config = s3_iam.seaweed_config(admin, keys, BUCKET)
    by_name = {identity["name"]: identity for identity in config["identities"]}
    assert set(by_name) == {"intake", *(f"intake-{s}" for s in s3_iam.SERVICES)}
    for service in s3_iam.SERVICES:
        identity = by_name[f"intake-{service}"]
        assert identity["policyNames"] == [f"intake-{service}"]
        assert "actions" not in identity, "legacy actions would bypass the policy"
    policies = {policy["name"]: json.loads(policy["content"]) for policy in config["policies"]}
    assert policies["intake-cleanup"] == s3_iam.seaweed_policy(s3_iam.render("cleanup", BUCKET))
