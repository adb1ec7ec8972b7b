"""What the tests read from S3 directly."""

from typing import Any

from botocore.exceptions import ClientError

_ABSENT = frozenset({"404", "NoSuchKey", "NotFound"})


def exists(s3: Any, bucket: str, key: str) -> bool:
    """Whether the object is there. Only S3's own "no such key" means absent: a 403 or a 503
    is an error of the test's, never a proof that something was deleted."""
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response["Error"]["Code"] in _ABSENT:
            return False
        raise
    return True
