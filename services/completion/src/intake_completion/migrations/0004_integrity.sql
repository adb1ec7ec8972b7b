-- What complete checked: the temp object's ETag (promotion copies only that object, with
-- CopySourceIfMatch) and S3's checksum in the declared algorithm; and when promotion found the
-- temp object changed since (the Asset then never gets bytes at its permanent key).
ALTER TABLE assets ADD COLUMN etag text;
ALTER TABLE assets ADD COLUMN checksum_algorithm text;
ALTER TABLE assets ADD COLUMN checksum text;
ALTER TABLE assets ADD COLUMN integrity_failed_at timestamptz;
