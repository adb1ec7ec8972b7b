-- The checksum algorithm a session declared (its part URLs sign each part's checksum) and the
-- whole file's checksum in that algorithm (base64, as S3 spells it), when declared.
ALTER TABLE upload_sessions ADD COLUMN checksum_algorithm text
    CHECK (checksum_algorithm IN ('SHA256', 'CRC32C', 'CRC64NVME'));
ALTER TABLE upload_sessions ADD COLUMN checksum text;
