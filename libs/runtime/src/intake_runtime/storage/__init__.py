"""S3 access. Needs the `s3` extra (aioboto3)."""
