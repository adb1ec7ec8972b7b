"""presign.py signs exactly what botocore signs for the same inputs and instant."""

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aioboto3
import pytest
from botocore.config import Config

from intake_runtime.storage import presign

KEYS = ["temp/uploads/abc/original", "k/x y+é~!*'()/ä.png", "a//b/~c"]


async def _botocore(endpoint_url: str | None, token: str | None, op: str, params: Any) -> str:
    session = aioboto3.Session(
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret/key+example",
        aws_session_token=token,
        region_name="eu-central-1",
    )
    style = "path" if endpoint_url else "virtual"
    config = Config(signature_version="s3v4", s3={"addressing_style": style})
    async with session.client("s3", endpoint_url=endpoint_url, config=config) as client:
        url: str = await client.generate_presigned_url(op, Params=params, ExpiresIn=900)
        return url


def _date(url: str) -> datetime:
    stamp = parse_qs(urlsplit(url).query)["X-Amz-Date"][0]
    return datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


# A botocore operation's parameters beyond Bucket and Key, and what presign.py signs for it:
# the headers and the query parameters.
OPERATIONS = {
    "put_object": (
        {"ContentType": "image/png; q=1", "ContentLength": 7},
        {"content-length": "7", "content-type": "image/png; q=1"},
        [],
    ),
    "upload_part": (
        {"UploadId": "up/+=id", "PartNumber": 12, "ContentLength": 5},
        {"content-length": "5"},
        [("uploadId", "up/+=id"), ("partNumber", "12")],
    ),
}


@pytest.mark.parametrize("endpoint_url", ["http://127.0.0.1:18333", None])
@pytest.mark.parametrize("token", [None, "session/token+="])
@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("operation", OPERATIONS)
async def test_put_and_part_urls_equal_botocores_for_the_same_instant(
    endpoint_url: str | None, token: str | None, key: str, operation: str
) -> None:
    params, headers, query = OPERATIONS[operation]
    expected = await _botocore(
        endpoint_url, token, operation, {"Bucket": "intake-uploads", "Key": key, **params}
    )
    endpoint = presign.Endpoint.learn(expected, key)
    assert endpoint.region == "eu-central-1"
    ours = presign.presign(
        endpoint,
        presign.Credentials("AKIDEXAMPLE", "secret/key+example", token),
        key,
        now=_date(expected),
        expires_s=900,
        headers=headers,
        params=query,
    )
    assert ours == expected


def test_an_url_of_another_key_teaches_nothing() -> None:
    url = (
        "http://s3.local/bucket/other?X-Amz-Credential=a%2F20260101%2Fus-east-1%2Fs3%2Faws4_request"
    )
    with pytest.raises(ValueError, match="key"):
        presign.Endpoint.learn(url, "mine")
    assert presign.Endpoint.learn(url, "other").prefix == "/bucket/"
